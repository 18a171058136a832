#include "kettle/net/async_semaphore.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kettle::net {

namespace asio = boost::asio;

// A parked coroutine: its timer never expires; release_one() cancels it to wake it.
struct AsyncSemaphore::Waiter {
  explicit Waiter(const asio::any_io_executor& ex)
      : timer(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;
  bool granted = false;
};

AsyncSemaphore::Permit::Permit(Permit&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)) {}

AsyncSemaphore::Permit& AsyncSemaphore::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
  }
  return *this;
}

AsyncSemaphore::Permit::~Permit() { release(); }

void AsyncSemaphore::Permit::release() {
  if (owner_ != nullptr) std::exchange(owner_, nullptr)->release_one();
}

AsyncSemaphore::AsyncSemaphore(asio::any_io_executor executor, std::size_t permits)
    : executor_(std::move(executor)), available_(permits) {}

AsyncSemaphore::Permit AsyncSemaphore::try_acquire() {
  if (available_ == 0 || !waiters_.empty()) return Permit{};
  --available_;
  return Permit{this};
}

asio::awaitable<AsyncSemaphore::Permit> AsyncSemaphore::acquire() {
  if (Permit permit = try_acquire()) co_return permit;
  Waiter waiter(executor_);
  auto position = waiters_.insert(waiters_.end(), &waiter);
  boost::system::error_code ec;
  try {
    co_await waiter.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  } catch (...) {
    // A coroutine cancelled before it could wait throws here; never leave a
    // dangling waiter behind.
    waiters_.erase(position);
    throw;
  }
  if (waiter.granted) {  // release_one() already unlinked us
    --handing_over_;
    co_return Permit{this};
  }
  waiters_.erase(position);                    // cancelled while waiting
  co_return Permit{};
}

void AsyncSemaphore::release_one() {
  if (waiters_.empty()) {
    ++available_;
    return;
  }
  Waiter* next = waiters_.front();
  waiters_.pop_front();
  next->granted = true;  // the permit passes straight to the waiter
  ++handing_over_;
  next->timer.cancel();
}

}  // namespace kettle::net
