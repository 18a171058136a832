#include "kettle/obs/log.hpp"

#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <array>
#include <atomic>
#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>
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

constexpr std::string_view kRedactedJwt = "[redacted JWT]";
constexpr std::string_view kRedactedToken = "[redacted token]";
constexpr std::string_view kRedactedKey = "[redacted key]";

// Field names whose value is a credential, in forms (name=value) and JSON
// ("name": "value"); matched without regard to case.
constexpr std::array<std::string_view, 5> kSecretFields = {
    "access_token", "refresh_token", "id_token", "client_secret", "private_key"};

// Shorter "Bearer x" values are words of prose ("Bearer token missing"), not tokens.
constexpr std::size_t kMinBearerToken = 16;
// Without the "eyJ" start, a dotted run is a JWT only when every part is this
// long: host names (oauth2.googleapis.com) have three short parts.
constexpr std::size_t kMinJwtSegment = 16;
constexpr std::size_t kMinRefreshToken = 20;  // after Google's "1//"
constexpr std::size_t kMaxPemLabel = 64;      // "-----BEGIN ENCRYPTED PRIVATE KEY" is 32

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(std::string_view text, std::size_t at, std::string_view word) {
  if (text.size() - at < word.size()) return false;
  for (std::size_t k = 0; k < word.size(); ++k)
    if (lower(text[at + k]) != word[k]) return false;
  return true;
}

// Three or more base64url parts joined by dots (JWS has three, JWE five);
// also two, for a JWT cut short by an excerpt, when it starts with "eyJ"
// (base64url of '{"', how every JOSE header starts).
bool looks_like_jwt(std::string_view run) {
  std::size_t parts = 1;
  std::size_t shortest = std::string_view::npos;
  std::size_t start = 0;
  for (std::size_t k = 0; k <= run.size(); ++k) {
    if (k == run.size() || run[k] == '.') {
      shortest = std::min(shortest, k - start);
      if (k < run.size()) ++parts;
      start = k + 1;
    }
  }
  if (run.starts_with("eyJ")) return parts >= 2 && run.size() > 4;
  return parts >= 3 && shortest >= kMinJwtSegment;
}

// The secret a run of token characters is, if any.
std::optional<std::string_view> classify_run(std::string_view run) {
  if (run.starts_with("ya29.") && run.size() > 5) return kRedactedToken;
  if (looks_like_jwt(run)) return kRedactedJwt;
  return std::nullopt;
}

// "-----BEGIN [RSA|ENCRYPTED] PRIVATE KEY-----" at `at`: where the block ends
// (after its END line, or the end of the text when cut off), else npos.
std::size_t private_key_end(std::string_view text, std::size_t at) {
  constexpr std::string_view begin = "-----BEGIN ";
  constexpr std::string_view dashes = "-----";
  if (text.compare(at, begin.size(), begin) != 0) return std::string_view::npos;
  std::size_t label_end = text.find(dashes, at + begin.size());
  if (label_end == std::string_view::npos) label_end = text.size();
  if (label_end - at > kMaxPemLabel) return std::string_view::npos;
  std::string_view label = text.substr(at + begin.size(), label_end - at - begin.size());
  if (label.find("PRIVATE KEY") == std::string_view::npos) return std::string_view::npos;
  std::size_t end = text.find("-----END ", label_end);
  if (end == std::string_view::npos) return text.size();
  std::size_t close = text.find(dashes, end + 9);
  return close == std::string_view::npos ? text.size() : close + dashes.size();
}

// name=value, name: value, "name": "value" at `at`: where the value starts
// and ends, else nullopt. The value ends at a quote (not an escaped one),
// '&', ',', '}', or white space.
std::optional<std::pair<std::size_t, std::size_t>> secret_field_value(std::string_view text,
                                                                      std::size_t at) {
  for (std::string_view name : kSecretFields) {
    if (!starts_with_nocase(text, at, name)) continue;
    std::size_t k = at + name.size();
    if (k < text.size() && (text[k] == '"' || text[k] == '\\')) {
      if (text[k] == '\\') ++k;  // an escaped quote, JSON inside a JSON string
      if (k < text.size() && text[k] == '"') ++k;
    }
    while (k < text.size() && text[k] == ' ') ++k;
    if (k == text.size() || (text[k] != '=' && text[k] != ':')) return std::nullopt;
    ++k;
    while (k < text.size() && text[k] == ' ') ++k;
    if (k < text.size() && text[k] == '\\') ++k;
    if (k < text.size() && text[k] == '"') ++k;
    std::size_t value = k;
    while (k < text.size()) {
      char c = text[k];
      if (c == '"' || c == '&' || c == ',' || c == '}' || c == ' ' || c == '\n' || c == '\r' ||
          c == '\t')
        break;
      if (c == '\\' && k + 1 < text.size() && text[k + 1] == '"') break;
      ++k;
    }
    if (k == value) return std::nullopt;
    return std::pair{value, k};
  }
  return std::nullopt;
}

// "Bearer <token>" at `at`: where the token starts and ends, else nullopt.
std::optional<std::pair<std::size_t, std::size_t>> bearer_value(std::string_view text,
                                                                std::size_t at) {
  if (!starts_with_nocase(text, at, "bearer")) return std::nullopt;
  std::size_t k = at + 6;
  if (k == text.size() || (text[k] != ' ' && text[k] != '\t')) return std::nullopt;
  while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
  std::size_t value = k;
  while (k < text.size() && !std::isspace(static_cast<unsigned char>(text[k])) && text[k] != '"' &&
         text[k] != ',')
    ++k;
  if (k - value < kMinBearerToken) return std::nullopt;
  return std::pair{value, k};
}

}  // namespace

std::string redact_secrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '-') {
      if (std::size_t end = private_key_end(text, i); end != std::string_view::npos) {
        out += kRedactedKey;
        i = end;
        continue;
      }
    }
    auto field = secret_field_value(text, i);
    if (!field) field = bearer_value(text, i);
    if (field) {
      out.append(text.substr(i, field->first - i));
      // A key file's "private_key": the whole PEM block, not its first word.
      if (std::size_t end = private_key_end(text, field->first); end != std::string_view::npos) {
        out += kRedactedKey;
        i = end;
      } else {
        out += kRedactedToken;
        i = field->second;
      }
      continue;
    }
    // Runs are judged whole, from their first character only, which keeps the
    // scan linear.
    if (is_token_char(text[i]) && (i == 0 || !is_token_char(text[i - 1]))) {
      // Google refresh tokens start "1//", which is not a token character.
      const bool refresh = text.compare(i, 3, "1//") == 0;
      std::size_t end = refresh ? i + 3 : i;
      while (end < text.size() && is_token_char(text[end])) ++end;
      if (refresh && end - i >= 3 + kMinRefreshToken) {
        out += kRedactedToken;
        i = end;
        continue;
      }
      if (refresh) end = i + 1;  // "1" alone: the rest is ordinary text
      if (auto replacement = classify_run(text.substr(i, end - i))) {
        out += *replacement;
        i = end;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

namespace {
std::atomic<bool> g_verbose{false};
std::atomic<LogFormat> g_format{LogFormat::text};

char letter(Severity s) {
  switch (s) {
    case Severity::debug: return 'D';
    case Severity::info: return 'I';
    case Severity::warning: return 'W';
    case Severity::error: return 'E';
  }
  return '?';
}

// Cloud Logging's LogSeverity names.
std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::debug: return "DEBUG";
    case Severity::info: return "INFO";
    case Severity::warning: return "WARNING";
    case Severity::error: return "ERROR";
  }
  return "DEFAULT";
}

// `text` with every byte sequence that is not UTF-8 replaced by U+FFFD: the
// JSON serializer copies bytes as they are, and a reader may drop a line that
// is not UTF-8.
std::string valid_utf8(std::string_view text) {
  constexpr std::string_view kReplacement = "\xef\xbf\xbd";
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3
                                 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
    bool ok = n > 0 && i + n <= text.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (ok && n >= 3) {
      // No overlong forms, no surrogates, nothing above U+10FFFF.
      const auto d = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xe0 && d < 0xa0) && !(c == 0xed && d > 0x9f) && !(c == 0xf0 && d < 0x90) &&
           !(c == 0xf4 && d > 0x8f);
    }
    if (!ok) {
      out += kReplacement;
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string text_line(const LogRecord& r) {
  std::time_t secs = std::chrono::system_clock::to_time_t(r.time);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(r.time.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&secs, &tm);
  char head[32];
  std::snprintf(head, sizeof head, "%c%02d%02d %02d:%02d:%02d.%03d] ", letter(r.severity), tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return head + printable(redact_secrets(r.message)) + "\n";
}

std::string json_line(const LogRecord& r) {
  std::time_t secs = std::chrono::system_clock::to_time_t(r.time);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(r.time.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char time[96];  // room for any int the compiler imagines in each field
  std::snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  boost::json::object line;
  line["severity"] = severity_name(r.severity);
  line["time"] = time;
  line["message"] = valid_utf8(redact_secrets(r.message));
  if (!r.labels.empty()) {
    boost::json::object labels;
    for (const auto& [key, value] : r.labels) labels[valid_utf8(key)] = valid_utf8(redact_secrets(value));
    line["logging.googleapis.com/labels"] = std::move(labels);
  }
  return boost::json::serialize(line) + "\n";
}

}  // namespace

void set_verbose(bool on) { g_verbose = on; }
bool verbose() { return g_verbose; }

void set_log_format(LogFormat format) { g_format = format; }
LogFormat log_format() { return g_format; }

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::text;
  if (name == "json") return LogFormat::json;
  return std::nullopt;
}

std::string format_log_line(const LogRecord& record, LogFormat format) {
  return format == LogFormat::json ? json_line(record) : text_line(record);
}

LogLine::LogLine(Severity severity) {
  record_.severity = severity;
  record_.time = std::chrono::system_clock::now();
}

LogLine::~LogLine() {
  record_.message = out_.str();
  std::string text;
  try {
    text = format_log_line(record_, g_format);
  } catch (const std::exception&) {
    return;  // out of memory: a destructor must not throw, and there is nowhere to say it
  }
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
