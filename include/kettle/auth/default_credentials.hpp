// Application default credentials: the file GOOGLE_APPLICATION_CREDENTIALS
// names, else gcloud's well-known file, else the metadata server, else
// anonymous, picked from the environment as Google's libraries do.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kettle/auth/config.hpp"
#include "kettle/auth/credentials.hpp"
#include "kettle/net/http_client.hpp"

namespace kettle::auth {

// Looks up an environment variable; nullopt when unset. Tests pass their own.
// Read: GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_CONFIG, HOME,
// GCE_METADATA_HOST, GCE_METADATA_ROOT.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
// The process environment (getenv).
Environment process_environment();

// 1. GOOGLE_APPLICATION_CREDENTIALS set: that JSON credentials file, a
//    service-account key or an authorized_user file (make_file_credentials);
//    an unreadable or invalid file is an error naming it (no fallback).
// 2. gcloud's well-known file, when it exists:
//    $CLOUDSDK_CONFIG/application_default_credentials.json when CLOUDSDK_CONFIG
//    is set, else $HOME/.config/gcloud/application_default_credentials.json.
//    Usually an authorized_user; a service-account key is accepted too. An
//    invalid file is an error, as in 1.
// 3. GCE_METADATA_HOST (or GCE_METADATA_ROOT) set: that metadata server.
//    Otherwise config.default_metadata_host when it answers a short probe.
// 4. Anonymous.
// Empty variables count as unset. Logs once which source is used, never a
// secret; the credentials' description() names the source too (for hints
// such as "403 with credentials: ...").
boost::asio::awaitable<SetupResult<std::shared_ptr<Credentials>>> make_default_credentials(
    net::HttpClient& client, Environment environment, Config config = {});

}  // namespace kettle::auth
