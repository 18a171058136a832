// started.json / finished.json handling (SPEC §4, D4, D13).
#include "kettle/rows/build_json.hpp"

#include <array>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <charconv>
#include <cmath>
#include <exception>
#include <limits>

#include "kettle/junit/parser.hpp"
#include "kettle/rows/pyjson.hpp"

namespace json = boost::json;

namespace kettle::rows {
namespace {

// Years 1..9999, the range BigQuery TIMESTAMP and Python datetime accept.
constexpr int64_t kMinTimestamp = -62135596800;
constexpr int64_t kMaxTimestamp = 253402300799;

// Python's recursion limit is about 1000 frames; deeper documents are garbage.
constexpr size_t kMaxDepth = 1000;

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// Builds a json::value like Boost's own parser does, except that doubles are
// re-read from their text with std::from_chars: Boost 1.81 may be off by one
// ulp, and the repr written back must be the one Python would write.
class PreciseHandler {
 public:
  static constexpr size_t max_array_size = static_cast<size_t>(-1);
  static constexpr size_t max_object_size = static_cast<size_t>(-1);
  static constexpr size_t max_string_size = static_cast<size_t>(-1);
  static constexpr size_t max_key_size = static_cast<size_t>(-1);

  json::value release() { return stack_.release(); }

  // The next number the parser reports stands for `value` (a non-finite
  // literal, fed to the parser as "0").
  void replace_next_number(double value) { replacement_ = value; }

  bool on_document_begin(json::error_code&) {
    stack_.reset();
    return true;
  }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(size_t n, json::error_code&) {
    stack_.push_array(n);
    return true;
  }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(size_t n, json::error_code&) {
    stack_.push_object(n);
    return true;
  }
  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, size_t, json::error_code&) {
    stack_.push_string(s);
    return true;
  }
  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, size_t, json::error_code&) {
    stack_.push_key(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    number_.clear();
    if (push_replacement()) return true;
    stack_.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    number_.clear();
    if (push_replacement()) return true;
    stack_.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, json::error_code&) {
    if (push_replacement()) {
      number_.clear();
      return true;
    }
    number_.append(s.data(), s.size());
    double exact = 0.0;
    const auto res = std::from_chars(number_.data(), number_.data() + number_.size(), exact);
    // from_chars reports out-of-range for overflow/underflow; keep Boost's value then.
    if (res.ec == std::errc() && res.ptr == number_.data() + number_.size()) d = exact;
    number_.clear();
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    stack_.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    stack_.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  bool push_replacement() {
    if (!replacement_) return false;
    stack_.push_double(*replacement_);
    replacement_.reset();
    return true;
  }

  json::value_stack stack_;
  std::string number_;  // the text of a number split across parser calls
  std::optional<double> replacement_;
};

// Python's json.loads reads these literals too, and json.dumps writes them
// for floats beyond the double range ("1e400" reads as inf): a DB text (ours
// or the reference's) may hold them.
struct NonFinite {
  std::string_view literal;
  double value;
};
constexpr std::array<NonFinite, 3> kNonFinite{{
    {"-Infinity", -std::numeric_limits<double>::infinity()},
    {"Infinity", std::numeric_limits<double>::infinity()},
    {"NaN", std::numeric_limits<double>::quiet_NaN()},
}};

// The non-finite literal starting at text[i], outside a string, or null. It
// must start a value (after '[', ',', ':' or at the start): "1NaN" stays
// malformed.
const NonFinite* non_finite_at(std::string_view text, size_t i) {
  const char c = text[i];
  if (c != '-' && c != 'I' && c != 'N') return nullptr;
  size_t before = i;
  while (before > 0 && (text[before - 1] == ' ' || text[before - 1] == '\t' ||
                        text[before - 1] == '\n' || text[before - 1] == '\r'))
    --before;
  if (before > 0 && text[before - 1] != '[' && text[before - 1] != ',' && text[before - 1] != ':')
    return nullptr;
  for (const auto& candidate : kNonFinite)
    if (text.substr(i).starts_with(candidate.literal)) return &candidate;
  return nullptr;
}

// Runs `text` through the parser, each non-finite literal as a "0" the
// handler replaces. True when it is one complete JSON value.
bool parse_text(json::basic_parser<PreciseHandler>& parser, std::string_view text) {
  json::error_code ec;
  auto write = [&](std::string_view piece, bool more) {
    const size_t used = parser.write_some(more, piece.data(), piece.size(), ec);
    return !ec && used == piece.size();
  };
  size_t from = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    const NonFinite* literal = non_finite_at(text, i);
    if (literal == nullptr) continue;
    if (!write(text.substr(from, i - from), true)) return false;
    parser.handler().replace_next_number(literal->value);
    if (!write("0", true)) return false;
    i += literal->literal.size() - 1;
    from = i + 1;
  }
  return write(text.substr(from), false) && parser.done();
}

std::string_view trim_ascii_space(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// Python int()/float() syntax, ASCII only: [sign] digits [. digits] [e [sign] digits],
// with digits on at least one side of the point. Returns whether it is an integer.
bool numeric_syntax(std::string_view s, bool& is_integer) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t n = digits();
  is_integer = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    n += digits();
    is_integer = false;
  }
  if (n == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
    is_integer = false;
  }
  return i == s.size();
}

// A numeric string as int64 (integers exact, floats truncated toward zero);
// nullopt when it is not a number or does not fit.
std::optional<int64_t> integer_of_string(std::string_view text) {
  std::string_view s = trim_ascii_space(text);
  bool is_integer = false;
  if (!numeric_syntax(s, is_integer)) return std::nullopt;
  if (s[0] == '+') s.remove_prefix(1);  // from_chars takes no '+'
  if (is_integer) {
    int64_t v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (res.ec != std::errc()) return std::nullopt;
    return v;
  }
  double d = 0.0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), d);
  if (res.ec != std::errc() || !std::isfinite(d)) return std::nullopt;
  const double t = std::trunc(d);
  // 2^63 as a double: anything at or beyond it does not fit.
  if (t >= 9223372036854775808.0 || t < -9223372036854775808.0) return std::nullopt;
  return static_cast<int64_t>(t);
}

std::optional<int64_t> truncate_double(double d) {
  if (!std::isfinite(d)) return std::nullopt;
  const double t = std::trunc(d);
  if (t < static_cast<double>(kMinTimestamp) || t > static_cast<double>(kMaxTimestamp)) return std::nullopt;
  return static_cast<int64_t>(t);
}

std::optional<int64_t> in_range(std::optional<int64_t> v) {
  if (v && (*v < kMinTimestamp || *v > kMaxTimestamp)) return std::nullopt;
  return v;
}

}  // namespace

std::optional<json::value> parse_json(std::string_view text) {
  try {
    const std::string clean = junit::sanitize_utf8(text);
    json::parse_options options;
    options.max_depth = kMaxDepth;
    json::basic_parser<PreciseHandler> parser(options);
    if (!parse_text(parser, clean)) return std::nullopt;
    return parser.handler().release();
  } catch (const std::exception&) {
    return std::nullopt;  // allocation failure or similar: treat as unreadable
  }
}

std::optional<json::object> parse_build_json(std::string_view bytes) {
  if (bytes.substr(0, kUtf8Bom.size()) == kUtf8Bom) bytes.remove_prefix(kUtf8Bom.size());
  auto value = parse_json(bytes);
  if (!value || !value->is_object() || value->get_object().empty()) return std::nullopt;
  return std::move(value->get_object());
}

std::optional<std::string> normalize_build_json(std::string_view bytes) {
  const auto obj = parse_build_json(bytes);
  if (!obj) return std::nullopt;
  return pyjson::dumps(*obj, /*sort_keys=*/true);
}

std::optional<int64_t> timestamp_seconds(const json::value* timestamp) {
  if (timestamp == nullptr) return std::nullopt;
  switch (timestamp->kind()) {
    case json::kind::int64: return in_range(timestamp->get_int64());
    case json::kind::uint64:
      // Any uint64 that does not fit int64 is far beyond year 9999.
      if (timestamp->get_uint64() > static_cast<uint64_t>(kMaxTimestamp)) return std::nullopt;
      return static_cast<int64_t>(timestamp->get_uint64());
    case json::kind::double_: return truncate_double(timestamp->get_double());
    case json::kind::string: return in_range(integer_of_string(timestamp->get_string()));
    default: return std::nullopt;  // null, bool, array, object
  }
}

FinishedTime finished_time_of(std::string_view finished_db_json) {
  const auto obj = parse_build_json(finished_db_json);
  if (!obj) return std::monostate{};
  const json::value* ts = obj->if_contains("timestamp");
  if (ts == nullptr) return std::monostate{};
  switch (ts->kind()) {
    case json::kind::int64: return ts->get_int64();
    // SQLite integers are signed 64-bit; a larger one is stored as a REAL.
    case json::kind::uint64: return static_cast<double>(ts->get_uint64());
    case json::kind::double_: return ts->get_double();
    case json::kind::string:
      if (const auto v = integer_of_string(ts->get_string())) return *v;
      return std::monostate{};
    default: return std::monostate{};
  }
}

}  // namespace kettle::rows
