// Periodic progress lines for long work: count, rate, and ETA when the total is known.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace kettle::obs {

class Progress {
 public:
  // `what` names the unit ("rows", "builds"); a line is logged at most every `interval`.
  explicit Progress(std::string what, std::optional<int64_t> total = std::nullopt,
                    std::chrono::milliseconds interval = std::chrono::seconds(5));

  // Adds n done units; logs a line when the interval has passed. Thread-safe.
  void add(int64_t n = 1, std::string_view extra = {});
  // Logs the final line (total, overall rate).
  void finish(std::string_view extra = {});
  int64_t done() const;

 private:
  void log_line(std::chrono::steady_clock::time_point now, std::string_view extra, bool final);

  std::string what_;
  std::optional<int64_t> total_;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
  mutable std::mutex mu_;
  int64_t done_ = 0;
};

}  // namespace kettle::obs
