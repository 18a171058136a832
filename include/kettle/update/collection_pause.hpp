// When update collects: a pure decision, tested without a disk.
//
// Collection (and the loads) pause when the database's file system is below
// --min-free at the start of a cycle, or after a write failed with a full
// disk; the stream goes on meanwhile, so the tables stay fresh. The stream
// phase then measures the headroom every `recheck` and ends early once it is
// back, so the next cycle collects without waiting for the stop hour. After a
// full disk, collection resumes once the headroom was seen low and is back
// (space was freed), or after `after_full`: a disk that a quota or a burst
// filled may pass the headroom check and fill again at once.
#pragma once

#include <chrono>
#include <optional>

#include "kettle/store/headroom.hpp"

namespace kettle::update {

struct PauseConfig {
  std::chrono::seconds recheck{10};  // headroom measured this often during a paused stream phase
  std::chrono::seconds after_full{300};  // no new collection for this long after SQLITE_FULL
};

class CollectionPause {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CollectionPause(PauseConfig config = {}) : config_(config) {}

  // At the start of a cycle, with a fresh measurement: true = collect and load.
  bool allow(const store::Headroom& headroom, Clock::time_point now);
  // A write phase failed with SQLITE_FULL; `headroom` measured right after
  // (a full file system is below it: freed space then resumes collection).
  void disk_full(const store::Headroom& headroom, Clock::time_point now);
  bool paused() const { return paused_; }

  // During the stream phase: whether to measure the headroom now.
  bool due(Clock::time_point now);
  // With that measurement: whether to end the stream phase so a cycle collects.
  bool should_resume(const store::Headroom& headroom, Clock::time_point now);

 private:
  bool may_retry(const store::Headroom& headroom, Clock::time_point now);

  PauseConfig config_;
  bool paused_ = false;
  std::optional<Clock::time_point> full_at_;
  bool seen_low_since_full_ = false;
  std::optional<Clock::time_point> last_check_;
};

}  // namespace kettle::update
