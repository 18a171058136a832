// Waits for a set of spawned coroutines on one executor to finish.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>

namespace kettle::net {

// Not thread-safe: add/done/wait on the executor's thread only.
class WaitGroup {
 public:
  explicit WaitGroup(boost::asio::any_io_executor ex) : timer_(ex, boost::asio::steady_timer::time_point::max()) {}
  void add() { ++pending_; }
  void done() {
    if (--pending_ == 0) timer_.cancel();
  }
  int64_t pending() const { return pending_; }
  // Returns once every added task called done().
  boost::asio::awaitable<void> wait() {
    while (pending_ > 0) {
      boost::system::error_code ec;
      co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
  }

 private:
  boost::asio::steady_timer timer_;
  int64_t pending_ = 0;
};

}  // namespace kettle::net
