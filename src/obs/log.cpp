#include "kettle/obs/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace kettle::obs {

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {
std::atomic<bool> g_verbose{false};

char letter(Severity s) {
  switch (s) {
    case Severity::debug: return 'D';
    case Severity::info: return 'I';
    case Severity::warning: return 'W';
    case Severity::error: return 'E';
  }
  return '?';
}
}  // namespace

void set_verbose(bool on) { g_verbose = on; }
bool verbose() { return g_verbose; }

LogLine::LogLine(Severity severity) : severity_(severity) {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&secs, &tm);
  char head[32];
  std::snprintf(head, sizeof head, "%c%02d%02d %02d:%02d:%02d.%03d] ", letter(severity_), tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  out_ << head;
}

LogLine::~LogLine() {
  out_ << '\n';
  const std::string text = out_.str();
  // One write(2) per line keeps concurrent lines whole.
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace kettle::obs
