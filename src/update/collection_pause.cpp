#include "kettle/update/collection_pause.hpp"

namespace kettle::update {

bool CollectionPause::full_wait_over(Clock::time_point now) const {
  return !full_at_ || now - *full_at_ >= config_.after_full;
}

bool CollectionPause::allow(const store::Headroom& headroom, Clock::time_point now) {
  paused_ = !headroom.ok || !full_wait_over(now);
  if (!paused_) full_at_.reset();
  last_check_ = now;
  return !paused_;
}

void CollectionPause::disk_full(Clock::time_point now) {
  paused_ = true;
  full_at_ = now;
}

bool CollectionPause::due(Clock::time_point now) {
  if (!paused_) return false;
  if (last_check_ && now - *last_check_ < config_.recheck) return false;
  last_check_ = now;
  return true;
}

bool CollectionPause::should_resume(const store::Headroom& headroom, Clock::time_point now) const {
  return paused_ && headroom.ok && full_wait_over(now);
}

}  // namespace kettle::update
