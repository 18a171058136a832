// A counting semaphore for coroutines on one executor: bounds requests in flight.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <list>

namespace kettle::net {

// Not thread-safe: every call must come from the executor's single thread.
// Waiters are served first come, first served. Must outlive its waiters.
class AsyncSemaphore {
 public:
  // Releases its permit when destroyed; an empty Permit holds nothing.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    ~Permit();
    explicit operator bool() const { return owner_ != nullptr; }
    void release();

   private:
    friend class AsyncSemaphore;
    explicit Permit(AsyncSemaphore* owner) : owner_(owner) {}
    AsyncSemaphore* owner_ = nullptr;
  };

  AsyncSemaphore(boost::asio::any_io_executor executor, std::size_t permits);
  AsyncSemaphore(const AsyncSemaphore&) = delete;
  AsyncSemaphore& operator=(const AsyncSemaphore&) = delete;

  // Waits for a permit. Supports per-operation cancellation (e.g. by the `||`
  // awaitable operator); a cancelled wait returns an empty Permit.
  boost::asio::awaitable<Permit> acquire();
  // A permit if one is free now, else an empty one.
  Permit try_acquire();

  std::size_t available() const { return available_; }
  // Waiters, counting those granted a permit that have not resumed yet.
  std::size_t waiting() const { return waiters_.size() + handing_over_; }

 private:
  struct Waiter;
  void release_one();

  boost::asio::any_io_executor executor_;
  std::size_t available_;
  std::list<Waiter*> waiters_;  // each lives in its waiting coroutine's frame
  std::size_t handing_over_ = 0;
};

}  // namespace kettle::net
