// Whether `kettle stream` sends a finished build's row now or waits for its
// JUnit. A row is inserted once per table and never sent again (the `all`
// table is append-only), so a row sent while the build's JUnit download has
// failed would keep no tests for good. The row of a build whose JUnit is still
// missing waits, up to a bounded hold; past it the row goes without tests, so
// a build whose JUnit can never be read is late, never lost. No I/O: the caller
// says whether the JUnit is missing and what time it is.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>

namespace kettle::stream {

struct JunitHoldConfig {
  // How long a row waits for its build's JUnit, from the first round that
  // found it missing: room for several download retries through a GCS or
  // disk outage, and short next to the day table's window. 0: no wait.
  // `stream` / `update` --junit-hold.
  std::chrono::milliseconds hold = std::chrono::minutes(30);
  // How long a build sent without tests stays remembered after its hold, so
  // that a retried insert or another table sends it again at once and
  // without another warning.
  std::chrono::milliseconds remember_late = std::chrono::minutes(30);
  // Builds remembered at once (waiting, or recently sent without tests).
  // Far above a realistic backlog; when full, the oldest one past its hold is
  // forgotten, and if every one still waits, a newly missing build does not
  // wait (its row goes at once): the cap delays no row. At least 1.
  std::size_t max_builds = 100'000;
};

enum class HoldVerdict {
  emit,     // send the row: its JUnit is stored, or it was already sent late
  hold,     // JUnit missing, within the hold: leave the row for a later round
  late,     // JUnit still missing after the hold: send without tests, warn (once per build)
  no_room,  // JUnit missing and max_builds builds already remembered: send without tests, warn
};

// One per stream. Not thread-safe: one caller at a time.
class JunitHold {
 public:
  using Clock = std::chrono::steady_clock;

  explicit JunitHold(JunitHoldConfig config = {});

  // The verdict on the row of `build_id`, whose JUnit is (still) missing or
  // not. A build no longer missing is forgotten; `now` never goes back.
  HoldVerdict decide(std::int64_t build_id, bool junit_missing, Clock::time_point now);

  // Builds whose row waits at `now`.
  std::size_t held(Clock::time_point now) const;
  // Builds remembered (at most config.max_builds).
  std::size_t remembered() const { return index_.size(); }

 private:
  struct Entry {
    std::int64_t build_id;
    Clock::time_point first_missing;
    bool sent_late = false;
  };
  bool past_hold(const Entry& e, Clock::time_point now) const {
    return now - e.first_missing >= config_.hold;
  }
  void forget_old(Clock::time_point now);
  void forget(std::list<Entry>::iterator it);

  JunitHoldConfig config_;
  std::list<Entry> by_age_;  // first_missing order: the oldest first
  std::unordered_map<std::int64_t, std::list<Entry>::iterator> index_;
};

}  // namespace kettle::stream
