// Waiting for a condition inside a coroutine test without guessing how long
// it takes: check it every millisecond, up to a generous bound.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace kettle::test_support {

// True once `done()` holds; false if it still does not after `bound`.
// Pass a named callable: the coroutine keeps its own copy.
template <class Condition>
boost::asio::awaitable<bool> poll_until(
    Condition done, std::chrono::steady_clock::duration bound = std::chrono::seconds(20)) {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  auto give_up = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) co_return false;
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  co_return true;
}

}  // namespace kettle::test_support
