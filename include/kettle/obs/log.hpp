// glog-style log lines on stderr: "I1124 10:00:00.123] message".
#pragma once

#include <sstream>

namespace kettle::obs {

enum class Severity { debug, info, warning, error };

// Debug lines are printed only when verbose (-v) is on.
void set_verbose(bool on);
bool verbose();

// One log line; written to stderr with a single write when destroyed, so lines
// from several threads never interleave.
class LogLine {
 public:
  explicit LogLine(Severity severity);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  std::ostream& stream() { return out_; }

 private:
  Severity severity_;
  std::ostringstream out_;
};

}  // namespace kettle::obs

#define KLOG(sev)                                                          \
  if (::kettle::obs::Severity::sev == ::kettle::obs::Severity::debug &&   \
      !::kettle::obs::verbose()) {                                         \
  } else                                                                   \
    ::kettle::obs::LogLine(::kettle::obs::Severity::sev).stream()
