// JUnit XML: the parser (SPEC §3.1) and the stripper (§3.3) on any bytes.
// Invariants: stripping never changes the tests a document gives, and a
// stripped document strips to itself.
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view xml = fuzz::as_text(data, size);
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
