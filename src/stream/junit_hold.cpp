#include "kettle/stream/junit_hold.hpp"

#include <algorithm>

namespace kettle::stream {

JunitHold::JunitHold(JunitHoldConfig config) : config_(config) {
  config_.max_builds = std::max<std::size_t>(config_.max_builds, 1);
  config_.hold = std::max(config_.hold, std::chrono::milliseconds(0));
  config_.remember_late = std::max(config_.remember_late, std::chrono::milliseconds(0));
}

HoldVerdict JunitHold::decide(std::int64_t build_id, bool junit_missing, Clock::time_point now) {
  forget_old(now);
  auto found = index_.find(build_id);
  if (!junit_missing) {
    if (found != index_.end()) forget(found->second);
    return HoldVerdict::emit;
  }
  if (found == index_.end()) {
    if (index_.size() >= config_.max_builds) {
      // The oldest has waited longest: once past its hold it only saves a
      // warning. Otherwise every remembered build still waits, and the
      // newcomer goes now rather than push one of them back to a new wait.
      if (!past_hold(by_age_.front(), now)) return HoldVerdict::no_room;
      forget(by_age_.begin());
    }
    by_age_.push_back({build_id, now});
    found = index_.emplace(build_id, std::prev(by_age_.end())).first;
  }
  Entry& e = *found->second;
  if (!past_hold(e, now)) return HoldVerdict::hold;
  if (e.sent_late) return HoldVerdict::emit;
  e.sent_late = true;
  return HoldVerdict::late;
}

std::size_t JunitHold::held(Clock::time_point now) const {
  // The newest entries are the ones still within their hold.
  std::size_t n = 0;
  for (auto it = by_age_.rbegin(); it != by_age_.rend() && !past_hold(*it, now); ++it) ++n;
  return n;
}

void JunitHold::forget_old(Clock::time_point now) {
  while (!by_age_.empty() &&
         now - by_age_.front().first_missing >= config_.hold + config_.remember_late)
    forget(by_age_.begin());
}

void JunitHold::forget(std::list<Entry>::iterator it) {
  index_.erase(it->build_id);
  by_age_.erase(it);
}

}  // namespace kettle::stream
