// JUnit XML: the parser (SPEC §3.1) and the stripper (§3.3) on any bytes.
// Invariants: the fast reader of plain JUnit, whenever it accepts a
// document, reports what expat reports; stripping never changes the tests a
// document gives, and a stripped document strips to itself.
#include <string>

#include "check.hpp"
#include "kettle/junit/parser.hpp"
#include "kettle/junit/strip.hpp"

using namespace kettle;

namespace {

bool same_tests(const std::vector<junit::TestCase>& a, const std::vector<junit::TestCase>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].time != b[i].time || a[i].failed != b[i].failed ||
        a[i].failure_text != b[i].failure_text)
      return false;
  }
  return true;
}

// The events of one run as text; adjacent character data merged (expat
// splits it at line ends and references).
class Recorder final : public junit::detail::XmlEvents {
 public:
  void start_element(std::string_view name, const char** attributes, std::uint64_t) override {
    text_ += "<";
    text_ += name;
    for (const char** a = attributes; *a != nullptr; a += 2) {
      text_ += '\0';
      text_ += a[0];
      text_ += '=';
      text_ += a[1];
    }
    text_ += ">";
    in_text_ = false;
  }
  void end_element(std::uint64_t) override {
    text_ += "</>";
    in_text_ = false;
  }
  void character_data(std::string_view chars) override {
    if (!in_text_) text_ += "\"";
    text_ += chars;
    in_text_ = true;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  bool in_text_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view xml = fuzz::as_text(data, size);
  const junit::detail::XmlInput input = junit::detail::prepare_input(xml);
  if (input.encoding != nullptr) {  // UTF-8: the fast reader's documents
    Recorder plain, expat;
    if (junit::detail::run_plain_xml(input.text(), plain)) {
      FUZZ_CHECK(junit::detail::run_expat(input, expat).empty());
      FUZZ_CHECK(plain.text() == expat.text());
    }
  }

  const junit::ParseResult parsed = junit::parse(xml);
  FUZZ_CHECK(parsed.ok() || parsed.tests.empty());
  for (const auto& test : parsed.tests) FUZZ_CHECK(test.failed || test.failure_text.empty());

  const std::string stripped = junit::strip_output(std::string(xml));
  const junit::ParseResult again = junit::parse(stripped);
  FUZZ_CHECK(again.ok() == parsed.ok());
  FUZZ_CHECK(same_tests(again.tests, parsed.tests));
  FUZZ_CHECK(junit::strip_output(stripped) == stripped);
  return 0;
}
