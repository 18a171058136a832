#include "kettle/obs/progress.hpp"

#include <cstdio>

#include "kettle/obs/log.hpp"

namespace kettle::obs {

Progress::Progress(std::string what, std::optional<int64_t> total, std::chrono::milliseconds interval)
    : what_(std::move(what)),
      total_(total),
      interval_(interval),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void Progress::add(int64_t n, std::string_view extra) {
  std::lock_guard lock(mu_);
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ >= interval_) {
    last_ = now;
    log_line(now, extra, false);
  }
}

void Progress::finish(std::string_view extra) {
  std::lock_guard lock(mu_);
  log_line(std::chrono::steady_clock::now(), extra, true);
}

int64_t Progress::done() const {
  std::lock_guard lock(mu_);
  return done_;
}

void Progress::log_line(std::chrono::steady_clock::time_point now, std::string_view extra, bool final) {
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(done_) / secs : 0.0;
  char buf[160];
  if (total_ && *total_ > 0 && !final) {
    double eta = rate > 0 ? static_cast<double>(*total_ - done_) / rate : 0.0;
    std::snprintf(buf, sizeof buf, "%lld/%lld %s (%.1f%%), %.0f %s/s, ETA %.0fs",
                  static_cast<long long>(done_), static_cast<long long>(*total_), what_.c_str(),
                  100.0 * static_cast<double>(done_) / static_cast<double>(*total_), rate, what_.c_str(), eta);
  } else {
    std::snprintf(buf, sizeof buf, "%s%lld %s in %.1fs, %.0f %s/s", final ? "done: " : "",
                  static_cast<long long>(done_), what_.c_str(), secs, rate, what_.c_str());
  }
  if (extra.empty()) {
    KLOG(info) << buf;
  } else {
    KLOG(info) << buf << ", " << extra;
  }
}

}  // namespace kettle::obs
