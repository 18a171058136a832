// Log lines on stderr: glog-style text ("I1124 10:00:00.123] message") or
// JSON objects Cloud Logging reads (--log-format).
#pragma once

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// How lines are written (--log-format). text: glog-style lines,
// "I1124 10:00:00.123] message", local time. json: one JSON object per line
// with the fields Cloud Logging reads from a container's output: severity
// (DEBUG, INFO, WARNING, ERROR), message, time (RFC 3339, UTC) and the line's
// labels under "logging.googleapis.com/labels".
enum class LogFormat { text, json };
void set_log_format(LogFormat format);
LogFormat log_format();
// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view name);

// A name/value pair a line carries for filtering (stage, bucket, job, table,
// url), streamed like any value: KLOG(info) << obs::label("table", t) << "...".
// The message should still say it in words: text lines leave labels out.
struct Label {
  std::string_view key;
  std::string value;
};
inline Label label(std::string_view key, std::string value) { return Label{key, std::move(value)}; }

// What a finished line holds, before it is formatted.
struct LogRecord {
  Severity severity = Severity::info;
  std::chrono::system_clock::time_point time{};
  std::string message;
  std::vector<std::pair<std::string, std::string>> labels;
};

// The line written for `record`, newline included. Both formats pass the
// message and label values through redact_secrets(); text escapes control
// characters with printable(), JSON with the serializer (and replaces bytes
// that are not UTF-8 with U+FFFD), so one record is always one line.
std::string format_log_line(const LogRecord& record, LogFormat format);

// One log line; written to stderr with a single write when destroyed, so lines
// from several threads never interleave.
class LogLine {
 public:
  explicit LogLine(Severity severity);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  LogLine& stream() { return *this; }

  template <class T>
  LogLine& operator<<(const T& value) {
    out_ << value;
    return *this;
  }
  LogLine& operator<<(std::ostream& (*manipulator)(std::ostream&)) {
    out_ << manipulator;
    return *this;
  }
  LogLine& operator<<(Label field) {
    record_.labels.emplace_back(std::string(field.key), std::move(field.value));
    return *this;
  }

 private:
  LogRecord record_;
  std::ostringstream out_;
};

}  // namespace kettle::obs

namespace kettle::obs {
// Turns the streamed expression into void so KLOG can sit in a ?: (no
// dangling else when used as the body of an unbraced if).
struct LogVoidify {
  void operator&(LogLine&) {}
};
}  // namespace kettle::obs

#define KLOG(sev)                                                                                   \
  (::kettle::obs::Severity::sev == ::kettle::obs::Severity::debug && !::kettle::obs::verbose())    \
      ? (void)0                                                                                     \
      : ::kettle::obs::LogVoidify() & ::kettle::obs::LogLine(::kettle::obs::Severity::sev).stream()
