// When to retry an HTTP request and how long to wait: pure, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

#include "kettle/net/error.hpp"

namespace kettle::net {

using Duration = std::chrono::steady_clock::duration;

struct RetryConfig {
  int max_attempts = 10;                               // attempts in all, the first included
  Duration initial_backoff = std::chrono::seconds(1);  // ceiling of the first sleep
  Duration max_backoff = std::chrono::seconds(60);     // ceiling of any sleep, Retry-After too
  Duration max_total = std::chrono::minutes(10);  // no sleep ends later than this after the start
};

// 408, 429 and 5xx: the server may answer differently next time.
bool is_retryable_status(int status);
// Transport failures, timeouts and truncated responses; not invalid_request, tls,
// too_large or cancelled (a retry would fail the same way or is unwanted).
bool is_retryable(ErrorKind kind);
// A Retry-After header in delta-seconds ("120"); nullopt for anything else
// (HTTP dates are rare from Google APIs and then plain backoff applies).
std::optional<Duration> parse_retry_after(std::string_view value);

// Randomized truncated exponential backoff ("full jitter"): after failed attempt
// n (1-based) sleep uniformly in [0, min(max_backoff, initial_backoff * 2^(n-1))).
class RetryPolicy {
 public:
  explicit RetryPolicy(RetryConfig config, std::uint64_t seed = std::random_device{}());

  // The sleep before the next attempt, or nullopt to give up: attempts used up,
  // or the sleep would end past max_total since the start. A server-requested
  // delay (Retry-After) replaces the random one, bounded by max_backoff.
  std::optional<Duration> next_delay(int failed_attempts, Duration elapsed,
                                     std::optional<Duration> retry_after = std::nullopt);

  // min(max_backoff, initial_backoff * 2^(failed_attempts-1)).
  Duration backoff_ceiling(int failed_attempts) const;
  const RetryConfig& config() const { return config_; }

 private:
  RetryConfig config_;
  std::mt19937_64 rng_;
};

}  // namespace kettle::net
