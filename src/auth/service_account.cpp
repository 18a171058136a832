#include "kettle/auth/service_account.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "json_fields.hpp"
#include "kettle/auth/credentials_file.hpp"
#include "kettle/auth/token_cache.hpp"
#include "kettle/auth/token_response.hpp"
#include "kettle/net/url.hpp"

namespace kettle::auth {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::string_view kJwtBearerForm =
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
constexpr std::string_view kKeyAdvice = "; create a new JSON key for the service account";

SetupError key_error(const std::string& origin, const std::string& what) {
  return SetupError{"service-account key file " + origin + ": " + what + std::string(kKeyAdvice)};
}

using detail::string_field;

class ServiceAccountFetcher final : public TokenFetcher {
 public:
  ServiceAccountFetcher(net::HttpClient& client, ServiceAccountKey key, Config config)
      : client_(client), key_(std::move(key)), config_(std::move(config)) {}

  asio::awaitable<net::Result<AccessToken>> fetch() override {
    auto assertion = make_service_account_assertion(key_, config_);
    if (!assertion)
      co_return net::Error{.kind = net::ErrorKind::invalid_request,
                           .status = 0,
                           .url = key_.token_uri,
                           .message = "cannot sign the JWT with the private key of " + key_.origin,
                           .attempts = 0};
    net::Request request("POST", key_.token_uri);
    request.api = "oauth";
    request.headers.set("Content-Type", "application/x-www-form-urlencoded");
    request.headers.set("Accept", "application/json");
    // base64url and '.' need no form encoding.
    request.body = std::string(kJwtBearerForm) + *assertion;
    request.options.total_timeout = config_.token_timeout;
    request.options.retry = token_retry(client_.config().retry, config_.token_attempts);
    auto response = co_await client_.request(std::move(request));
    if (!response) co_return response.error();
    co_return parse_token_response(*response, key_.token_uri, now(config_),
                                   config_.default_lifetime);
  }

  std::string description() const override {
    return "service account " + key_.client_email + " from " + key_.origin;
  }

 private:
  net::HttpClient& client_;
  ServiceAccountKey key_;
  Config config_;
};

}  // namespace

SetupResult<ServiceAccountKey> parse_service_account_key(std::string_view text,
                                                         const std::string& origin) {
  auto parsed = detail::typed_object(text, "service_account");
  if (!parsed) return key_error(origin, parsed.error());
  const json::object& object = *parsed;

  ServiceAccountKey key;
  key.origin = origin;
  auto email = string_field(object, "client_email");
  if (!email) return key_error(origin, "no \"client_email\" field");
  key.client_email = *email;
  auto pem = string_field(object, "private_key");
  if (!pem) return key_error(origin, "no \"private_key\" field");
  auto signer = RsaSigner::from_pem(*pem);
  if (!signer) return key_error(origin, "\"private_key\" is not a PEM RSA private key");
  key.signer = std::move(*signer);
  key.private_key_id = string_field(object, "private_key_id").value_or("");
  key.project_id = string_field(object, "project_id").value_or("");
  key.token_uri = string_field(object, "token_uri").value_or(std::string(kDefaultTokenUri));
  if (!net::Url::parse(key.token_uri))
    return key_error(origin, "\"token_uri\" " + key.token_uri + " is not an http(s) URL");
  return key;
}

SetupResult<ServiceAccountKey> load_service_account_key(const std::string& path) {
  auto text = read_credentials_file(path, path);
  if (!text) return text.error();
  return parse_service_account_key(*text, path);
}

std::optional<std::string> make_service_account_assertion(const ServiceAccountKey& key,
                                                          const Config& config) {
  return make_jwt_assertion(key.signer, key.private_key_id,
                            JwtClaims{.issuer = key.client_email,
                                      .scope = config.scope,
                                      .audience = key.token_uri,
                                      .issued_at = now(config),
                                      .lifetime = config.assertion_lifetime});
}

std::shared_ptr<Credentials> make_service_account_credentials(net::HttpClient& client,
                                                              ServiceAccountKey key,
                                                              Config config) {
  auto fetcher = std::make_unique<ServiceAccountFetcher>(client, std::move(key), config);
  return std::make_shared<CachedCredentials>(std::move(fetcher), std::move(config));
}

}  // namespace kettle::auth
