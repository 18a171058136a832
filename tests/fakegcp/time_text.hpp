// Wall-clock instants as Google's JSON APIs write them.
#pragma once

#include <cstdint>
#include <string>

namespace fakegcp {

// Nanoseconds since the Unix epoch, now.
std::int64_t unix_now_ns();

// "2024-01-02T03:04:05.123Z" with fraction_digits (0..9) digits after the second.
std::string rfc3339(std::int64_t unix_ns, int fraction_digits = 3);

// Milliseconds since the epoch as a decimal string, as BigQuery sends times.
std::string millis_text(std::int64_t unix_ns);

}  // namespace fakegcp
