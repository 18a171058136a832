// Which builds make-db fetches (SPEC §2): pure decisions, no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kettle::collect {

// An imprecise list (from latest-build.txt) may name builds that do not exist;
// walking it stops after this many builds already in the database.
inline constexpr int kMaxPresentInImpreciseList = 40;

// The "natural" sort key: every run of digits padded to 16 digits.
std::string natural_sort_key(std::string_view name);

// latest-build.txt (D11): a positive decimal integer with optional
// surrounding whitespace; nullopt otherwise (then the job is listed).
std::optional<int64_t> parse_latest_build(std::string_view text);

// A PR pointer object "pr-logs/directory/<job>/<build>.txt" (D10): job and
// build, or nullopt when it is not a pointer (not .txt, or latest-build.txt).
struct PointerName {
  std::string job;
  std::string build;
};
std::optional<PointerName> parse_pointer_name(std::string_view object_name);

// The build directory a pointer holds (D10): whitespace and trailing '/'
// stripped; nullopt when empty or not gs://.
std::optional<std::string> parse_pointer_target(std::string_view content);

// The (job, build) keys of builds already present (SPEC §2.1: the PR pass
// skips a pointer whose key is present before reading it). Each key is kept
// as a 128-bit SHA-256 prefix in a sorted vector: 16 bytes a build, so
// 500,000 PR builds take 8 MB, and a false match is out of reach.
class BuildKeySet {
 public:
  // The key of a build path: its last two segments (job, build).
  void add_path(std::string_view build_path);
  // Call once after the last add, before contains().
  void seal();
  bool contains(std::string_view job, std::string_view build) const;
  size_t size() const { return keys_.size(); }
  size_t memory_bytes() const { return keys_.capacity() * sizeof(Key); }

 private:
  struct Key {
    uint64_t hi = 0, lo = 0;
    auto operator<=>(const Key&) const = default;
  };
  static Key key_of(std::string_view job, std::string_view build);
  std::vector<Key> keys_;
};

// D9: a JUnit artifact is an object directly under artifacts/ whose file name
// matches junit.*\.xml.
bool is_junit_artifact(std::string_view artifacts_prefix, std::string_view object_name);

// Candidate builds of one job, newest first.
struct Candidates {
  bool precise = true;              // false: from latest-build.txt, numbers may not exist
  std::vector<std::string> listed;  // precise: the names
  int64_t latest = 0;               // imprecise: latest, latest-1, ... (count of them)
  int64_t count = 0;

  size_t size() const { return precise ? listed.size() : static_cast<size_t>(count); }
  std::string at(size_t i) const { return precise ? listed[i] : std::to_string(latest - static_cast<int64_t>(i)); }
};
// N, N-1, ..., 1, at most `limit` (0 = unlimited); numbers are made on demand.
Candidates sequential_candidates(int64_t latest, int64_t limit);
// Directory names sorted naturally, descending, at most `limit` (0 = unlimited).
Candidates listed_candidates(std::vector<std::string> names, int64_t limit);

// Walks candidates newest first, yielding those to fetch: present builds are
// skipped, and an imprecise walk ends once more than 40 present builds were
// met (SPEC §2.2). Lazy, so a latest-build.txt of 10^9 costs nothing up front.
class CandidateWalker {
 public:
  explicit CandidateWalker(Candidates candidates) : candidates_(std::move(candidates)) {}
  std::optional<std::string> next(const std::function<bool(const std::string& build)>& is_present);

 private:
  Candidates candidates_;
  size_t index_ = 0;
  int present_ = 0;
  bool done_ = false;
};

}  // namespace kettle::collect
