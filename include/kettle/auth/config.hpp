// Every default, timeout and limit of the credentials code, with its value.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "kettle/net/retry.hpp"

namespace kettle::auth {

// Wall-clock time: JWT iat/exp and token expiry are in seconds since the epoch.
using Clock = std::function<std::chrono::system_clock::time_point()>;

inline constexpr std::string_view kCloudPlatformScope =
    "https://www.googleapis.com/auth/cloud-platform";
inline constexpr std::string_view kDefaultTokenUri = "https://oauth2.googleapis.com/token";
inline constexpr std::string_view kDefaultMetadataHost = "metadata.google.internal";

struct Config {
  std::string scope = std::string(kCloudPlatformScope);  // OAuth scope asked for with a key file
  std::chrono::seconds assertion_lifetime{3600};         // JWT exp - iat (Google's maximum)
  std::chrono::seconds refresh_margin{300};    // refresh this long before expiry; half the
                                               // lifetime instead when that is shorter
  std::chrono::seconds default_lifetime{300};  // assumed when a token answer lacks expires_in

  net::Duration token_timeout = std::chrono::seconds(30);    // one token endpoint attempt
  // Attempts are at most these; fewer when the HTTP client's retry policy
  // (--max-attempts) allows fewer, whose backoff they also follow.
  int token_attempts = 5;                                    // token endpoint tries (5xx, resets)
  net::Duration metadata_timeout = std::chrono::seconds(5);  // one metadata token attempt
  int metadata_attempts = 3;
  // Detection of the default metadata host: one try, short, so machines
  // without a metadata server fall through to anonymous at once.
  net::Duration probe_timeout = std::chrono::milliseconds(1500);
  std::string default_metadata_host =
      std::string(kDefaultMetadataHost);  // tests point it elsewhere

  Clock clock;  // empty: std::chrono::system_clock::now (tests inject a fake)
};

// config.clock, or the system clock when none was set.
std::chrono::system_clock::time_point now(const Config& config);

}  // namespace kettle::auth
