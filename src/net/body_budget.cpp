#include "kettle/net/body_budget.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

namespace kettle::net {

namespace asio = boost::asio;

// A parked coroutine: its timer never expires; serve() cancels it to wake it.
struct BodyBudget::Waiter {
  Waiter(const asio::any_io_executor& ex, std::uint64_t id, std::size_t n, Lease* growing)
      : timer(ex, asio::steady_timer::time_point::max()),
        ticket(id),
        bytes(n),
        lease(growing),
        holder(growing != nullptr && growing->held() > 0) {}
  asio::steady_timer timer;
  std::uint64_t ticket;
  std::size_t bytes;  // to take (growth), or the room to wait for (admission)
  Lease* lease;       // null for an admission
  bool holder;        // the lease held bytes when it began to wait
  bool granted = false;
};

BodyBudget::Lease::Lease(Lease&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      ticket_(other.ticket_),
      held_(std::exchange(other.held_, 0)) {}

BodyBudget::Lease& BodyBudget::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    ticket_ = other.ticket_;
    held_ = std::exchange(other.held_, 0);
  }
  return *this;
}

BodyBudget::Lease::~Lease() { release(); }

void BodyBudget::Lease::release() {
  if (owner_ == nullptr) return;
  BodyBudget* owner = std::exchange(owner_, nullptr);
  if (held_ > 0) owner->give(*this, held_);
  if (owner->privileged_ == ticket_) {
    owner->privileged_.reset();
    owner->serve();
  }
}

asio::awaitable<bool> BodyBudget::Lease::grow_to(std::size_t bytes) {
  if (owner_ == nullptr) co_return false;
  if (bytes <= held_) co_return true;
  const std::size_t more = bytes - held_;
  BodyBudget& budget = *owner_;
  if (budget.may_grow_now(ticket_, more)) {
    budget.take(*this, more);
    budget.changed();
    co_return true;
  }
  Waiter waiter(budget.executor_, ticket_, more, this);
  co_return co_await budget.wait(waiter);
}

void BodyBudget::Lease::shrink_to(std::size_t bytes) {
  if (owner_ != nullptr && bytes < held_) owner_->give(*this, held_ - bytes);
}

void BodyBudget::Lease::force_to(std::size_t bytes) {
  if (owner_ == nullptr || bytes <= held_) return;
  owner_->take(*this, bytes - held_);
  owner_->changed();
}

BodyBudget::BodyBudget(asio::any_io_executor executor, std::size_t limit, OnChange on_change)
    : executor_(std::move(executor)), limit_(limit), on_change_(std::move(on_change)) {
  changed();
}

BodyBudget::Lease BodyBudget::try_admit(std::size_t room) {
  if (!waiters_.empty() || !fits(room)) return Lease{};
  return Lease(this, next_ticket_++);
}

asio::awaitable<BodyBudget::Lease> BodyBudget::admit(std::size_t room) {
  if (Lease lease = try_admit(room)) co_return lease;
  const std::uint64_t ticket = next_ticket_++;
  Waiter waiter(executor_, ticket, room, nullptr);
  if (co_await wait(waiter)) co_return Lease(this, ticket);
  co_return Lease{};
}

bool BodyBudget::may_grow_now(std::uint64_t ticket, std::size_t bytes) const {
  if (privileged_ == ticket) return true;
  // Older waiters go first (ours is the smaller ticket when they are younger).
  return fits(bytes) && (waiters_.empty() || waiters_.begin()->first > ticket);
}

void BodyBudget::take(Lease& lease, std::size_t bytes) {
  if (lease.held_ == 0 && bytes > 0) ++holders_;
  lease.held_ += bytes;
  in_use_ += bytes;
}

void BodyBudget::give(Lease& lease, std::size_t bytes) {
  lease.held_ -= bytes;
  in_use_ -= bytes;
  if (lease.held_ == 0) {
    --holders_;
    if (privileged_ == lease.ticket_) privileged_.reset();
  }
  serve();
}

asio::awaitable<bool> BodyBudget::wait(Waiter& waiter) {
  auto position = waiters_.emplace(waiter.ticket, &waiter).first;
  if (waiter.holder) ++waiting_holders_;
  // Our wait may be the one that leaves every holder waiting: serve() then
  // grants someone, possibly us, before we would sleep.
  serve();
  if (waiter.granted) co_return true;
  boost::system::error_code ec;
  try {
    co_await waiter.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  } catch (...) {
    // A coroutine cancelled before it could wait throws here; never leave a
    // dangling waiter behind.
    if (!waiter.granted) {
      waiters_.erase(position);
      if (waiter.holder) --waiting_holders_;
      serve();
    }
    throw;
  }
  if (waiter.granted) co_return true;  // serve() already unlinked us
  // Cancelled: those behind us may fit now, or every holder left may be waiting.
  waiters_.erase(position);
  if (waiter.holder) --waiting_holders_;
  serve();
  co_return false;
}

void BodyBudget::serve() {
  while (!waiters_.empty()) {
    auto front = waiters_.begin();
    Waiter& waiter = *front->second;
    const bool growth = waiter.lease != nullptr;
    const bool privileged = privileged_ == waiter.ticket;
    // Nobody holding bytes is running, so nobody will give any back.
    const bool stuck = growth && !privileged_ && waiting_holders_ == holders_;
    if (!privileged && !stuck && !fits(waiter.bytes)) break;
    if (stuck && !fits(waiter.bytes)) privileged_ = waiter.ticket;
    waiters_.erase(front);
    if (waiter.holder) --waiting_holders_;
    if (growth) take(*waiter.lease, waiter.bytes);
    waiter.granted = true;
    waiter.timer.cancel();
  }
  changed();
}

void BodyBudget::changed() const {
  if (on_change_) on_change_(in_use_, limit_, waiters_.size());
}

}  // namespace kettle::net
