#include "kettle/junit/strip.hpp"

#include <vector>

#include "kettle/junit/parser.hpp"

namespace kettle::junit {
namespace {

struct ByteRange {
  std::uint64_t begin;
  std::uint64_t end;  // one past the last byte
};

// Finds the <system-out>/<system-err> elements whose removal cannot change
// the tests of SPEC §3.1:
// - not the root, and not a child of <failure> (removing one there would join
//   the text around it into the failure's leading text);
// - not a direct child of a <testsuites> root that holds <testcase> children
//   itself (it counts as a suite there).
class OutputElements final : public detail::XmlEvents {
 public:
  // Outermost removable elements, in document order.
  const std::vector<ByteRange>& ranges() const { return ranges_; }

  void start_element(std::string_view name, const char**, std::uint64_t start_offset) override {
    const std::size_t depth = open_.size();
    if (depth == 0) root_is_testsuites_ = name == "testsuites";
    if (name == "testcase" && depth == 2 && root_is_testsuites_) open_.back().removable = false;
    const bool parent_is_failure = depth > 0 && open_.back().is_failure;
    const bool output = name == "system-out" || name == "system-err";
    open_.push_back({start_offset, name == "failure", output && depth > 0 && !parent_is_failure});
  }

  void end_element(std::uint64_t end_offset) override {
    const Open element = open_.back();
    open_.pop_back();
    if (!element.removable) return;
    // Ranges inside this one ended earlier: this range covers them.
    while (!ranges_.empty() && ranges_.back().begin >= element.start) ranges_.pop_back();
    ranges_.push_back({element.start, end_offset});
  }

  void character_data(std::string_view) override {}

 private:
  struct Open {
    std::uint64_t start;
    bool is_failure;
    bool removable;
  };
  std::vector<Open> open_;
  std::vector<ByteRange> ranges_;
  bool root_is_testsuites_ = false;
};

std::string without_ranges(std::string_view text, const std::vector<ByteRange>& ranges) {
  std::string out;
  out.reserve(text.size());
  std::uint64_t kept_from = 0;
  for (const ByteRange& range : ranges) {
    out.append(text.substr(kept_from, range.begin - kept_from));
    kept_from = range.end;
  }
  out.append(text.substr(kept_from));
  return out;
}

}  // namespace

std::string strip_output(std::string_view xml) {
  const detail::XmlInput input = detail::prepare_input(xml);
  OutputElements elements;
  if (!detail::run_expat(input, elements).empty()) return std::string(xml);
  // Offsets refer to the text expat read, which may be the repaired copy.
  return without_ranges(input.text(), elements.ranges());
}

}  // namespace kettle::junit
