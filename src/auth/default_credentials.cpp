#include "kettle/auth/default_credentials.hpp"

#include <cstdlib>
#include <filesystem>

#include "kettle/auth/credentials_file.hpp"
#include "kettle/auth/metadata.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::auth {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kKeyFileVariable = "GOOGLE_APPLICATION_CREDENTIALS";
constexpr std::string_view kMetadataHostVariables[] = {"GCE_METADATA_HOST", "GCE_METADATA_ROOT"};
constexpr std::string_view kWellKnownFileName = "application_default_credentials.json";

// The variable's value; nullopt when unset or empty (as Google's libraries treat it).
std::optional<std::string> lookup(const Environment& environment, std::string_view name) {
  auto value = environment(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

// A credentials file and who named it.
struct CredentialsFile {
  std::string path;
  std::string named_by;  // for messages: the variable, or gcloud's convention
  std::string advice;    // what to do when the file cannot be read
};

// Where gcloud keeps application default credentials; nullopt when neither
// CLOUDSDK_CONFIG nor HOME is set. CLOUDSDK_CONFIG replaces gcloud's whole
// configuration directory, so HOME is not consulted when it is set.
std::optional<CredentialsFile> well_known_file(const Environment& environment) {
  std::filesystem::path directory;
  std::string named_by;
  if (auto config = lookup(environment, "CLOUDSDK_CONFIG")) {
    directory = *config;
    named_by = "gcloud's well-known file, through CLOUDSDK_CONFIG";
  } else if (auto home = lookup(environment, "HOME")) {
    directory = std::filesystem::path(*home) / ".config" / "gcloud";
    named_by = "gcloud's well-known file";
  } else {
    return std::nullopt;
  }
  return CredentialsFile{
      .path = (directory / kWellKnownFileName).string(),
      .named_by = std::move(named_by),
      .advice = "make it readable, or run `gcloud auth application-default login` again"};
}

// Whether the file is there. Any failure to look counts as absent, as in
// Google's libraries: an unreadable HOME (a container running as another
// user) must not stop the metadata server from being used.
bool present(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec) && !ec;
}

SetupResult<std::shared_ptr<Credentials>> file_credentials(net::HttpClient& client,
                                                           const CredentialsFile& file,
                                                           const Config& config) {
  std::string origin = file.path + " (" + file.named_by + ")";
  auto text = read_credentials_file(file.path, origin);
  if (!text) return SetupError{text.error().message + "; " + file.advice};
  auto credentials = make_file_credentials(client, *text, origin, config);
  if (credentials) KLOG(info) << "auth: using " << (*credentials)->description();
  return credentials;
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
  if (auto path = lookup(environment, kKeyFileVariable)) {
    CredentialsFile file{.path = *path,
                         .named_by = std::string(kKeyFileVariable),
                         .advice = "point " + std::string(kKeyFileVariable) +
                                   " at a readable JSON credentials file, or unset it"};
    co_return file_credentials(client, file, config);
  }

  auto gcloud_file = well_known_file(environment);
  if (gcloud_file && present(gcloud_file->path))
    co_return file_credentials(client, *gcloud_file, config);

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

  KLOG(info) << "auth: no credentials found (" << kKeyFileVariable << " unset, "
             << (gcloud_file ? "no " + gcloud_file->path
                             : "no gcloud directory (CLOUDSDK_CONFIG and HOME unset)")
             << ", no metadata server): anonymous access, public buckets only";
  co_return make_anonymous_credentials();
}

}  // namespace kettle::auth
