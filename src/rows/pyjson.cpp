// Python json.dumps, byte for byte (SPEC §3.4).
#include "kettle/rows/pyjson.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace json = boost::json;

namespace kettle::rows::pyjson {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Printable ASCII other than '"' and '\\' is written as is.
bool needs_no_escape(unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; }

// Whether any of the 8 bytes at p needs escaping (or is not ASCII). Word
// tricks: a borrow may flag a byte above a real hit, never miss one, and a
// hit only sends the caller to the exact byte-by-byte test.
bool escape_in_word(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
  return ((w & kHigh) | below_space | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\')) |
          has_zero(w ^ (kOnes * 0x7F))) != 0;
}

void append_u_escape(std::string& out, unsigned unit) {
  static constexpr char kHex[] = "0123456789abcdef";  // Python writes lowercase hex
  out += "\\u";
  out += kHex[(unit >> 12) & 0xF];
  out += kHex[(unit >> 8) & 0xF];
  out += kHex[(unit >> 4) & 0xF];
  out += kHex[unit & 0xF];
}

// Code points above the BMP are written as a UTF-16 surrogate pair, as Python does.
void append_code_point(std::string& out, char32_t cp) {
  if (cp > 0xFFFF) {
    const char32_t v = cp - 0x10000;
    append_u_escape(out, 0xD800 + static_cast<unsigned>(v >> 10));
    append_u_escape(out, 0xDC00 + static_cast<unsigned>(v & 0x3FF));
    return;
  }
  append_u_escape(out, static_cast<unsigned>(cp));
}

// Decodes one UTF-8 sequence at s[i]. On an invalid sequence returns U+FFFD and
// consumes the maximal invalid subpart (at least one byte), like Python's
// decode(errors="replace").
char32_t decode_utf8(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    ++i;
    return kReplacement;
  }
  size_t j = 1;
  for (; j < len; ++j) {
    if (i + j >= s.size()) break;
    const auto b = static_cast<unsigned char>(s[i + j]);
    const unsigned char min = j == 1 ? lo : 0x80;
    const unsigned char max = j == 1 ? hi : 0xBF;
    if (b < min || b > max) break;
    cp = (cp << 6) | (b & 0x3F);
  }
  i += j;
  return j == len ? cp : kReplacement;
}

// Python's short float repr: shortest round-trip digits; fixed notation when
// the decimal exponent e of d.ddd x 10^e is in [-4, 16), else d.ddde+XX.
void append_finite_double(std::string& out, double d) {
  std::array<char, 64> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
  const std::string_view sci(buf.data(), static_cast<size_t>(res.ptr - buf.data()));
  const size_t epos = sci.find('e');
  int exp = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  if (exp < -4 || exp >= 16) {
    out += sci;  // to_chars already writes "1e-05", "1.5e+300": Python's form
    return;
  }
  std::string_view mantissa = sci.substr(0, epos);
  if (!mantissa.empty() && mantissa[0] == '-') {
    out += '-';
    mantissa.remove_prefix(1);
  }
  std::array<char, 32> digit_buf{};  // at most 17 significant digits
  size_t digit_count = 0;
  for (char c : mantissa)
    if (c != '.') digit_buf[digit_count++] = c;
  const std::string_view digits(digit_buf.data(), digit_count);
  if (exp < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exp - 1), '0');
    out += digits;
    return;
  }
  const auto int_len = static_cast<size_t>(exp) + 1;
  if (digits.size() <= int_len) {
    out += digits;
    out.append(int_len - digits.size(), '0');
    out += ".0";
    return;
  }
  out.append(digits.substr(0, int_len));
  out += '.';
  out.append(digits.substr(int_len));
}

template <typename Int>
void append_integer(std::string& out, Int v) {
  std::array<char, 24> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), res.ptr);
}

void append_object(std::string& out, const json::object& obj, bool sort_keys) {
  std::vector<const json::key_value_pair*> entries;
  entries.reserve(obj.size());
  for (const auto& kv : obj) entries.push_back(&kv);
  if (sort_keys) {
    // Byte order of UTF-8 equals code point order, which is how Python sorts str.
    std::sort(entries.begin(), entries.end(),
              [](const auto* a, const auto* b) { return a->key() < b->key(); });
  }
  out += '{';
  bool first = true;
  for (const auto* kv : entries) {
    if (!first) out += ", ";
    first = false;
    append_string(out, kv->key());
    out += ": ";
    append(out, kv->value(), sort_keys);
  }
  out += '}';
}

void append_array(std::string& out, const json::array& arr, bool sort_keys) {
  out += '[';
  bool first = true;
  for (const auto& v : arr) {
    if (!first) out += ", ";
    first = false;
    append(out, v, sort_keys);
  }
  out += ']';
}

}  // namespace

void append_string(std::string& out, std::string_view utf8) {
  out.reserve(out.size() + utf8.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < utf8.size()) {
    // Copy runs that need no escaping in one append: most text is plain ASCII.
    const size_t run_start = i;
    while (i + 8 <= utf8.size() && !escape_in_word(utf8.data() + i)) i += 8;
    while (i < utf8.size() && needs_no_escape(static_cast<unsigned char>(utf8[i]))) ++i;
    if (i > run_start) out.append(utf8, run_start, i - run_start);
    if (i == utf8.size()) break;
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c >= 0x80) {
      append_code_point(out, decode_utf8(utf8, i));
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        // Python's ensure_ascii escapes everything outside ' '..'~', DEL included.
        if (c < 0x20 || c == 0x7F)
          append_u_escape(out, c);
        else
          out += static_cast<char>(c);
    }
  }
  out += '"';
}

void append_double(std::string& out, double d) {
  // What Python writes: a number beyond the double range reads as inf.
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d < 0 ? "-Infinity" : "Infinity";
  } else {
    append_finite_double(out, d);
  }
}

void append(std::string& out, const json::value& v, bool sort_keys) {
  switch (v.kind()) {
    case json::kind::null: out += "null"; break;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case json::kind::int64: append_integer(out, v.get_int64()); break;
    case json::kind::uint64: append_integer(out, v.get_uint64()); break;
    case json::kind::double_: append_double(out, v.get_double()); break;
    case json::kind::string: append_string(out, v.get_string()); break;
    case json::kind::array: append_array(out, v.get_array(), sort_keys); break;
    case json::kind::object: append_object(out, v.get_object(), sort_keys); break;
  }
}

std::string dumps(const json::value& v, bool sort_keys) {
  std::string out;
  append(out, v, sort_keys);
  return out;
}

}  // namespace kettle::rows::pyjson
