#include "kettle/auth/authorized_user.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "json_fields.hpp"
#include "kettle/auth/token_cache.hpp"
#include "kettle/auth/token_response.hpp"
#include "kettle/net/url.hpp"

namespace kettle::auth {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view kType = "authorized_user";
constexpr std::string_view kLoginAdvice = "run `gcloud auth application-default login` again";

SetupError user_error(const std::string& origin, const std::string& what) {
  return SetupError{"authorized_user credentials file " + origin + ": " + what + "; " +
                    std::string(kLoginAdvice)};
}

// A refused refresh token (expired, revoked, password changed) or client
// only a new login cures; the server's reason alone would not say so.
net::Error with_login_advice(net::Error error, const std::string& origin) {
  if (error.status != 400 && error.status != 401) return error;
  while (error.message.ends_with('.')) error.message.pop_back();
  error.message +=
      "; the user credentials in " + origin + " no longer work: " + std::string(kLoginAdvice);
  return error;
}

class AuthorizedUserFetcher final : public TokenFetcher {
 public:
  AuthorizedUserFetcher(net::HttpClient& client, AuthorizedUser user, Config config)
      : client_(client), user_(std::move(user)), config_(std::move(config)) {}

  asio::awaitable<net::Result<AccessToken>> fetch() override {
    net::Request request("POST", user_.token_uri);
    request.api = "oauth";
    request.headers.set("Content-Type", "application/x-www-form-urlencoded");
    request.headers.set("Accept", "application/json");
    request.body = refresh_grant_form(user_);
    request.options.total_timeout = config_.token_timeout;
    request.options.retry = token_retry(client_.config().retry, config_.token_attempts);
    auto response = co_await client_.request(std::move(request));
    if (!response) co_return response.error();
    auto token =
        parse_token_response(*response, user_.token_uri, now(config_), config_.default_lifetime);
    if (!token) co_return with_login_advice(token.error(), user_.origin);
    co_return token;
  }

  // A user file names no account (only gcloud's client id), so the file is
  // what identifies these credentials.
  std::string description() const override { return std::string(kType) + " from " + user_.origin; }

 private:
  net::HttpClient& client_;
  AuthorizedUser user_;
  Config config_;
};

}  // namespace

SetupResult<AuthorizedUser> parse_authorized_user(std::string_view text,
                                                  const std::string& origin) {
  auto parsed = detail::typed_object(text, kType);
  if (!parsed) return user_error(origin, parsed.error());
  const json::object& object = *parsed;

  AuthorizedUser user;
  user.origin = origin;
  // Field names only in these messages: the values are secrets.
  for (auto [field, target] :
       {std::pair{"client_id", &user.client_id}, std::pair{"client_secret", &user.client_secret},
        std::pair{"refresh_token", &user.refresh_token}}) {
    auto found = detail::string_field(object, field);
    if (!found) return user_error(origin, "no \"" + std::string(field) + "\" field");
    *target = std::move(*found);
  }
  user.token_uri =
      detail::string_field(object, "token_uri").value_or(std::string(kDefaultTokenUri));
  if (!net::Url::parse(user.token_uri))
    return user_error(origin, "\"token_uri\" " + user.token_uri + " is not an http(s) URL");
  return user;
}

std::string refresh_grant_form(const AuthorizedUser& user) {
  return "grant_type=refresh_token&client_id=" + net::encode_query_value(user.client_id) +
         "&client_secret=" + net::encode_query_value(user.client_secret) +
         "&refresh_token=" + net::encode_query_value(user.refresh_token);
}

std::shared_ptr<Credentials> make_authorized_user_credentials(net::HttpClient& client,
                                                              AuthorizedUser user, Config config) {
  auto fetcher = std::make_unique<AuthorizedUserFetcher>(client, std::move(user), config);
  return std::make_shared<CachedCredentials>(std::move(fetcher), std::move(config));
}

}  // namespace kettle::auth
