// The load phase's JUnit hold: which rows wait for their build's JUnit.
#include "kettle/emit/load_hold.hpp"

#include <boost/test/unit_test.hpp>

using kettle::emit::load_hold_verdict;
using kettle::emit::LoadHoldConfig;
using kettle::emit::LoadVerdict;

namespace {
constexpr int64_t kNow = 1700000000;
const LoadHoldConfig kTwoDays{std::chrono::hours(48)};
constexpr double kBound = 48 * 3600;
}  // namespace

BOOST_AUTO_TEST_SUITE(load_hold)

BOOST_AUTO_TEST_CASE(a_build_with_its_junit_is_emitted_whatever_its_age) {
  for (double age : {0.0, 60.0, kBound, 10 * kBound})
    BOOST_TEST((load_hold_verdict(false, kNow - age, kNow, kTwoDays) == LoadVerdict::emit));
  BOOST_TEST((load_hold_verdict(false, std::nullopt, kNow, kTwoDays) == LoadVerdict::emit));
}

BOOST_AUTO_TEST_CASE(a_recent_build_missing_its_junit_is_held) {
  for (double age : {0.0, 60.0, kBound - 1})
    BOOST_TEST((load_hold_verdict(true, kNow - age, kNow, kTwoDays) == LoadVerdict::hold), "age " << age);
  // A finished time ahead of the clock (skew) is recent too.
  BOOST_TEST((load_hold_verdict(true, kNow + 3600, kNow, kTwoDays) == LoadVerdict::hold));
}

BOOST_AUTO_TEST_CASE(an_old_build_missing_its_junit_goes_late) {
  for (double age : {kBound, kBound + 1, 30 * 86400.0})
    BOOST_TEST((load_hold_verdict(true, kNow - age, kNow, kTwoDays) == LoadVerdict::late), "age " << age);
}

BOOST_AUTO_TEST_CASE(a_build_without_a_finished_time_is_never_held) {
  BOOST_TEST((load_hold_verdict(true, std::nullopt, kNow, kTwoDays) == LoadVerdict::late));
}

BOOST_AUTO_TEST_CASE(a_zero_bound_holds_nothing) {
  const LoadHoldConfig none{std::chrono::seconds(0)};
  BOOST_TEST((load_hold_verdict(true, kNow, kNow, none) == LoadVerdict::late));
}

BOOST_AUTO_TEST_SUITE_END()
