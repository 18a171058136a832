// The usual shape of JUnit, read without expat (see parser.hpp,
// detail::run_plain_xml). Anything outside that shape, or not well-formed,
// makes it give up; expat then reads the document and decides. So this
// reader never has to report an error, only to be exact on what it accepts.
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "kettle/junit/parser.hpp"

namespace kettle::junit::detail {
namespace {

// Beyond these the document is left to expat, whose memory limit
// (kMaxParserBytes) decides: a start tag must fit whole in its buffer, and
// it keeps every distinct element and attribute name. Far below what that
// limit allows, far above real JUnit.
constexpr std::size_t kMaxTagBytes = std::size_t{1} << 20;  // one tag, comment or CDATA section
constexpr std::size_t kMaxAttributes = 64;                  // in one start tag
constexpr std::size_t kMaxOtherNames = 10'000;              // names outside kCommonNames

// Names of real JUnit; others are counted against kMaxOtherNames.
constexpr std::array<std::string_view, 26> kCommonNames = {
    "testsuites", "testsuite",  "testcase", "failure",    "error",     "skipped",   "system-out",
    "system-err", "properties", "property", "name",       "time",      "classname", "message",
    "type",       "tests",      "failures", "errors",     "timestamp", "hostname",  "id",
    "package",    "file",       "line",     "assertions", "value"};

// Byte classes.
enum : std::uint8_t {
  kPlain = 0,
  kNameStart = 1,  // ASCII letters and '_'
  kNameRest = 2,   // digits, '.', '-'
  kSpace = 3,      // ' ', '\t', '\n', '\r'
  kBad = 4,        // control characters XML does not allow
  kOther = 5,      // ASCII punctuation with a role in markup, and bytes >= 0x80
};

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> c{};
  for (int b = 0; b < 0x20; ++b) c[b] = kBad;
  c['\t'] = c['\n'] = c['\r'] = c[' '] = kSpace;
  for (int b = 'a'; b <= 'z'; ++b) c[b] = kNameStart;
  for (int b = 'A'; b <= 'Z'; ++b) c[b] = kNameStart;
  c['_'] = kNameStart;
  for (int b = '0'; b <= '9'; ++b) c[b] = kNameRest;
  c['.'] = c['-'] = kNameRest;
  for (int b = 0x21; b < 0x7F; ++b)
    if (c[b] == kPlain) c[b] = kOther;
  c[0x7F] = kPlain;
  for (int b = 0x80; b < 0x100; ++b) c[b] = kOther;
  return c;
}
constexpr std::array<std::uint8_t, 256> kClass = make_classes();

constexpr std::array<bool, 256> make_not_space() {
  std::array<bool, 256> s{};
  for (int b = 0; b < 256; ++b) s[b] = kClass[b] != kSpace;
  return s;
}
constexpr std::array<bool, 256> kNotSpace = make_not_space();

constexpr std::array<bool, 256> make_not_name() {
  std::array<bool, 256> s{};
  for (int b = 0; b < 256; ++b) s[b] = kClass[b] != kNameStart && kClass[b] != kNameRest;
  return s;
}
constexpr std::array<bool, 256> kNotName = make_not_name();

// Bytes that end a run of character data: markup, references, line ends
// (normalized), "]]>", disallowed controls, and 0xEF (U+FFFE, U+FFFF).
constexpr std::array<bool, 256> make_text_stops() {
  std::array<bool, 256> s{};
  for (int b = 0; b < 0x20; ++b) s[b] = b != '\t' && b != '\n';
  s['<'] = s['&'] = s[']'] = s[0xEF] = true;
  return s;
}
constexpr std::array<bool, 256> kTextStop = make_text_stops();

// In attribute values also the quotes and every white space (normalized to ' ').
constexpr std::array<bool, 256> make_value_stops() {
  std::array<bool, 256> s{};
  for (int b = 0; b < 0x20; ++b) s[b] = true;
  s['<'] = s['&'] = s['"'] = s['\''] = s[0xEF] = true;
  return s;
}
constexpr std::array<bool, 256> kValueStop = make_value_stops();

bool is_xml_char(std::uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class PlainReader {
 public:
  PlainReader(std::string_view text, XmlEvents& events) : s_(text), events_(events) {}

  // true: read to the end (or a handler stopped it); false: give up.
  bool run() {
    if (s_.empty() || s_.substr(0, 3) == "\xEF\xBB\xBF") return false;
    if (s_.substr(0, 5) == "<?xml" && s_.size() > 5 && kClass[byte(5)] == kSpace && !declaration())
      return false;
    if (!misc()) return false;
    if (at_end() || s_[p_] != '<') return false;  // no root element
    if (!element_tree()) return false;
    if (stopped_) return true;
    return misc() && at_end();
  }

 private:
  unsigned char byte(std::size_t i) const { return static_cast<unsigned char>(s_[i]); }
  bool at_end() const { return p_ >= s_.size(); }
  bool starts_with(std::string_view prefix) const {
    return s_.compare(p_, prefix.size(), prefix) == 0;
  }
  // The first index from `i` on whose byte is in `stops`, or the size. With
  // locals: a char read may alias p_, so a loop on p_ would store it each step.
  std::size_t scan_to(const std::array<bool, 256>& stops, std::size_t i) const {
    const char* data = s_.data();
    const std::size_t size = s_.size();
    while (i < size && !stops[static_cast<unsigned char>(data[i])]) ++i;
    return i;
  }

  // true when there was some.
  bool skip_space() {
    const std::size_t start = p_;
    p_ = scan_to(kNotSpace, p_);
    return p_ > start;
  }

  // <?xml version="1.0" (encoding="...")? (standalone="yes|no")? ?>, and nothing else.
  bool declaration() {
    p_ = 5;
    skip_space();
    std::string_view value;
    if (!pseudo_attribute("version", value) || value != "1.0") return false;
    bool space = skip_space();
    if (space && starts_with("encoding")) {
      // EncName: [A-Za-z] ([A-Za-z0-9._] | '-')*
      if (!pseudo_attribute("encoding", value) || value.empty() || value[0] == '_' ||
          kClass[static_cast<unsigned char>(value[0])] != kNameStart)
        return false;
      for (char c : value) {
        const auto k = kClass[static_cast<unsigned char>(c)];
        if (k != kNameStart && k != kNameRest) return false;
      }
      space = skip_space();
    }
    if (space && starts_with("standalone")) {
      if (!pseudo_attribute("standalone", value) || (value != "yes" && value != "no")) return false;
      skip_space();
    }
    if (!starts_with("?>")) return false;
    p_ += 2;
    return true;
  }

  // name S? '=' S? quoted, with no references.
  bool pseudo_attribute(std::string_view name, std::string_view& value) {
    if (!starts_with(name)) return false;
    p_ += name.size();
    skip_space();
    if (at_end() || s_[p_] != '=') return false;
    ++p_;
    skip_space();
    if (at_end() || (s_[p_] != '"' && s_[p_] != '\'')) return false;
    const char quote = s_[p_++];
    const std::size_t end = s_.find(quote, p_);
    if (end == std::string_view::npos) return false;
    value = s_.substr(p_, end - p_);
    p_ = end + 1;
    return true;
  }

  // White space and comments, outside the root element.
  bool misc() {
    for (;;) {
      skip_space();
      if (!starts_with("<!--")) return true;
      if (!comment()) return false;
    }
  }

  // <!-- ... --> without "--" inside.
  bool comment() {
    const std::size_t start = p_;
    p_ += 4;
    const std::size_t end = s_.find("--", p_);
    if (end == std::string_view::npos || end + 2 >= s_.size() || s_[end + 2] != '>') return false;
    if (end + 3 - start > kMaxTagBytes || !valid_chars(s_.substr(p_, end - p_))) return false;
    p_ = end + 3;
    return true;
  }

  // Text of a comment or CDATA section: no disallowed control character, no U+FFFE/U+FFFF.
  static bool valid_chars(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto b = static_cast<unsigned char>(text[i]);
      if (kClass[b] == kBad) return false;
      if (b == 0xEF && i + 2 < text.size() && text[i + 1] == '\xBF' &&
          (text[i + 2] == '\xBE' || text[i + 2] == '\xBF'))
        return false;
    }
    return true;
  }

  // An ASCII name without ':' at p_; empty when there is none.
  std::string_view name() {
    const std::size_t start = p_;
    if (at_end() || kClass[byte(p_)] != kNameStart) return {};
    p_ = scan_to(kNotName, p_ + 1);
    return s_.substr(start, p_ - start);
  }

  // Counts a name seen for the first time (a slot per length and first and
  // last byte remembers the last name seen there), unless it is a common one.
  // A name evicted from its slot may be counted again: the count only grows
  // faster than the distinct names, so the reader gives up early, never late.
  bool count_name(std::string_view n) {
    const std::size_t slot = (n.size() * 31 + static_cast<unsigned char>(n.front()) * 7 +
                              static_cast<unsigned char>(n.back())) %
                             seen_.size();
    if (seen_[slot] == n) return true;
    seen_[slot] = n;
    for (std::string_view common : kCommonNames)
      if (n == common) return true;
    return ++other_names_ <= kMaxOtherNames;
  }

  // After a name, the next byte must be one that may end it.
  bool name_ends_well() const {
    if (at_end()) return false;
    const char c = s_[p_];
    return kClass[static_cast<unsigned char>(c)] == kSpace || c == '>' || c == '/' || c == '=';
  }

  // &...; at p_, appended to `out` as UTF-8.
  bool reference(std::string& out) {
    constexpr std::size_t kLongestReference = 12;  // "#x" and 8 digits, with room
    const std::size_t semi = s_.substr(p_ + 1, kLongestReference).find(';');
    if (semi == std::string_view::npos) return false;
    const std::string_view ref = s_.substr(p_ + 1, semi);
    p_ += semi + 2;
    if (ref == "lt") return out += '<', true;
    if (ref == "gt") return out += '>', true;
    if (ref == "amp") return out += '&', true;
    if (ref == "apos") return out += '\'', true;
    if (ref == "quot") return out += '"', true;
    if (ref.size() < 2 || ref[0] != '#') return false;
    std::uint32_t cp = 0;
    const bool hex = ref[1] == 'x';
    const std::string_view digits = ref.substr(hex ? 2 : 1);
    if (digits.empty() || digits.size() > 8) return false;
    for (char c : digits) {
      std::uint32_t d;
      if (c >= '0' && c <= '9') {
        d = static_cast<std::uint32_t>(c - '0');
      } else if (hex && c >= 'a' && c <= 'f') {
        d = static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (hex && c >= 'A' && c <= 'F') {
        d = static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
      cp = cp * (hex ? 16 : 10) + d;
    }
    if (!is_xml_char(cp)) return false;
    append_utf8(out, cp);
    return true;
  }

  // U+FFFE or U+FFFF at p_ (a 0xEF byte)?
  bool noncharacter_at(std::size_t i) const {
    return i + 2 < s_.size() && s_[i + 1] == '\xBF' && (s_[i + 2] == '\xBE' || s_[i + 2] == '\xBF');
  }

  // The root element and everything in it.
  bool element_tree() {
    if (p_ + 1 >= s_.size() || kClass[byte(p_ + 1)] != kNameStart) return false;  // not a start tag
    for (;;) {
      if (at_end()) return false;  // elements left open
      if (s_[p_] != '<') {
        if (!text()) return false;
        if (stopped_) return true;
        continue;
      }
      if (p_ + 1 >= s_.size()) return false;
      const char next = s_[p_ + 1];
      if (next == '/') {
        if (!end_tag()) return false;
      } else if (next == '!') {
        if (starts_with("<!--")) {
          if (!comment()) return false;
        } else if (starts_with("<![CDATA[")) {
          if (!cdata()) return false;
        } else {
          return false;
        }
      } else if (next == '?') {
        return false;
      } else if (!start_tag()) {
        return false;
      }
      if (stopped_ || open_.empty()) return true;
    }
  }

  bool stop_if_asked() {
    stopped_ = !events_.stop_reason().empty();
    return true;
  }

  bool start_tag() {
    const std::size_t start = p_;
    ++p_;
    const std::string_view element = name();
    if (element.empty() || !name_ends_well() || !count_name(element)) return false;
    if (open_.size() == static_cast<std::size_t>(kMaxElementDepth)) return false;
    arena_.clear();
    offsets_.clear();
    arena_.append(element).push_back('\0');
    for (;;) {
      const std::size_t before_space = p_;
      skip_space();
      if (at_end()) return false;
      if (s_[p_] == '>' || starts_with("/>")) break;
      if (p_ == before_space) return false;  // attributes are separated by white space
      const std::string_view attribute = name();
      if (attribute.empty() || !name_ends_well() || !count_name(attribute)) return false;
      if (attribute == "xmlns" || offsets_.size() / 2 == kMaxAttributes) return false;
      for (std::size_t i = 0; i < offsets_.size(); i += 2) {  // duplicates are an error
        if (std::string_view(arena_.data() + offsets_[i]) == attribute) return false;
      }
      skip_space();
      if (at_end() || s_[p_] != '=') return false;
      ++p_;
      skip_space();
      if (at_end() || (s_[p_] != '"' && s_[p_] != '\'')) return false;
      offsets_.push_back(arena_.size());
      arena_.append(attribute).push_back('\0');
      offsets_.push_back(arena_.size());
      if (!attribute_value()) return false;
      arena_.push_back('\0');
      if (p_ - start > kMaxTagBytes) return false;
    }
    const bool empty = s_[p_] == '/';
    p_ += empty ? 2 : 1;
    if (p_ - start > kMaxTagBytes) return false;
    pointers_.clear();
    for (std::size_t offset : offsets_) pointers_.push_back(arena_.data() + offset);
    pointers_.push_back(nullptr);
    events_.start_element(std::string_view(arena_.data(), element.size()), pointers_.data(), 0);
    stop_if_asked();
    if (stopped_) return true;
    if (empty) {
      events_.end_element(0);
      return stop_if_asked();
    }
    open_.push_back(element);
    return true;
  }

  // The quoted value at p_, normalized as XML says: references replaced,
  // each literal white space character (and each "\r\n") becomes ' '.
  bool attribute_value() {
    const char quote = s_[p_++];
    for (;;) {
      const std::size_t run = p_;
      for (;;) {
        p_ = scan_to(kValueStop, p_);
        if (at_end() || byte(p_) != 0xEF || noncharacter_at(p_)) break;
        ++p_;  // another character starting with 0xEF
      }
      arena_.append(s_.substr(run, p_ - run));
      if (at_end()) return false;
      const char c = s_[p_];
      if (c == quote) {
        ++p_;
        return true;
      }
      if (c == '"' || c == '\'') {
        arena_ += c;
        ++p_;
      } else if (c == '&') {
        if (!reference(arena_)) return false;
      } else if (c == '\t' || c == '\n') {
        arena_ += ' ';
        ++p_;
      } else if (c == '\r') {
        arena_ += ' ';
        p_ += (p_ + 1 < s_.size() && s_[p_ + 1] == '\n') ? 2 : 1;
      } else {
        return false;  // '<', a disallowed control character, U+FFFE or U+FFFF
      }
    }
  }

  bool end_tag() {
    p_ += 2;
    const std::string_view element = name();
    if (element.empty() || open_.empty() || element != open_.back()) return false;
    skip_space();
    if (at_end() || s_[p_] != '>') return false;
    ++p_;
    open_.pop_back();
    events_.end_element(0);
    return stop_if_asked();
  }

  // Character data up to the next '<', in runs; line ends normalized to "\n".
  bool text() {
    while (!at_end()) {
      const std::size_t run = p_;
      for (;;) {
        p_ = scan_to(kTextStop, p_);
        if (at_end() || byte(p_) != 0xEF || noncharacter_at(p_)) break;
        ++p_;  // another character starting with 0xEF
      }
      if (p_ > run && !deliver(s_.substr(run, p_ - run))) return true;
      if (at_end()) return true;  // the caller sees the unclosed elements
      const char c = s_[p_];
      if (c == '<') return true;
      if (c == '&') {
        decoded_.clear();
        if (!reference(decoded_)) return false;
        if (!deliver(decoded_)) return true;
      } else if (c == '\r') {
        p_ += (p_ + 1 < s_.size() && s_[p_ + 1] == '\n') ? 2 : 1;
        if (!deliver("\n")) return true;
      } else if (c == ']') {
        if (starts_with("]]>")) return false;
        ++p_;
        if (!deliver("]")) return true;
      } else {
        return false;  // a disallowed control character, U+FFFE or U+FFFF
      }
    }
    return true;
  }

  // false when a handler stopped the run.
  bool deliver(std::string_view data) {
    events_.character_data(data);
    stop_if_asked();
    return !stopped_;
  }

  // <![CDATA[ ... ]]>: its text as character data, line ends normalized.
  bool cdata() {
    const std::size_t start = p_;
    p_ += 9;
    const std::size_t end = s_.find("]]>", p_);
    if (end == std::string_view::npos || end + 3 - start > kMaxTagBytes) return false;
    const std::string_view body = s_.substr(p_, end - p_);
    if (!valid_chars(body)) return false;
    p_ = end + 3;
    std::size_t run = 0;
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] != '\r') continue;
      if (i > run && !deliver(body.substr(run, i - run))) return true;
      if (!deliver("\n")) return true;
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
      run = i + 1;
    }
    if (body.size() > run) deliver(body.substr(run));
    return true;
  }

  std::string_view s_;
  XmlEvents& events_;
  std::size_t p_ = 0;
  bool stopped_ = false;
  std::vector<std::string_view> open_;  // names of the open elements
  std::size_t other_names_ = 0;
  std::array<std::string_view, 64> seen_{};  // see count_name()
  std::string arena_;                  // the current tag's name and attributes, NUL-terminated
  std::vector<std::size_t> offsets_;   // attribute names and values in arena_
  std::vector<const char*> pointers_;  // expat's attribute list
  std::string decoded_;                // one reference in character data
};

}  // namespace

bool run_plain_xml(std::string_view text, XmlEvents& events) {
  return PlainReader(text, events).run();
}

}  // namespace kettle::junit::detail
