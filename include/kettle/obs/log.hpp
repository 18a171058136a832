// glog-style log lines on stderr: "I1124 10:00:00.123] message".
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace kettle::obs {

enum class Severity { debug, info, warning, error };

// Text from the network (object names, server messages) as it may appear in
// a log line: control characters escaped (\n, \t, \xNN), so a name cannot
// forge a line or smuggle a NUL.
std::string printable(std::string_view text);

// Server text (an error body, an OAuth error_description) with what could be
// a credential replaced, so an endpoint that echoes a request cannot put a
// secret in an error or a log line: JWTs ("[redacted JWT]"), access and
// refresh tokens ("ya29.", "1//", "Bearer x", access_token=x,
// "refresh_token": "x", client_secret, id_token, private_key: "[redacted
// token]") and PEM private keys ("[redacted key]"; to the end of the text
// when the END line is missing, as in a cut excerpt). Linear in the size of
// the text. Control characters are kept: pass the result to printable() to
// log it.
std::string redact_secrets(std::string_view text);

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

namespace kettle::obs {
// Turns the streamed expression into void so KLOG can sit in a ?: (no
// dangling else when used as the body of an unbraced if).
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace kettle::obs

#define KLOG(sev)                                                                                   \
  (::kettle::obs::Severity::sev == ::kettle::obs::Severity::debug && !::kettle::obs::verbose())    \
      ? (void)0                                                                                     \
      : ::kettle::obs::LogVoidify() & ::kettle::obs::LogLine(::kettle::obs::Severity::sev).stream()
