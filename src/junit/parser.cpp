#include "kettle/junit/parser.hpp"

#include <expat.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

namespace kettle::junit {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";
constexpr std::string_view kUnspecified = "<unspecified>";
constexpr std::string_view kNoFailureMessage = "No Failure Message Found";
// expat's separator between namespace URI and local name; ElementTree uses
// the same one, so "{uri}testsuite" never matches "testsuite" in either.
constexpr XML_Char kNamespaceSeparator = '}';

// ---------------------------------------------------------------- UTF-8

struct Utf8Step {
  std::size_t length;  // bytes consumed: the sequence, or its maximal invalid subpart
  bool valid;
};

// Classifies the sequence starting at s[i] (Unicode Table 3-7 well-formed
// byte sequences); an invalid one reports its maximal subpart.
Utf8Step utf8_step(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return {1, true};
  std::size_t continuation = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuation = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuation = 2;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuation = 3;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // beyond U+10FFFF
  } else {
    return {1, false};
  }
  for (std::size_t k = 1; k <= continuation; ++k) {
    if (i + k >= s.size()) return {k, false};
    const auto byte = static_cast<unsigned char>(s[i + k]);
    if (byte < low || byte > high) return {k, false};
    low = 0x80;
    high = 0xBF;
  }
  return {continuation + 1, true};
}

// Index of the first invalid UTF-8 sequence, or npos.
std::size_t first_invalid_utf8(std::string_view s) {
  constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
  std::size_t i = 0;
  while (i < s.size()) {
    // Eight ASCII bytes at a time: the common case for JUnit.
    if (i + 8 <= s.size()) {
      std::uint64_t word;
      std::memcpy(&word, s.data() + i, sizeof word);
      if ((word & kHighBits) == 0) {
        i += 8;
        continue;
      }
    }
    const Utf8Step step = utf8_step(s, i);
    if (!step.valid) return i;
    i += step.length;
  }
  return std::string_view::npos;
}

// Decodes the code point at s[i] of text known to be valid UTF-8.
char32_t decode_valid_utf8(std::string_view s, std::size_t& i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  char32_t cp = length == 1   ? lead
                : length == 2 ? (lead & 0x1F)
                : length == 3 ? (lead & 0x0F)
                              : (lead & 0x07);
  for (std::size_t k = 1; k < length && i + k < s.size(); ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  }
  i += length;
  return cp;
}

// ------------------------------------------------------------- encoding

bool ascii_iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// expat detects UTF-16 from these first bytes (a BOM, or "<" in UTF-16).
bool looks_utf16(std::string_view xml) {
  if (xml.size() < 2) return false;
  const auto b0 = static_cast<unsigned char>(xml[0]);
  const auto b1 = static_cast<unsigned char>(xml[1]);
  return (b0 == 0xFE && b1 == 0xFF) || (b0 == 0xFF && b1 == 0xFE) || (b0 == 0x00 && b1 == 0x3C) ||
         (b0 == 0x3C && b1 == 0x00);
}

// The encoding named by the XML declaration, if there is one. A broken
// declaration is left for expat to report.
std::optional<std::string_view> declared_encoding(std::string_view xml) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (xml.substr(0, kBom.size()) == kBom) xml.remove_prefix(kBom.size());
  if (xml.substr(0, 5) != "<?xml" || xml.size() < 6 || !is_xml_space(xml[5])) return std::nullopt;
  const std::string_view declaration = xml.substr(0, xml.find("?>"));
  std::size_t at = declaration.find("encoding");
  if (at == std::string_view::npos) return std::nullopt;
  at += std::string_view("encoding").size();
  while (at < declaration.size() && is_xml_space(declaration[at])) ++at;
  if (at >= declaration.size() || declaration[at] != '=') return std::nullopt;
  ++at;
  while (at < declaration.size() && is_xml_space(declaration[at])) ++at;
  if (at >= declaration.size() || (declaration[at] != '"' && declaration[at] != '\'')) {
    return std::nullopt;
  }
  const char quote = declaration[at++];
  const std::size_t end = declaration.find(quote, at);
  if (end == std::string_view::npos) return std::nullopt;
  return declaration.substr(at, end - at);
}

// Single-byte encodings expat does not know but Python's codecs (and so
// ElementTree) do. Undefined bytes decode as U+FFFD, as Python's handler does.
constexpr std::array<int, 32> kWindows1252High = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

enum class SingleByteCodec { none, latin1, windows1252, ascii };

// Python normalises codec names: case-insensitive, '-' and ' ' as '_'.
SingleByteCodec single_byte_codec(std::string_view name) {
  std::string key;
  for (char c : name) {
    if (c == '-' || c == ' ') c = '_';
    key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  for (std::string_view alias : {"latin1", "latin_1", "latin", "l1", "iso8859_1", "iso_8859_1",
                                 "cp819", "8859", "iso_ir_100", "csisolatin1", "ibm819"}) {
    if (key == alias) return SingleByteCodec::latin1;
  }
  for (std::string_view alias : {"cp1252", "windows_1252", "1252"}) {
    if (key == alias) return SingleByteCodec::windows1252;
  }
  for (std::string_view alias : {"ascii", "us_ascii", "646", "us"}) {
    if (key == alias) return SingleByteCodec::ascii;
  }
  return SingleByteCodec::none;
}

int XMLCALL on_unknown_encoding(void*, const XML_Char* name, XML_Encoding* info) {
  const SingleByteCodec codec = single_byte_codec(name);
  if (codec == SingleByteCodec::none) return XML_STATUS_ERROR;
  for (int byte = 0; byte < 256; ++byte) {
    int cp = byte;
    if (codec == SingleByteCodec::windows1252 && byte >= 0x80 && byte < 0xA0) {
      cp = kWindows1252High[static_cast<std::size_t>(byte - 0x80)];
    } else if (codec == SingleByteCodec::ascii && byte >= 0x80) {
      cp = 0xFFFD;
    }
    info->map[byte] = cp;
  }
  info->data = nullptr;
  info->convert = nullptr;
  info->release = nullptr;
  return XML_STATUS_OK;
}

// ------------------------------------------------------- expat's memory

// What expat holds for one document, counted through its allocator. Its
// tables keep every distinct element and attribute name until the end, and
// a start tag must fit whole in its buffer: unbounded, a flat hostile file
// costs it ten times its size.
struct ExpatMemory {
  std::size_t live = 0;  // bytes of the blocks expat holds
  bool refused = false;  // an allocation would have gone over kMaxParserBytes
};

// The document being parsed on this thread. expat's allocator functions take
// no context; every parser is created, run and freed inside run_expat.
thread_local ExpatMemory* current_expat_memory = nullptr;

class ExpatMemoryScope {
 public:
  explicit ExpatMemoryScope(ExpatMemory& memory) : previous_(current_expat_memory) {
    current_expat_memory = &memory;
  }
  ~ExpatMemoryScope() { current_expat_memory = previous_; }
  ExpatMemoryScope(const ExpatMemoryScope&) = delete;
  ExpatMemoryScope& operator=(const ExpatMemoryScope&) = delete;

 private:
  ExpatMemory* previous_;
};

// In front of every block: its owner and size, so that freeing needs neither
// a lookup nor the thread's current document.
struct alignas(std::max_align_t) BlockHeader {
  ExpatMemory* owner;
  std::size_t size;
};

// Grows, shrinks or creates (old == nullptr) a block within the budget.
// Sizes count the header: expat makes many small blocks.
void* resize_block(ExpatMemory& memory, void* old, std::size_t size) {
  BlockHeader* header = old ? static_cast<BlockHeader*>(old) - 1 : nullptr;
  const std::size_t others = memory.live - (header ? header->size : 0);
  const std::size_t room = kMaxParserBytes - others;  // live never exceeds the limit
  if (room < sizeof(BlockHeader) || size > room - sizeof(BlockHeader)) {
    memory.refused = true;
    return nullptr;
  }
  size += sizeof(BlockHeader);
  void* block = std::realloc(header, size);
  if (!block) return nullptr;
  header = static_cast<BlockHeader*>(block);
  header->owner = &memory;
  header->size = size;
  memory.live = others + size;
  return header + 1;
}

void* expat_malloc(std::size_t size) { return resize_block(*current_expat_memory, nullptr, size); }

void* expat_realloc(void* old, std::size_t size) {
  if (!old) return expat_malloc(size);
  return resize_block(*(static_cast<BlockHeader*>(old) - 1)->owner, old, size);
}

void expat_free(void* block) {
  if (!block) return;
  BlockHeader* header = static_cast<BlockHeader*>(block) - 1;
  header->owner->live -= header->size;
  std::free(header);
}

constexpr XML_Memory_Handling_Suite kExpatMemorySuite{expat_malloc, expat_realloc, expat_free};

// ---------------------------------------------------------------- expat

struct ExpatDeleter {
  void operator()(XML_Parser parser) const { XML_ParserFree(parser); }
};
using ExpatParser = std::unique_ptr<std::remove_pointer_t<XML_Parser>, ExpatDeleter>;

struct ExpatRun {
  XML_Parser parser;
  detail::XmlEvents* events;
  int depth = 0;            // elements open
  bool stopped = false;     // ended early; nothing more is passed on
  std::string stop_reason;  // "line L, column C: why"
};

std::string position_message(XML_Parser parser, std::string_view what) {
  return "line " + std::to_string(XML_GetCurrentLineNumber(parser)) + ", column " +
         std::to_string(XML_GetCurrentColumnNumber(parser)) + ": " + std::string(what);
}

ExpatRun& run_of(void* user_data) { return *static_cast<ExpatRun*>(user_data); }

// Ends the run as malformed. expat may still call handlers for what it has
// already read (the end of "<a/>"); they are not passed on.
void stop_run(ExpatRun& run, std::string_view reason) {
  if (run.stopped) return;
  run.stopped = true;
  // Where the event began; once stopped, expat reports where it stopped.
  run.stop_reason = position_message(run.parser, reason);
  XML_StopParser(run.parser, XML_FALSE);
}

// A handler of the events may end the run too.
void stop_if_asked(ExpatRun& run) {
  if (!run.events->stop_reason().empty()) stop_run(run, run.events->stop_reason());
}

void XMLCALL on_start(void* user_data, const XML_Char* name, const XML_Char** attributes) {
  ExpatRun& run = run_of(user_data);
  if (run.stopped) return;
  // expat keeps every open element (about fifty times the bytes of "<a>"):
  // stopping here bounds its memory and ours.
  if (run.depth == kMaxElementDepth) {
    stop_run(run, "elements nested deeper than the limit of " + std::to_string(kMaxElementDepth) +
                      " levels");
    return;
  }
  ++run.depth;
  run.events->start_element(name, attributes,
                            static_cast<std::uint64_t>(XML_GetCurrentByteIndex(run.parser)));
  stop_if_asked(run);
}

void XMLCALL on_end(void* user_data, const XML_Char*) {
  ExpatRun& run = run_of(user_data);
  if (run.stopped) return;
  --run.depth;
  // The end tag's last byte; for "<a/>" expat reports the position after it.
  const auto end = XML_GetCurrentByteIndex(run.parser) + XML_GetCurrentByteCount(run.parser);
  run.events->end_element(static_cast<std::uint64_t>(end));
  stop_if_asked(run);
}

void XMLCALL on_text(void* user_data, const XML_Char* text, int length) {
  ExpatRun& run = run_of(user_data);
  if (run.stopped) return;
  run.events->character_data(std::string_view(text, static_cast<std::size_t>(std::max(length, 0))));
  stop_if_asked(run);
}

// SPEC D1: any DTD makes the document malformed, before anything in it is used.
void stop_for_dtd(void* user_data) {
  stop_run(run_of(user_data), "DTD (DOCTYPE or entity declaration) not allowed");
}

void XMLCALL on_doctype(void* user_data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  stop_for_dtd(user_data);
}

void XMLCALL on_entity_declaration(void* user_data, const XML_Char*, int, const XML_Char*, int,
                                   const XML_Char*, const XML_Char*, const XML_Char*,
                                   const XML_Char*) {
  stop_for_dtd(user_data);
}

// -------------------------------------------------------------- numbers

// Zeros of the Unicode decimal digit runs Python's float() accepts (each
// run is ten consecutive code points, zero to nine).
constexpr std::array<char32_t, 66> kDecimalZeros = {
    0x30,    0x660,   0x6F0,   0x7C0,   0x966,   0x9E6,   0xA66,   0xAE6,   0xB66,   0xBE6,
    0xC66,   0xCE6,   0xD66,   0xDE6,   0xE50,   0xED0,   0xF20,   0x1040,  0x1090,  0x17E0,
    0x1810,  0x1946,  0x19D0,  0x1A80,  0x1A90,  0x1B50,  0x1BB0,  0x1C40,  0x1C50,  0xA620,
    0xA8D0,  0xA900,  0xA9D0,  0xA9F0,  0xAA50,  0xABF0,  0xFF10,  0x104A0, 0x10D30, 0x11066,
    0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0,
    0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2,
    0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0};

// Code points Python's str.isspace() accepts (and float() strips).
bool is_python_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::optional<char> decimal_digit(char32_t cp) {
  for (char32_t zero : kDecimalZeros) {
    if (cp >= zero && cp < zero + 10) return static_cast<char>('0' + (cp - zero));
  }
  return std::nullopt;
}

// Like Python's float(): Unicode spaces become ' ' and Unicode decimal digits
// ASCII digits; any other non-ASCII character makes the text no number.
std::optional<std::string> to_ascii_number_text(std::string_view text) {
  std::string ascii;
  ascii.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ascii += text[i++];
      continue;
    }
    const char32_t cp = decode_valid_utf8(text, i);
    if (is_python_space(cp)) {
      ascii += ' ';
    } else if (auto digit = decimal_digit(cp)) {
      ascii += *digit;
    } else {
      return std::nullopt;
    }
  }
  return ascii;
}

std::string_view trim_python_space(std::string_view s) {
  auto space = [](char c) { return is_python_space(static_cast<unsigned char>(c)); };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Python's digitpart: digit (["_"] digit)*. Appends the digits to `out`.
bool read_digit_part(std::string_view s, std::size_t& i, std::string& out) {
  if (i >= s.size() || !is_digit(s[i])) return false;
  out += s[i++];
  while (i < s.size()) {
    if (is_digit(s[i])) {
      out += s[i++];
    } else if (s[i] == '_' && i + 1 < s.size() && is_digit(s[i + 1])) {
      out += s[i + 1];
      i += 2;
    } else {
      break;
    }
  }
  return true;
}

// A decimal number in Python's float syntax, without sign and underscores
// ("12.5e-3"), so that from_chars reads it; nullopt when the syntax is wrong.
std::optional<std::string> plain_decimal(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  const bool has_integer = read_digit_part(s, i, out);
  bool has_fraction = false;
  if (i < s.size() && s[i] == '.') {
    out += s[i++];
    has_fraction = read_digit_part(s, i, out);
  }
  if (!has_integer && !has_fraction) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    out += 'e';
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) out += s[i++];
    if (!read_digit_part(s, i, out)) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  return out;
}

// Decimal order of magnitude of a plain decimal too large or too small for a
// double; positive means overflow. Only its sign matters.
long long magnitude_of(std::string_view plain) {
  const std::size_t e = plain.find('e');
  long long exponent = 0;
  if (e != std::string_view::npos) {
    std::string_view digits = plain.substr(e + 1);
    const bool negative = !digits.empty() && digits.front() == '-';
    if (!digits.empty() && (digits.front() == '-' || digits.front() == '+'))
      digits.remove_prefix(1);
    for (char c : digits) exponent = std::min<long long>(exponent * 10 + (c - '0'), 1'000'000'000);
    if (negative) exponent = -exponent;
  }
  const std::string_view mantissa = plain.substr(0, e);
  const std::size_t point = std::min(mantissa.find('.'), mantissa.size());
  const std::size_t first_significant = mantissa.find_first_not_of("0.");
  if (first_significant == std::string_view::npos) return 0;  // zero never leaves range
  const long long position = first_significant < point
                                 ? static_cast<long long>(point - first_significant)
                                 : -static_cast<long long>(first_significant - point - 1);
  return position + exponent;
}

// Digits with at most one '.' between digits, as nearly every JUnit time
// is: from_chars reads them as Python's float() does, without the general
// path's copies. nullopt for anything else.
std::optional<double> plain_ascii_number(std::string_view text) {
  constexpr std::size_t kMaxPlainDigits = 32;  // cannot overflow a double
  if (text.empty() || text.size() > kMaxPlainDigits) return std::nullopt;
  bool seen_dot = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (is_digit(text[i])) continue;
    if (text[i] != '.' || seen_dot || i == 0 || i + 1 == text.size()) return std::nullopt;
    seen_dot = true;
  }
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ------------------------------------------------------------- JUnit

// Builds the tests of SPEC §3.1 from the element events.
class JunitBuilder final : public detail::XmlEvents {
 public:
  explicit JunitBuilder(TestSink& sink) : sink_(sink) {}

  void start_element(std::string_view name, const char** attributes, std::uint64_t) override {
    const int depth = depth_++;
    if (depth == 0) {
      start_root(name);
    } else if (root_ == Root::testsuites && depth == 1) {
      suite_name_ = name_or_unspecified(detail::find_attribute(attributes, "name"));
    } else if (depth == case_depth_ && root_ != Root::other && name == "testcase") {
      start_case(attributes);
    } else if (in_case_ && depth == case_depth_ + 1) {
      start_case_child(name, attributes);
    } else if (in_failure_ && depth == case_depth_ + 2) {
      failure_leading_text_ = false;  // ElementTree's .text ends at the first child
    }
  }

  void end_element(std::uint64_t) override {
    const int depth = --depth_;
    if (in_failure_ && depth == case_depth_ + 1) {
      end_failure();
    } else if (in_case_ && depth == case_depth_) {
      if (!skipped_) sink_.test(current_);
      in_case_ = false;
    }
  }

  void character_data(std::string_view text) override {
    if (!failure_leading_text_) return;
    failure_text_.append(text);
    // Bounded while it grows: the text of one failure may be the whole file.
    if (tests_bytes_ + failure_message_.size() + failure_text_.size() > kMaxTestsBytes) {
      failure_leading_text_ = false;
      spend(failure_message_.size() + failure_text_.size());
    }
  }

 private:
  enum class Root { testsuite, testsuites, other };

  static std::string name_or_unspecified(const char* name) {
    return name ? std::string(name) : std::string(kUnspecified);
  }

  void start_root(std::string_view name) {
    if (name == "testsuite") {
      root_ = Root::testsuite;
      case_depth_ = 1;
    } else if (name == "testsuites") {
      root_ = Root::testsuites;
      case_depth_ = 2;
    }
  }

  void start_case(const char** attributes) {
    const char* attribute = detail::find_attribute(attributes, "name");
    const std::string_view name = attribute ? std::string_view(attribute) : kUnspecified;
    const bool in_suite = root_ == Root::testsuites;
    if (!spend(sizeof(TestCase) + (in_suite ? suite_name_.size() + 1 : 0) + name.size())) return;
    in_case_ = true;
    skipped_ = false;
    // Assigned in place: the strings keep their capacity from test to test.
    current_.name.clear();
    if (in_suite) current_.name.append(suite_name_).append(1, ' ');
    current_.name.append(name);
    current_.time = 0.0;
    current_.failed = false;
    current_.failure_text.clear();
    if (const char* time = detail::find_attribute(attributes, "time"))
      current_.time = parse_time(time);
  }

  void start_case_child(std::string_view name, const char** attributes) {
    if (name == "skipped") {
      skipped_ = true;
    } else if (name == "failure") {
      in_failure_ = true;
      failure_leading_text_ = true;
      const char* message = detail::find_attribute(attributes, "message");
      failure_message_ = message ? message : "";
      failure_text_.clear();
    }
  }

  void end_failure() {
    in_failure_ = false;
    failure_leading_text_ = false;
    // Swapped, not copied: either part may be as large as the document, and
    // the buffers keep their capacity for the next failure.
    std::string& text = current_.failure_text;
    if (!failure_message_.empty() && !failure_text_.empty()) {
      text.clear();
      text.reserve(failure_message_.size() + 1 + failure_text_.size());
      text.append(failure_message_).append(1, '\n').append(failure_text_);
    } else if (!failure_message_.empty()) {
      text.swap(failure_message_);
    } else if (!failure_text_.empty()) {
      text.swap(failure_text_);
    } else {
      text.assign(kNoFailureMessage);
    }
    failure_message_.clear();
    failure_text_.clear();
    if (!spend(text.size())) {
      text.clear();
      return;
    }
    current_.failed = true;
  }

  // Counts bytes of the tests against kMaxTestsBytes; false (and the run
  // stopped) once they are over it.
  bool spend(std::size_t bytes) {
    tests_bytes_ += bytes;
    if (tests_bytes_ <= kMaxTestsBytes) return true;
    stop("the tests take more than the limit of " + std::to_string(kMaxTestsBytes) + " bytes");
    return false;
  }

  TestSink& sink_;
  Root root_ = Root::other;
  int depth_ = 0;        // elements open before the current event
  int case_depth_ = -1;  // depth of the testcase elements that count
  std::string suite_name_;
  bool in_case_ = false;
  bool skipped_ = false;
  TestCase current_;
  bool in_failure_ = false;
  bool failure_leading_text_ = false;
  std::string failure_message_;
  std::string failure_text_;
  std::size_t tests_bytes_ = 0;  // of the tests read so far, skipped ones included
};

}  // namespace

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + 16);
  while (!bytes.empty()) {
    const std::size_t bad = first_invalid_utf8(bytes);
    if (bad == std::string_view::npos) {
      out.append(bytes);
      break;
    }
    out.append(bytes.substr(0, bad));
    out.append(kReplacementCharacter);
    bytes.remove_prefix(bad + utf8_step(bytes, bad).length);
  }
  return out;
}

double parse_time(std::string_view text) {
  if (const std::optional<double> plain = plain_ascii_number(text)) return *plain;
  const std::optional<std::string> ascii = to_ascii_number_text(text);
  if (!ascii) return 0.0;
  std::string_view number = trim_python_space(*ascii);
  bool negative = false;
  if (!number.empty() && (number.front() == '+' || number.front() == '-')) {
    negative = number.front() == '-';
    number.remove_prefix(1);
  }
  // Anything else Python accepts (inf, nan) is not finite: 0.0 as well (SPEC D2).
  const std::optional<std::string> plain = plain_decimal(number);
  if (!plain) return 0.0;
  double value = 0.0;
  const auto [end, error] = std::from_chars(plain->data(), plain->data() + plain->size(), value);
  if (error == std::errc::result_out_of_range) {
    // Overflow is infinity in Python (so 0.0); underflow is a signed zero.
    if (magnitude_of(*plain) > 0) return 0.0;
    return negative ? -0.0 : 0.0;
  }
  if (error != std::errc() || end != plain->data() + plain->size()) return 0.0;
  return negative ? -value : value;
}

namespace detail {

XmlInput prepare_input(std::string_view xml) {
  XmlInput input;
  input.original = xml;
  if (looks_utf16(xml)) return input;
  const std::optional<std::string_view> declared = declared_encoding(xml);
  if (declared && !ascii_iequals(*declared, "utf-8") && !ascii_iequals(*declared, "utf8")) {
    return input;
  }
  // Forced, so that the alias "utf8" (unknown to expat) reads as UTF-8 too.
  input.encoding = "UTF-8";
  if (first_invalid_utf8(xml) != std::string_view::npos) {
    input.repaired = sanitize_utf8(xml);
    input.use_repaired = true;
  }
  return input;
}

const char* find_attribute(const char** attributes, std::string_view name) {
  for (const char** at = attributes; at && at[0]; at += 2) {
    // Compared without measuring at[0] first: this runs for every attribute of every element.
    if (std::strncmp(at[0], name.data(), name.size()) == 0 && at[0][name.size()] == '\0') return at[1];
  }
  return nullptr;
}

std::string run_expat(const XmlInput& input, XmlEvents& events) {
  ExpatMemory memory;
  const ExpatMemoryScope memory_scope(memory);
  ExpatParser parser(XML_ParserCreate_MM(input.encoding, &kExpatMemorySuite, &kNamespaceSeparator));
  if (!parser) return "cannot create an XML parser (out of memory)";
  ExpatRun run{parser.get(), &events, 0, false, {}};
  XML_SetUserData(parser.get(), &run);
  XML_SetElementHandler(parser.get(), on_start, on_end);
  XML_SetCharacterDataHandler(parser.get(), on_text);
  XML_SetStartDoctypeDeclHandler(parser.get(), on_doctype);
  XML_SetEntityDeclHandler(parser.get(), on_entity_declaration);
  XML_SetParamEntityParsing(parser.get(), XML_PARAM_ENTITY_PARSING_NEVER);
  XML_SetUnknownEncodingHandler(parser.get(), on_unknown_encoding, nullptr);

  const std::string_view text = input.text();
  std::size_t fed = 0;
  do {
    const std::size_t length = std::min(kFeedChunkBytes, text.size() - fed);
    const bool last = fed + length == text.size();
    if (XML_Parse(parser.get(), text.data() + fed, static_cast<int>(length), last) !=
        XML_STATUS_OK) {
      const XML_Error code = XML_GetErrorCode(parser.get());
      if (code == XML_ERROR_ABORTED && run.stopped) return run.stop_reason;
      if (code == XML_ERROR_NO_MEMORY && memory.refused) {
        return position_message(parser.get(), "the XML parser needs more than the limit of " +
                                                  std::to_string(kMaxParserBytes) +
                                                  " bytes for this document");
      }
      return position_message(parser.get(), XML_ErrorString(code));
    }
    fed += length;
  } while (fed < text.size());
  return {};
}

}  // namespace detail

std::string for_each_test(std::string_view xml, TestSink& sink) {
  const detail::XmlInput input = detail::prepare_input(xml);
  if (input.encoding != nullptr) {  // UTF-8: most JUnit takes the fast path
    JunitBuilder plain(sink);
    if (detail::run_plain_xml(input.text(), plain)) {
      if (!plain.stop_reason().empty()) sink.rewind();
      return plain.stop_reason();
    }
    sink.rewind();
  }
  JunitBuilder builder(sink);
  std::string error = detail::run_expat(input, builder);
  if (!error.empty()) sink.rewind();
  return error;
}

ParseResult parse(std::string_view xml) {
  struct Collect final : TestSink {
    std::vector<TestCase> tests;
    void test(const TestCase& t) override { tests.push_back(t); }
    void rewind() override { tests.clear(); }
  } collect;
  ParseResult result;
  result.error = for_each_test(xml, collect);
  result.tests = std::move(collect.tests);
  return result;
}

}  // namespace kettle::junit
