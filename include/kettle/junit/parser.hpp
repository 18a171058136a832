// JUnit XML -> tests (SPEC §3.1), streaming with expat.
//
// Secure by construction (SPEC D1): a document with a DTD is malformed; no
// entity is ever expanded and nothing external is fetched. Invalid UTF-8 in a
// UTF-8 document becomes U+FFFD (SPEC D12). Never throws on bad input.
//
// Every JUnit file comes from a bucket anyone's CI writes to, so what one
// document may cost is bounded by the limits below: beyond the document (and
// its repaired copy, if it has invalid UTF-8), memory is a bounded amount.
// A document nested deeper than kMaxElementDepth is malformed where SPEC §3.1
// ignores deeper nesting: a deliberate deviation, since expat keeps every
// open element (about fifty times the bytes of "<a>").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kettle::junit {

// Limits on one document; each bounds what a hostile file can cost. A
// document beyond one is malformed: no tests.
//
// Elements open at once, the root included. Real JUnit nests five or six
// levels. expat stops at the first element beyond this one, and
// strip_output() stores such a document unchanged.
inline constexpr int kMaxElementDepth = 256;
// Bytes expat may hold for one document: its buffer, where a start tag must
// fit whole (so some 15 MB of attributes at most), and its tables, which keep
// every distinct element and attribute name. Real JUnit of any size needs a
// few megabytes. strip_output() stores a document beyond it unchanged.
inline constexpr std::size_t kMaxParserBytes = std::size_t{64} << 20;
// Bytes of the tests parse() may return for one document: names, failure
// texts and sizeof(TestCase) for each test, about a million tests at most.
// Real JUnit has up to tens of thousands; a row holding this many would be
// near or over the 100 MB row limit of SPEC §3.2. It bounds a suite name
// repeated in every testcase name, which would otherwise grow quadratically.
inline constexpr std::size_t kMaxTestsBytes = 100'000'000;
// Bytes handed to expat per call: bounds expat's buffer on huge documents.
inline constexpr std::size_t kFeedChunkBytes = std::size_t{1} << 20;

struct TestCase {
  std::string name;
  double time = 0.0;  // finite; an unusable value is 0.0 (SPEC D2)
  bool failed = false;
  std::string failure_text;  // set when failed
};

struct ParseResult {
  std::vector<TestCase> tests;  // empty when the document is malformed
  std::string error;  // empty when well-formed; else what and where ("line 3, column 7: ...")
  bool ok() const { return error.empty(); }
};

// Where for_each_test puts the tests of a document.
class TestSink {
 public:
  virtual ~TestSink() = default;
  // The next test, in document order; valid during the call only, so a sink
  // that serializes tests allocates nothing per test.
  virtual void test(const TestCase& test) = 0;
  // Forget every test given for this document so far.
  virtual void rewind() = 0;
};

// The tests of one JUnit document (skipped testcases left out): those given
// to `sink` after its last rewind(). Returns "" when the document is
// well-formed, else the error as ParseResult::error, after a rewind() (a
// malformed document has no tests).
std::string for_each_test(std::string_view xml, TestSink& sink);

// Tests of one JUnit document, in document order; skipped testcases left out.
ParseResult parse(std::string_view xml);

// Replaces invalid UTF-8 sequences by U+FFFD (one per maximal invalid subpart).
std::string sanitize_utf8(std::string_view bytes);

// Python's float() of an attribute value, made total (SPEC D2): text that is
// not a finite number gives 0.0.
double parse_time(std::string_view text);

// Shared by parse() and strip_output(); not part of the component's contract.
namespace detail {

// A document as expat should read it (SPEC D12): UTF-8 documents with invalid
// sequences are read from a repaired copy.
struct XmlInput {
  std::string_view original;
  std::string repaired;  // filled only when `original` needed repair
  bool use_repaired = false;
  const char* encoding = nullptr;  // forced encoding, or nullptr: expat decides
  std::string_view text() const { return use_repaired ? std::string_view(repaired) : original; }
};
XmlInput prepare_input(std::string_view xml);

// What an expat run reports. Names are expat's namespace-expanded names
// ("uri}local" for namespaced elements), as ElementTree sees them. Offsets
// are byte offsets into XmlInput::text(). Never more than kMaxElementDepth
// elements are open.
class XmlEvents {
 public:
  virtual ~XmlEvents() = default;
  virtual void start_element(std::string_view name, const char** attributes,
                             std::uint64_t start_offset) = 0;
  virtual void end_element(std::uint64_t end_offset) = 0;
  virtual void character_data(std::string_view text) = 0;

  // Why a handler ended the run early ("" while it goes on).
  const std::string& stop_reason() const { return stop_reason_; }

 protected:
  // Makes the document malformed for `reason`; expat reads no further.
  void stop(std::string reason) {
    if (stop_reason_.empty()) stop_reason_ = std::move(reason);
  }

 private:
  std::string stop_reason_;
};

// Streams the input through a secured expat parser. Returns "" when the
// document is well-formed, has no DTD, stays within kMaxElementDepth and no
// handler stopped it; else "line L, column C: what".
std::string run_expat(const XmlInput& input, XmlEvents& events);

// Reads the usual shape of JUnit without expat, several times faster:
// UTF-8 text (as prepare_input gives it), an optional XML declaration,
// ASCII element and attribute names without ':', no xmlns attribute, no DTD,
// no processing instruction, comments and CDATA sections, and far less than
// expat's limits allow. Returns false as soon as the document leaves that
// shape or is not well-formed: the caller then forgets the events given so
// far and reads it with run_expat, which decides. True: the events were the
// ones run_expat gives (offsets aside: always 0) and the document is
// well-formed, or a handler stopped the run.
bool run_plain_xml(std::string_view text, XmlEvents& events);

// Value of attribute `name` in expat's attribute list, or nullptr.
const char* find_attribute(const char** attributes, std::string_view name);

}  // namespace detail
}  // namespace kettle::junit
