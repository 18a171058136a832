#include "kettle/auth/default_credentials.hpp"

#include <cstdlib>

#include "kettle/auth/metadata.hpp"
#include "kettle/auth/service_account.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::auth {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kKeyFileVariable = "GOOGLE_APPLICATION_CREDENTIALS";
constexpr std::string_view kMetadataHostVariables[] = {"GCE_METADATA_HOST", "GCE_METADATA_ROOT"};

// The variable's value; nullopt when unset or empty (as Google's libraries treat it).
std::optional<std::string> lookup(const Environment& environment, std::string_view name) {
  auto value = environment(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

struct MetadataHost {
  std::string variable;  // where it came from; empty for the default host
  std::string value;
};

std::optional<MetadataHost> configured_metadata_host(const Environment& environment) {
  for (std::string_view variable : kMetadataHostVariables)
    if (auto value = lookup(environment, variable))
      return MetadataHost{std::string(variable), *value};
  return std::nullopt;
}

SetupResult<std::shared_ptr<Credentials>> key_file_credentials(net::HttpClient& client,
                                                               const std::string& path,
                                                               const Config& config) {
  auto key = load_service_account_key(path);
  if (!key) return SetupError{std::string(kKeyFileVariable) + ": " + key.error().message};
  auto credentials = make_service_account_credentials(client, std::move(*key), config);
  KLOG(info) << "auth: using " << credentials->description() << " from " << kKeyFileVariable;
  return credentials;
}

}  // namespace

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

asio::awaitable<SetupResult<std::shared_ptr<Credentials>>> make_default_credentials(
    net::HttpClient& client, Environment environment, Config config) {
  if (auto path = lookup(environment, kKeyFileVariable))
    co_return key_file_credentials(client, *path, config);

  if (auto host = configured_metadata_host(environment)) {
    auto base = metadata_base_url(host->value);
    if (!base)
      co_return SetupError{host->variable + "=" + host->value +
                           " is not a metadata host (expected host[:port] or http://host:port)"};
    auto credentials = make_metadata_credentials(client, *base, config);
    KLOG(info) << "auth: using the " << credentials->description() << " from " << host->variable;
    co_return credentials;
  }

  if (auto base = metadata_base_url(config.default_metadata_host)) {
    bool answers = co_await metadata_server_answers(client, *base, config);
    if (answers) {
      auto credentials = make_metadata_credentials(client, *base, config);
      KLOG(info) << "auth: using the " << credentials->description();
      co_return credentials;
    }
  }

  KLOG(info) << "auth: no credentials found (" << kKeyFileVariable
             << " unset, no metadata server): anonymous access, public buckets only";
  co_return make_anonymous_credentials();
}

}  // namespace kettle::auth
