#include "kettle/auth/credentials_file.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "json_fields.hpp"
#include "kettle/auth/authorized_user.hpp"
#include "kettle/auth/service_account.hpp"

namespace kettle::auth {

namespace json = boost::json;

namespace {

constexpr std::string_view kKinds =
    "use a service-account key (\"service_account\") or the file `gcloud auth "
    "application-default login` writes (\"authorized_user\")";

SetupError file_error(const std::string& origin, const std::string& what) {
  return SetupError{"credentials file " + origin + ": " + what};
}

}  // namespace

SetupResult<std::string> read_credentials_file(const std::string& path, const std::string& origin) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return file_error(origin, "is a directory, not a file");
  std::ifstream file(path, std::ios::binary);
  if (!file) return file_error(origin, std::string("cannot open: ") + std::strerror(errno));
  std::string text(kCredentialsFileLimit + 1, '\0');
  file.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (file.bad()) return file_error(origin, "cannot read");
  text.resize(static_cast<std::size_t>(file.gcount()));
  if (text.size() > kCredentialsFileLimit)
    return file_error(origin, "larger than " + std::to_string(kCredentialsFileLimit) +
                                  " bytes, not a credentials file");
  // In place: SetupError is built from a string too, so plain `return text` is ambiguous.
  return SetupResult<std::string>(boost::system::in_place_value, std::move(text));
}

SetupResult<std::shared_ptr<Credentials>> make_file_credentials(net::HttpClient& client,
                                                                std::string_view text,
                                                                const std::string& origin,
                                                                Config config) {
  // Only the type is read here; the parser of that type checks the rest.
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec)
    return file_error(origin, "not valid JSON (" + ec.message() + "); " + std::string(kKinds));
  if (!value.is_object()) return file_error(origin, "not a JSON object; " + std::string(kKinds));
  auto type = detail::string_field(value.as_object(), "type");
  if (!type) return file_error(origin, "no \"type\" field; " + std::string(kKinds));

  if (*type == "service_account") {
    auto key = parse_service_account_key(text, origin);
    if (!key) return key.error();
    return make_service_account_credentials(client, std::move(*key), std::move(config));
  }
  if (*type == "authorized_user") {
    auto user = parse_authorized_user(text, origin);
    if (!user) return user.error();
    return make_authorized_user_credentials(client, std::move(*user), std::move(config));
  }
  return file_error(origin, "type \"" + *type + "\" is not supported; " + std::string(kKinds));
}

}  // namespace kettle::auth
