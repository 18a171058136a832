#include "time_text.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace fakegcp {

std::int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(std::int64_t unix_ns, int fraction_digits) {
  std::time_t secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  long nanos = static_cast<long>(unix_ns % 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(buf, static_cast<std::size_t>(n));
  if (fraction_digits > 0) {
    std::snprintf(buf, sizeof buf, "%09ld", nanos);
    out += '.';
    out.append(buf, static_cast<std::size_t>(fraction_digits > 9 ? 9 : fraction_digits));
  }
  out += 'Z';
  return out;
}

std::string millis_text(std::int64_t unix_ns) { return std::to_string(unix_ns / 1'000'000); }

}  // namespace fakegcp
