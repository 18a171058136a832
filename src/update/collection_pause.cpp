#include "kettle/update/collection_pause.hpp"

namespace kettle::update {

bool CollectionPause::may_retry(const store::Headroom& headroom, Clock::time_point now) {
  if (!headroom.ok) {
    seen_low_since_full_ = true;
    return false;
  }
  return !full_at_ || seen_low_since_full_ || now - *full_at_ >= config_.after_full;
}

bool CollectionPause::allow(const store::Headroom& headroom, Clock::time_point now) {
  paused_ = !may_retry(headroom, now);
  if (!paused_) {
    full_at_.reset();
    seen_low_since_full_ = false;
  }
  last_check_ = now;
  return !paused_;
}

void CollectionPause::disk_full(const store::Headroom& headroom, Clock::time_point now) {
  paused_ = true;
  full_at_ = now;
  seen_low_since_full_ = !headroom.ok;
}

bool CollectionPause::due(Clock::time_point now) {
  if (!paused_) return false;
  if (last_check_ && now - *last_check_ < config_.recheck) return false;
  last_check_ = now;
  return true;
}

bool CollectionPause::should_resume(const store::Headroom& headroom, Clock::time_point now) {
  return paused_ && may_retry(headroom, now);
}

}  // namespace kettle::update
