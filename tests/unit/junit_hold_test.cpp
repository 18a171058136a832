// The stream's wait for a build's JUnit, without I/O: rows wait while the
// JUnit is missing, go once it is stored, go without tests (one warning)
// after the hold, and the memory stays bounded.
#include <boost/test/unit_test.hpp>

#include "kettle/stream/junit_hold.hpp"

using namespace kettle::stream;
using namespace std::chrono_literals;
using Clock = JunitHold::Clock;

namespace {

const Clock::time_point t0 = Clock::time_point{} + 1000h;

JunitHoldConfig config(std::chrono::milliseconds hold, std::size_t max_builds = 100) {
  JunitHoldConfig c;
  c.hold = hold;
  c.remember_late = 10min;
  c.max_builds = max_builds;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(junit_hold)

BOOST_AUTO_TEST_CASE(rows_wait_while_junit_is_missing) {
  JunitHold h(config(30min));
  BOOST_TEST((h.decide(1, true, t0) == HoldVerdict::hold));
  BOOST_TEST((h.decide(1, true, t0 + 29min) == HoldVerdict::hold));
  // The hold counts from the first round that found it missing, not the latest.
  BOOST_TEST((h.decide(1, true, t0 + 29min + 59s) == HoldVerdict::hold));
  BOOST_TEST(h.held(t0 + 29min) == 1u);
}

BOOST_AUTO_TEST_CASE(a_build_with_its_junit_goes_at_once) {
  JunitHold h(config(30min));
  BOOST_TEST((h.decide(7, false, t0) == HoldVerdict::emit));
  BOOST_TEST(h.remembered() == 0u);
}

BOOST_AUTO_TEST_CASE(a_row_goes_once_its_junit_is_stored_and_is_forgotten) {
  JunitHold h(config(30min));
  BOOST_TEST((h.decide(1, true, t0) == HoldVerdict::hold));
  BOOST_TEST((h.decide(2, true, t0 + 1min) == HoldVerdict::hold));
  BOOST_TEST((h.decide(1, false, t0 + 5min) == HoldVerdict::emit));
  BOOST_TEST(h.remembered() == 1u);
  BOOST_TEST(h.held(t0 + 5min) == 1u);
  // Missing again later (a replaced build row): a new wait, not a stale one.
  BOOST_TEST((h.decide(1, true, t0 + 40min) == HoldVerdict::hold));
}

BOOST_AUTO_TEST_CASE(past_the_hold_the_row_goes_without_tests_with_one_warning) {
  JunitHold h(config(30min));
  BOOST_TEST((h.decide(1, true, t0) == HoldVerdict::hold));
  BOOST_TEST((h.decide(1, true, t0 + 30min) == HoldVerdict::late));
  BOOST_TEST(h.held(t0 + 30min) == 0u);
  // Another table, or the same insert retried: sent again, no second warning.
  BOOST_TEST((h.decide(1, true, t0 + 30min) == HoldVerdict::emit));
  BOOST_TEST((h.decide(1, true, t0 + 35min) == HoldVerdict::emit));
  // Stored after all: a normal row for the tables still lacking it.
  BOOST_TEST((h.decide(1, false, t0 + 36min) == HoldVerdict::emit));
  BOOST_TEST(h.remembered() == 0u);
}

BOOST_AUTO_TEST_CASE(a_zero_hold_never_waits) {
  JunitHold h(config(0ms));
  BOOST_TEST((h.decide(1, true, t0) == HoldVerdict::late));
  BOOST_TEST((h.decide(1, true, t0) == HoldVerdict::emit));
  BOOST_TEST(h.held(t0) == 0u);
}

BOOST_AUTO_TEST_CASE(builds_sent_late_are_forgotten_after_a_while) {
  JunitHold h(config(30min));  // remember_late: 10 min
  h.decide(1, true, t0);
  BOOST_TEST((h.decide(1, true, t0 + 31min) == HoldVerdict::late));
  h.decide(2, true, t0 + 40min);  // forgets 1 (first missing 40 min ago)
  BOOST_TEST(h.remembered() == 1u);
}

BOOST_AUTO_TEST_CASE(memory_is_bounded_and_the_cap_delays_no_row) {
  JunitHold h(config(30min, 3));
  for (int id = 1; id <= 3; ++id)
    BOOST_TEST((h.decide(id, true, t0 + id * 1s) == HoldVerdict::hold));
  // Full of builds still waiting: a newcomer does not wait, and nobody is pushed back.
  BOOST_TEST((h.decide(4, true, t0 + 10s) == HoldVerdict::no_room));
  BOOST_TEST(h.remembered() == 3u);
  BOOST_TEST((h.decide(1, true, t0 + 20s) == HoldVerdict::hold));
  // Once the oldest is past its hold, it makes room.
  BOOST_TEST((h.decide(5, true, t0 + 30min + 1s) == HoldVerdict::hold));
  BOOST_TEST(h.remembered() == 3u);
  BOOST_TEST(h.held(t0 + 30min + 1s) == 3u);
  // Many builds over time: never more than the cap.
  for (int id = 100; id < 10'100; ++id) h.decide(id, true, t0 + 31min + id * 1s);
  BOOST_TEST(h.remembered() <= 3u);
}

BOOST_AUTO_TEST_CASE(a_cap_of_zero_still_remembers_one) {
  JunitHold h(config(30min, 0));
  BOOST_TEST((h.decide(1, true, t0) == HoldVerdict::hold));
  BOOST_TEST((h.decide(2, true, t0) == HoldVerdict::no_room));
}

BOOST_AUTO_TEST_SUITE_END()
