#include "kettle/net/retry.hpp"

#include <algorithm>
#include <charconv>

namespace kettle::net {

bool is_retryable_status(int status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

bool is_retryable(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::connect:
    case ErrorKind::timeout:
    case ErrorKind::reset:
    case ErrorKind::protocol:
    case ErrorKind::http_status:
      return true;
    case ErrorKind::invalid_request:
    case ErrorKind::tls:
    case ErrorKind::too_large:
    case ErrorKind::cancelled:
      return false;
  }
  return false;
}

std::optional<Duration> parse_retry_after(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 9) return std::nullopt;  // > 9 digits: not a sane delay
  long seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc{} || end != value.data() + value.size() || seconds < 0) return std::nullopt;
  return std::chrono::seconds(seconds);
}

RetryPolicy::RetryPolicy(RetryConfig config, std::uint64_t seed) : config_(config), rng_(seed) {}

Duration RetryPolicy::backoff_ceiling(int failed_attempts) const {
  // Doubling stops well before overflow; the cap is reached long before anyway.
  int doublings = std::clamp(failed_attempts - 1, 0, 30);
  Duration ceiling = config_.initial_backoff;
  for (int i = 0; i < doublings && ceiling < config_.max_backoff; ++i) ceiling *= 2;
  return std::min(ceiling, config_.max_backoff);
}

std::optional<Duration> RetryPolicy::next_delay(int failed_attempts, Duration elapsed,
                                                std::optional<Duration> retry_after) {
  if (failed_attempts >= config_.max_attempts) return std::nullopt;
  Duration delay{};
  if (retry_after) {
    delay = std::min(*retry_after, config_.max_backoff);
  } else {
    auto ceiling = backoff_ceiling(failed_attempts).count();
    if (ceiling > 0) {
      // [0, ceiling): the interval is half-open as in the reference's random() * ceiling.
      delay = Duration(std::uniform_int_distribution<Duration::rep>(0, ceiling - 1)(rng_));
    }
  }
  if (elapsed + delay >= config_.max_total) return std::nullopt;
  return delay;
}

}  // namespace kettle::net
