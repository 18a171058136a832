// net::BodyBudget on its own (no sockets): leases grow within the limit, wait
// for room oldest first, never deadlock (the oldest passes alone when every
// holder waits), and cancellation wakes them.

#include "kettle/net/body_budget.hpp"

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace asio = boost::asio;
using kettle::net::BodyBudget;
using Lease = BodyBudget::Lease;

namespace {

// Runs what is ready (a context that ran out of work must be restarted).
void poll(asio::io_context& ioc) {
  ioc.restart();
  ioc.poll();
}

// A lease driven step by step from the test: each call to grow() starts one
// grow_to on the io_context.
struct Holder {
  Holder(asio::io_context& ioc, BodyBudget& budget) : ioc(ioc) {
    asio::co_spawn(
        ioc, [&]() -> asio::awaitable<void> { lease = co_await budget.admit(0); }, asio::detached);
    poll(ioc);
    BOOST_REQUIRE(static_cast<bool>(lease));
  }
  void grow(std::size_t bytes) {
    result.reset();
    // Passed as a function object: co_spawn keeps it (and its captures) alive.
    auto step = [this, bytes]() -> asio::awaitable<void> {
      result = co_await lease.grow_to(bytes);
    };
    asio::co_spawn(ioc, step, asio::bind_cancellation_slot(cancel.slot(), asio::detached));
    poll(ioc);
  }
  bool waiting() const { return !result.has_value(); }
  bool granted() const { return result == true; }
  bool refused() const { return result == false; }

  asio::io_context& ioc;
  Lease lease;
  std::optional<bool> result{false};  // of the last grow(); none while it waits
  asio::cancellation_signal cancel;
};

constexpr std::size_t kLimit = 100;

}  // namespace

BOOST_AUTO_TEST_SUITE(net_body_budget)

BOOST_AUTO_TEST_CASE(leases_within_the_limit_grow_at_once_and_give_back_on_release) {
  asio::io_context ioc;
  std::vector<std::size_t> seen;
  BodyBudget budget(ioc.get_executor(), kLimit,
                    [&](std::size_t in_use, std::size_t limit, std::size_t waiting) {
                      BOOST_TEST(limit == kLimit);
                      BOOST_TEST(waiting == 0u);
                      seen.push_back(in_use);
                    });
  {
    Holder a(ioc, budget), b(ioc, budget);
    a.grow(40);
    b.grow(60);
    BOOST_TEST((a.granted() && b.granted()));
    BOOST_TEST(budget.in_use() == 100u);
    a.lease.shrink_to(10);
    BOOST_TEST(a.lease.held() == 10u);
    BOOST_TEST(budget.in_use() == 70u);
  }
  BOOST_TEST(budget.in_use() == 0u);
  BOOST_TEST(seen.front() == 0u);
  BOOST_TEST(seen.back() == 0u);
  BOOST_TEST((std::find(seen.begin(), seen.end(), 100u) != seen.end()));
}

BOOST_AUTO_TEST_CASE(growth_waits_for_room_served_oldest_first) {
  asio::io_context ioc;
  BodyBudget budget(ioc.get_executor(), kLimit);
  Holder a(ioc, budget), b(ioc, budget), c(ioc, budget);
  a.grow(60);  // a runs: it will give its bytes back
  b.grow(50);
  BOOST_TEST(b.waiting());
  c.grow(10);  // would fit, but b is older and waits
  BOOST_TEST(c.waiting());
  BOOST_TEST(budget.waiting() == 2u);
  a.lease.shrink_to(30);  // 30 + 50 fits, then 10 more
  poll(ioc);
  BOOST_TEST((b.granted() && c.granted()));
  BOOST_TEST(budget.in_use() == 90u);
  BOOST_TEST(budget.waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(when_every_holder_waits_the_oldest_passes_the_limit_alone) {
  asio::io_context ioc;
  BodyBudget budget(ioc.get_executor(), kLimit);
  Holder a(ioc, budget), b(ioc, budget);
  a.grow(60);
  b.grow(40);
  b.grow(50);  // a still runs: b waits
  BOOST_TEST(b.waiting());
  a.grow(70);  // now every holder waits: a, the older, passes
  BOOST_TEST(a.granted());
  BOOST_TEST(budget.in_use() == 110u);
  a.grow(300);  // and keeps passing until it ends, while b waits
  BOOST_TEST(a.granted());
  BOOST_TEST(b.waiting());
  BOOST_TEST(budget.in_use() == 340u);
  a.lease = Lease{};  // a ends: b alone holds 40 and gets its 10 more
  poll(ioc);
  BOOST_TEST(b.granted());
  BOOST_TEST(budget.in_use() == 50u);
}

BOOST_AUTO_TEST_CASE(a_response_larger_than_the_budget_completes_alone) {
  asio::io_context ioc;
  BodyBudget budget(ioc.get_executor(), kLimit);
  Holder big(ioc, budget);
  for (std::size_t bytes = 64; bytes <= 1024; bytes *= 2) {
    big.grow(bytes);
    BOOST_TEST(big.granted());
  }
  BOOST_TEST(budget.in_use() == 1024u);
}

BOOST_AUTO_TEST_CASE(new_leases_wait_for_room_and_come_in_order) {
  asio::io_context ioc;
  BodyBudget budget(ioc.get_executor(), kLimit);
  Holder a(ioc, budget);
  a.grow(95);
  std::vector<int> admitted;
  for (int id = 0; id < 3; ++id) {
    asio::co_spawn(
        ioc,
        [&, id]() -> asio::awaitable<void> {
          Lease lease = co_await budget.admit(10);
          if (lease) admitted.push_back(id);
        },
        asio::detached);
  }
  poll(ioc);
  BOOST_TEST(admitted.empty());
  BOOST_TEST(budget.waiting() == 3u);
  BOOST_TEST(!budget.try_admit(1).operator bool());  // not past those waiting
  a.lease.shrink_to(80);
  poll(ioc);
  BOOST_TEST(admitted == (std::vector<int>{0, 1, 2}));
  a.lease = Lease{};
  BOOST_TEST(budget.try_admit(1000).operator bool());  // nothing held: any size gets in
}

BOOST_AUTO_TEST_CASE(cancelling_a_wait_keeps_what_was_held_and_lets_the_next_in) {
  asio::io_context ioc;
  BodyBudget budget(ioc.get_executor(), kLimit);
  Holder a(ioc, budget), b(ioc, budget), c(ioc, budget);
  a.grow(50);
  b.grow(30);
  b.grow(90);  // a runs: b waits
  c.grow(10);  // fits, but waits behind b
  BOOST_TEST((b.waiting() && c.waiting()));
  b.cancel.emit(asio::cancellation_type::terminal);
  poll(ioc);
  BOOST_TEST(b.refused());
  BOOST_TEST(b.lease.held() == 30u);
  BOOST_TEST(c.granted());
  BOOST_TEST(budget.in_use() == 90u);
  BOOST_TEST(budget.waiting() == 0u);
}

BOOST_AUTO_TEST_CASE(the_last_runner_ending_lets_the_oldest_waiter_pass) {
  // Nobody is left to give bytes back once the only running holder ends:
  // the oldest waiting holder passes the limit, the other keeps waiting.
  asio::io_context ioc;
  BodyBudget budget(ioc.get_executor(), kLimit);
  Holder a(ioc, budget), b(ioc, budget), c(ioc, budget);
  a.grow(30);
  b.grow(40);
  c.grow(30);
  b.grow(90);  // +50: waits while a and c run
  c.grow(50);  // +20: waits behind b
  BOOST_TEST((b.waiting() && c.waiting()));
  a.lease = Lease{};  // 70 held, b's 50 more does not fit, and every holder waits
  poll(ioc);
  BOOST_TEST(b.granted());
  BOOST_TEST(c.waiting());
  BOOST_TEST(budget.in_use() == 120u);
  b.lease = Lease{};
  poll(ioc);
  BOOST_TEST(c.granted());
  BOOST_TEST(budget.in_use() == 50u);
}

BOOST_AUTO_TEST_CASE(random_workloads_finish_within_the_limit_plus_one_response) {
  // Many leases growing in random steps, yielding between steps, as downloads
  // do: every one finishes (no deadlock) and the bytes held never pass the
  // limit by more than the largest response.
  for (unsigned seed = 1; seed <= 20; ++seed) {
    asio::io_context ioc;
    std::size_t peak = 0;
    BodyBudget budget(ioc.get_executor(), 1000, [&](std::size_t in_use, std::size_t, std::size_t) {
      peak = std::max(peak, in_use);
    });
    std::mt19937 random(seed);
    std::size_t largest = 0;
    int finished = 0;
    const int downloads = 40;
    for (int i = 0; i < downloads; ++i) {
      const std::size_t size =
          std::uniform_int_distribution<std::size_t>(1, i % 7 == 0 ? 3000 : 300)(random);
      const std::size_t step = std::uniform_int_distribution<std::size_t>(1, 64)(random);
      largest = std::max(largest, size);
      auto download = [&, size, step]() -> asio::awaitable<void> {
        Lease lease = co_await budget.admit(step);
        for (std::size_t held = 0; held < size;) {
          held = std::min(size, held + step);
          if (!co_await lease.grow_to(held)) co_return;
          co_await asio::post(ioc, asio::use_awaitable);  // the next read
        }
        ++finished;
      };
      asio::co_spawn(ioc, download, asio::detached);
    }
    ioc.run();
    BOOST_TEST_CONTEXT("seed " << seed) {
      BOOST_TEST(finished == downloads);
      BOOST_TEST(budget.in_use() == 0u);
      BOOST_TEST(budget.waiting() == 0u);
      BOOST_TEST(peak <= 1000 + largest + 64);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
