// JUnit XML -> tests (SPEC §3.1), streaming with expat.
//
// Secure by construction (SPEC D1): a document with a DTD is malformed; no
// entity is ever expanded and nothing external is fetched. Invalid UTF-8 in a
// UTF-8 document becomes U+FFFD (SPEC D12). Never throws on bad input.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kettle::junit {

struct TestCase {
  std::string name;
  double time = 0.0;  // finite; an unusable value is 0.0 (SPEC D2)
  bool failed = false;
  std::string failure_text;  // set when failed
};

struct ParseResult {
  std::vector<TestCase> tests;  // empty when the document is malformed
  std::string error;            // empty when well-formed; else what and where ("line 3, column 7: ...")
  bool ok() const { return error.empty(); }
};

// Tests of one JUnit document, in document order; skipped testcases left out.
ParseResult parse(std::string_view xml);

// Replaces invalid UTF-8 sequences by U+FFFD (one per maximal invalid subpart).
std::string sanitize_utf8(std::string_view bytes);

}  // namespace kettle::junit
