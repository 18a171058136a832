// update's collection pause (update/collection_pause.hpp): when a cycle
// collects, and when a paused stream phase ends so that collection resumes.
#include "kettle/update/collection_pause.hpp"

#include <boost/test/unit_test.hpp>

using kettle::store::Headroom;
using kettle::update::CollectionPause;
using kettle::update::PauseConfig;
using namespace std::chrono_literals;

namespace {

Headroom ok() { return Headroom{}; }
Headroom low() {
  Headroom h;
  h.ok = false;
  h.message = "low";
  return h;
}

const CollectionPause::Clock::time_point t0{};

}  // namespace

BOOST_AUTO_TEST_SUITE(collection_pause)

BOOST_AUTO_TEST_CASE(collects_while_there_is_headroom) {
  CollectionPause pause;
  BOOST_TEST(pause.allow(ok(), t0));
  BOOST_TEST(!pause.paused());
  BOOST_TEST(!pause.due(t0 + 1h));  // nothing to watch while collecting
}

BOOST_AUTO_TEST_CASE(low_headroom_pauses_until_space_is_freed) {
  CollectionPause pause(PauseConfig{10s, 300s});
  BOOST_TEST(!pause.allow(low(), t0));
  BOOST_TEST(pause.paused());
  // Measured every 10 s during the stream phase, not at every iteration.
  BOOST_TEST(!pause.due(t0 + 5s));
  BOOST_TEST(pause.due(t0 + 10s));
  BOOST_TEST(!pause.should_resume(low(), t0 + 10s));
  BOOST_TEST(!pause.due(t0 + 15s));
  BOOST_TEST(pause.due(t0 + 20s));
  BOOST_TEST(
      pause.should_resume(ok(), t0 + 20s));  // the stream phase ends; the next cycle collects
  BOOST_TEST(pause.allow(ok(), t0 + 21s));
  BOOST_TEST(!pause.paused());
}

BOOST_AUTO_TEST_CASE(after_a_full_disk_collection_waits_even_with_headroom) {
  CollectionPause pause(PauseConfig{10s, 300s});
  BOOST_TEST(pause.allow(ok(), t0));
  // A quota or a size limit: the headroom check passes right after the failure.
  pause.disk_full(ok(), t0 + 1s);
  BOOST_TEST(pause.paused());
  BOOST_TEST(pause.due(t0 + 11s));
  // It may fill again at once: no retry before after_full.
  BOOST_TEST(!pause.should_resume(ok(), t0 + 11s));
  BOOST_TEST(!pause.allow(ok(), t0 + 100s));
  BOOST_TEST(pause.due(t0 + 301s));
  BOOST_TEST(pause.should_resume(ok(), t0 + 301s));
  BOOST_TEST(!pause.should_resume(low(), t0 + 301s));
  BOOST_TEST(pause.allow(ok(), t0 + 302s));
  // The wait is over once a cycle collected: a later full disk waits again from then.
  pause.disk_full(ok(), t0 + 400s);
  BOOST_TEST(!pause.allow(ok(), t0 + 500s));
}

BOOST_AUTO_TEST_CASE(after_a_full_disk_freed_space_resumes_at_once) {
  CollectionPause pause(PauseConfig{10s, 300s});
  BOOST_TEST(pause.allow(ok(), t0));
  // A full file system is below the headroom right after: once space is freed, collection resumes.
  pause.disk_full(low(), t0 + 1s);
  BOOST_TEST(pause.due(t0 + 11s));
  BOOST_TEST(pause.should_resume(ok(), t0 + 11s));
  BOOST_TEST(pause.allow(ok(), t0 + 12s));
  // Or seen low later, during the stream phase.
  pause.disk_full(ok(), t0 + 20s);
  BOOST_TEST(pause.due(t0 + 30s));
  BOOST_TEST(!pause.should_resume(low(), t0 + 30s));
  BOOST_TEST(pause.due(t0 + 40s));
  BOOST_TEST(pause.should_resume(ok(), t0 + 40s));
  BOOST_TEST(pause.allow(ok(), t0 + 41s));
  // A new full disk starts over: headroom alone is not enough again.
  pause.disk_full(ok(), t0 + 50s);
  BOOST_TEST(!pause.allow(ok(), t0 + 60s));
}

BOOST_AUTO_TEST_SUITE_END()
