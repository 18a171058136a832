#include "kettle/junit/strip.hpp"

#include <cstring>
#include <vector>

#include "kettle/junit/parser.hpp"

namespace kettle::junit {
namespace {

// Byte ranges to cut, in document order, each as two LEB128 numbers: the gap
// since the previous range and its length. An element costs at least 13
// bytes ("<system-out/>"), its range at most a few: the list stays a small
// fraction of the document however many elements it has.
class CutList {
 public:
  // A point to come back to: the ranges pushed after it are dropped.
  struct Mark {
    std::size_t encoded_size;
    std::uint64_t last_end;
  };

  Mark mark() const { return {encoded_.size(), last_end_}; }
  void rewind(Mark mark) {
    encoded_.resize(mark.encoded_size);
    last_end_ = mark.last_end;
  }

  // `begin` is not before the end of the previous range.
  void push(std::uint64_t begin, std::uint64_t end) {
    put(begin - last_end_);
    put(end - begin);
    last_end_ = end;
  }

  // Calls cut(begin, end) for each range, in order.
  template <class Cut>
  void for_each(Cut cut) const {
    std::size_t at = 0;
    std::uint64_t end = 0;
    while (at < encoded_.size()) {
      const std::uint64_t begin = end + get(at);
      end = begin + get(at);
      cut(begin, end);
    }
  }

 private:
  void put(std::uint64_t value) {
    while (value >= 0x80) {
      encoded_.push_back(static_cast<char>((value & 0x7F) | 0x80));
      value >>= 7;
    }
    encoded_.push_back(static_cast<char>(value));
  }

  std::uint64_t get(std::size_t& at) const {
    std::uint64_t value = 0;
    for (int shift = 0;; shift += 7) {
      const auto byte = static_cast<unsigned char>(encoded_[at++]);
      value |= std::uint64_t{byte & 0x7Fu} << shift;
      if (byte < 0x80) return value;
    }
  }

  std::string encoded_;
  std::uint64_t last_end_ = 0;
};

// Finds the <system-out>/<system-err> elements whose removal cannot change
// the tests of SPEC §3.1:
// - not the root, and not a child of <failure> (removing one there would join
//   the text around it into the failure's leading text);
// - not a direct child of a <testsuites> root that holds <testcase> children
//   itself (it counts as a suite there).
// Memory: the open elements (at most kMaxElementDepth) and the cut list.
class OutputElements final : public detail::XmlEvents {
 public:
  // Outermost removable elements, in document order.
  const CutList& cuts() const { return cuts_; }

  void start_element(std::string_view name, const char**, std::uint64_t start_offset) override {
    const std::size_t depth = open_.size();
    if (depth == 0) root_is_testsuites_ = name == "testsuites";
    if (name == "testcase" && depth == 2 && root_is_testsuites_) open_.back().removable = false;
    const bool parent_is_failure = depth > 0 && open_.back().is_failure;
    const bool output = name == "system-out" || name == "system-err";
    open_.push_back(
        {start_offset, cuts_.mark(), name == "failure", output && depth > 0 && !parent_is_failure});
  }

  void end_element(std::uint64_t end_offset) override {
    const Open element = open_.back();
    open_.pop_back();
    if (!element.removable) return;
    // Ranges inside this one ended earlier: this range covers them.
    cuts_.rewind(element.cuts_before);
    cuts_.push(element.start, end_offset);
  }

  void character_data(std::string_view) override {}

 private:
  struct Open {
    std::uint64_t start;
    CutList::Mark cuts_before;
    bool is_failure;
    bool removable;
  };
  std::vector<Open> open_;
  CutList cuts_;
  bool root_is_testsuites_ = false;
};

// Removes the ranges from `text` in place: the kept bytes move to the front.
void cut_in_place(std::string& text, const CutList& cuts) {
  std::size_t kept_to = 0;    // end of the kept bytes so far
  std::size_t read_from = 0;  // first byte not yet looked at
  auto keep = [&](std::size_t end) {
    if (kept_to != read_from)
      std::memmove(text.data() + kept_to, text.data() + read_from, end - read_from);
    kept_to += end - read_from;
  };
  cuts.for_each([&](std::uint64_t begin, std::uint64_t end) {
    keep(static_cast<std::size_t>(begin));
    read_from = static_cast<std::size_t>(end);
  });
  keep(text.size());
  text.resize(kept_to);
}

}  // namespace

std::string strip_output(std::string xml) {
  detail::XmlInput input = detail::prepare_input(xml);
  OutputElements elements;
  if (!detail::run_expat(input, elements).empty()) return xml;
  // Offsets refer to the text expat read, which may be the repaired copy.
  std::string& text = input.use_repaired ? input.repaired : xml;
  cut_in_place(text, elements.cuts());
  return std::move(text);
}

}  // namespace kettle::junit
