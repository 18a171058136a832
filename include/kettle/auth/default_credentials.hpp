// Application default credentials: the key file, else the metadata server,
// else anonymous, picked from the environment as Google's libraries do.
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
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
// The process environment (getenv).
Environment process_environment();

// 1. GOOGLE_APPLICATION_CREDENTIALS set: that service-account key file; an
//    unreadable or invalid file is an error naming it (no fallback).
// 2. GCE_METADATA_HOST (or GCE_METADATA_ROOT) set: that metadata server.
//    Otherwise config.default_metadata_host when it answers a short probe.
// 3. Anonymous.
// Empty variables count as unset. Logs which source is used, never a secret.
boost::asio::awaitable<SetupResult<std::shared_ptr<Credentials>>> make_default_credentials(
    net::HttpClient& client, Environment environment, Config config = {});

}  // namespace kettle::auth
