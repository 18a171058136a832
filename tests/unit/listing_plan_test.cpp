// Incremental listing: the pure plan (listing_plan.hpp), and the property
// that matters: run after run, listing from cursors fetches exactly the
// builds a full listing fetches.
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kettle/collect/listing_plan.hpp"
#include "kettle/collect/planner.hpp"

using namespace kettle::collect;
using kettle::store::ListingCursor;

namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kT0 = 1'700'000'000;  // Nov 2023
const std::string kPrefix = "gs://bucket/logs/job/";

// A snowflake made at `seconds` (+ ms), with `low` as node and sequence bits.
std::string snowflake_at(int64_t seconds, int ms, uint32_t low) {
  const int64_t since_epoch = seconds * 1000 + ms - 1'288'834'974'657;
  return std::to_string((static_cast<uint64_t>(since_epoch) << 22) | (low & ((1u << 22) - 1)));
}

ListingCursor row(std::string cursor, int64_t full_listed_at, int64_t names = 1, int64_t from_cursor = 1) {
  return ListingCursor{kPrefix, std::move(cursor), full_listed_at, names, from_cursor};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(listing_plan)

BOOST_AUTO_TEST_CASE(snowflakes_are_19_digits_and_carry_their_time) {
  const std::string id = snowflake_at(kT0, 250, 12345);
  BOOST_TEST(is_snowflake(id));
  BOOST_TEST(is_snowflake("1318681111894691840"));  // a Prow build id of 2020
  BOOST_TEST(!is_snowflake("131868111189469184"));  // 18 digits
  BOOST_TEST(!is_snowflake("13186811118946918400"));
  BOOST_TEST(!is_snowflake("131868111189469184a"));
  BOOST_TEST(!is_snowflake("6000"));
  BOOST_TEST(snowflake_seconds(id) == kT0);
  BOOST_TEST(snowflake_seconds("1318681111894691840") == 1603233051);  // 20 Oct 2020
  // The floor sorts at or below every id made from that second on, above those before.
  const std::string floor = snowflake_floor(kT0);
  BOOST_TEST(is_snowflake(floor));
  BOOST_TEST(floor <= snowflake_at(kT0, 0, 0));
  BOOST_TEST(floor > snowflake_at(kT0 - 1, 999, (1u << 22) - 1));
  // Before ids had 19 digits, and far in the future: still 19 digits.
  BOOST_TEST(snowflake_floor(0) == "1000000000000000000");
  BOOST_TEST(is_snowflake(snowflake_floor(int64_t{1} << 40)));
}

BOOST_AUTO_TEST_CASE(full_listings_come_once_a_period_at_a_phase_of_their_own) {
  ListingConfig config;
  config.full_listing_every = kDay;
  // Each prefix is due once a day: checking hourly for a week, 7 full listings.
  std::set<int64_t> phases;
  for (int j = 0; j < 50; ++j) {
    const std::string prefix = "gs://b/logs/job-" + std::to_string(j) + "/";
    int64_t last = kT0;
    int fulls = 0;
    for (int64_t now = kT0 + kHour; now <= kT0 + 7 * kDay; now += kHour) {
      if (full_listing_due(prefix, last, now, config)) {
        BOOST_TEST(now - last <= kDay + kHour);  // never more than a period and a run apart
        if (fulls > 0) BOOST_TEST(now - last >= kDay - kHour);
        ++fulls;
        last = now;
        phases.insert(now % kDay);
      }
    }
    BOOST_TEST(fulls >= 6);
    BOOST_TEST(fulls <= 8);
  }
  BOOST_TEST(phases.size() > 10u);  // spread over the day, not all in one run
  BOOST_TEST(full_listing_due(kPrefix, kT0, kT0 - 1, config));  // the clock went back
  config.full_listing_every = 0;
  BOOST_TEST(full_listing_due(kPrefix, kT0, kT0, config));
}

BOOST_AUTO_TEST_CASE(a_plan_starts_at_the_cursor_or_earlier_for_recent_ids) {
  ListingConfig config;
  const int64_t now = kT0;
  const std::string old_cursor = snowflake_at(now - 3 * kDay, 0, 7);
  const std::string new_cursor = snowflake_at(now - kHour, 0, 7);
  auto plan_for = [&](std::optional<ListingCursor> state, bool force = false, bool limited = false) {
    return plan_listing({.prefix = kPrefix, .state = &state, .now = now, .force_full = force, .limited = limited},
                        config);
  };
  // No row, an empty cursor, or one we did not write: the full listing.
  BOOST_TEST(plan_for(std::nullopt).full());
  BOOST_TEST(plan_for(row("", now)).full());
  BOOST_TEST(plan_for(row("6000", now)).full());
  BOOST_TEST(plan_for(row(old_cursor, now)).start == old_cursor);
  // A recent cursor: the listing starts where the recent ids begin.
  BOOST_TEST(plan_for(row(new_cursor, now)).start == snowflake_floor(now - config.recent_seconds));
  BOOST_TEST(plan_for(row(old_cursor, now), true).full());
  auto limited = plan_for(row(old_cursor, now), false, true);
  BOOST_TEST(limited.full());
  BOOST_TEST(!limited.keeps_state);
  // Past its phase in the period: the safety net, unless the caller keeps its own.
  BOOST_TEST(plan_for(row(old_cursor, now - 2 * kDay)).full());
  std::optional<ListingCursor> stale = row(old_cursor, now - 2 * kDay);
  BOOST_TEST(!plan_listing({.prefix = kPrefix, .state = &stale, .now = now, .safety_net = false}, config).full());
}

BOOST_AUTO_TEST_CASE(the_cursor_is_the_oldest_name_fetched_again_else_the_newest) {
  const int64_t now = kT0;
  const std::string a = snowflake_at(now - 3 * kHour, 0, 1), b = snowflake_at(now - 2 * kHour, 0, 1),
                    c = snowflake_at(now - kHour, 0, 1);
  ListingOutcome all_present({.start = ""}, std::nullopt, kPrefix, now);
  for (auto* n : {&a, &b, &c}) all_present.listed(*n);
  auto r = all_present.finish();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->cursor == c);
  BOOST_TEST(r->full_listed_at == now);
  BOOST_TEST(r->names == 3);
  BOOST_TEST(r->names_from_cursor == 1);

  // Names fetched again are kept below the cursor, the oldest first, at most max_kept.
  ListingOutcome running({.start = ""}, std::nullopt, kPrefix, now);
  for (auto* n : {&c, &a, &b}) running.listed(*n);
  running.kept(c);
  running.kept(b);
  running.kept(a);
  r = running.finish();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->cursor == c);
  BOOST_TEST(r->kept == (std::vector<std::string>{a, b}), boost::test_tools::per_element());
  ListingOutcome too_many({.start = ""}, std::nullopt, kPrefix, now, 1);
  for (auto* n : {&c, &a, &b}) too_many.listed(*n);
  too_many.kept(b);
  too_many.kept(a);
  r = too_many.finish();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->cursor == b);
  BOOST_TEST(r->kept == std::vector<std::string>{a}, boost::test_tools::per_element());
  BOOST_TEST(r->names_from_cursor == 2);
  // A plan walks the kept names below its start; those from the start on are listed.
  ListingConfig config;
  std::optional<ListingCursor> with_kept = ListingCursor{kPrefix, c, now, 3, 1, {a, b}};
  auto plan = plan_listing({.prefix = kPrefix, .state = &with_kept, .now = now + kDay / 2, .safety_net = false},
                           config);
  BOOST_TEST(plan.start == c);
  BOOST_TEST(plan.carried == (std::vector<std::string>{a, b}), boost::test_tools::per_element());
  plan = plan_listing({.prefix = kPrefix, .state = &with_kept, .now = now, .safety_net = false}, config);
  BOOST_TEST(plan.start == snowflake_floor(now - config.recent_seconds));
  BOOST_TEST(plan.carried.empty());

  // From a cursor: the names below it count as before; the full listing's time stays.
  ListingCursor before = row(b, now - kHour, 10, 2);
  ListingOutcome incremental({.start = a}, before, kPrefix, now);
  for (auto* n : {&a, &b, &c}) incremental.listed(*n);
  r = incremental.finish();
  BOOST_REQUIRE(r);
  BOOST_TEST(r->cursor == c);
  BOOST_TEST(r->full_listed_at == now - kHour);
  BOOST_TEST(r->names == 10);  // 8 below b, then b and c

  // Nothing changed: nothing to write. BUILD_LIMIT: nothing either.
  ListingOutcome same({.start = c}, row(c, now - kHour, 3, 1), kPrefix, now);
  same.listed(c);
  BOOST_TEST(!same.finish());
  ListingOutcome limited({.start = "", .keeps_state = false}, std::nullopt, kPrefix, now);
  limited.listed(c);
  BOOST_TEST(!limited.finish());
}

BOOST_AUTO_TEST_CASE(a_name_that_is_no_snowflake_drops_the_cursor) {
  const int64_t now = kT0;
  const std::string a = snowflake_at(now - kHour, 0, 1);
  for (const std::string odd : {"6000", "not-a-build", "20240101-120000", "131868111189469184"}) {
    ListingOutcome full({.start = ""}, std::nullopt, kPrefix, now);
    full.listed(a);
    full.listed(odd);
    auto r = full.finish();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->cursor.empty());
    BOOST_TEST(r->names == 2);
    // And met in a listing from a cursor.
    ListingOutcome from_cursor({.start = a}, row(a, now, 5, 1), kPrefix, now);
    from_cursor.listed(a);
    from_cursor.listed(odd);
    r = from_cursor.finish();
    BOOST_REQUIRE(r);
    BOOST_TEST(r->cursor.empty());
  }
  // An empty job: nothing stored.
  ListingOutcome empty({.start = ""}, std::nullopt, kPrefix, now);
  BOOST_TEST(!empty.finish());
}

BOOST_AUTO_TEST_CASE(the_pr_pass_lists_per_job_when_that_costs_fewer_requests) {
  ListingConfig config;
  const std::string dir = "gs://kubernetes-ci-logs/pr-logs/directory/";
  const int64_t now = kT0;
  auto job = [](int64_t names, int64_t from_cursor, bool cursor = true) {
    return ListingCursor{"p", cursor ? "1318681111894691840" : "", 0, names, from_cursor};
  };
  // 20 jobs of 50,000 pointers with a few from the cursor on: 1 + 20 requests against 1,000.
  PrListingEstimate few_jobs(config);
  few_jobs.directory(ListingCursor{dir, "", now - kHour, 1'000'000, 1'000'000});
  for (int i = 0; i < 20; ++i) few_jobs.job(job(50'000, 3));
  BOOST_TEST(few_jobs.full_requests() == 1000);
  BOOST_TEST(few_jobs.per_job_requests() == 21);
  BOOST_TEST(few_jobs.per_job(now, dir));
  // 3,000 jobs of 100 pointers: 300 requests for all of them, 3,003 one by one.
  PrListingEstimate many_jobs(config);
  many_jobs.directory(ListingCursor{dir, "", now - kHour, 300'000, 300'000});
  for (int i = 0; i < 3000; ++i) many_jobs.job(job(100, 1));
  BOOST_TEST(many_jobs.full_requests() == 300);
  BOOST_TEST(many_jobs.per_job_requests() == 3 + 3000);
  BOOST_TEST(!many_jobs.per_job(now, dir));
  // A job without a cursor is listed whole.
  PrListingEstimate whole(config);
  whole.job(job(2500, 2500, false));
  BOOST_TEST(whole.per_job_requests() == 1 + 3);
  // Never fully listed, or past the safety net's period: the full listing.
  PrListingEstimate never(config);
  for (int i = 0; i < 20; ++i) never.job(job(50'000, 3));
  BOOST_TEST(!never.per_job(now, dir));
  PrListingEstimate stale(config);
  stale.directory(ListingCursor{dir, "", now - 3 * kDay, 1'000'000, 1'000'000});
  for (int i = 0; i < 20; ++i) stale.job(job(50'000, 3));
  BOOST_TEST(!stale.per_job(now, dir));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- the property

namespace {

// One build directory of the simulated bucket, and when each of its objects appears.
struct SimBuild {
  std::string name;
  int64_t appears = 0;                 // the directory is listed from then on
  std::optional<int64_t> started;      // started.json appears
  bool usable_timestamp = true;        // started.json's timestamp reads as a number
  std::optional<int64_t> finished;     // finished.json appears
  std::optional<int64_t> deleted;      // retention removed the directory
  int64_t started_timestamp = 0;
};

// What the database holds of a build.
struct SimRow {
  bool has_started = false, usable = false, has_finished = false;
  int64_t started_timestamp = 0;
};

// SPEC §2.3, as store::Database::is_present.
bool present(const std::map<std::string, SimRow>& db, const std::string& name, int64_t now) {
  auto it = db.find(name);
  if (it == db.end()) return false;
  const SimRow& r = it->second;
  return r.has_finished || (r.has_started && r.usable && now - r.started_timestamp > 5 * kDay);
}

enum class JobKind { snowflakes, snowflakes_then_odd, numbers, one_width, mixed };

class SimJob {
 public:
  SimJob(JobKind kind, std::mt19937_64& rng, int64_t recent_window) : kind_(kind), rng_(rng), window_(recent_window) {}

  // `count` builds made in (from, to], with Prow-like timings.
  void grow(int64_t from, int64_t to, int count) {
    for (int i = 0; i < count; ++i) {
      const int64_t made = uniform(from + 1, to);
      SimBuild b;
      b.name = next_name(made);
      // Most directories appear at once; some later (a pod waiting for a node),
      // within the window the planner lists again.
      b.appears = chance(0.7) ? made : made + uniform(0, window_);
      b.started = chance(0.8) ? b.appears : b.appears + uniform(0, 2 * kHour);  // listed, nothing written yet
      b.started_timestamp = *b.started;
      b.usable_timestamp = chance(0.95);
      if (chance(0.03)) b.started.reset();  // artifacts only, or finished.json only
      // Most runs take minutes to hours; a few days; some never finish.
      const int64_t runs_for = chance(0.9) ? uniform(10 * 60, 4 * kHour) : uniform(4 * kHour, 3 * kDay);
      if (!chance(0.1)) b.finished = std::max(b.appears, b.started.value_or(b.appears)) + runs_for;
      index_.emplace(b.name, builds_.size());
      builds_.push_back(std::move(b));
    }
    if (kind_ == JobKind::snowflakes_then_odd && !odd_added_ && chance(0.05)) {
      // A name that is no build id, sorting after the ids (as letters do).
      SimBuild odd;
      odd.name = chance(0.5) ? "not-a-build" : "latest";
      odd.appears = to;
      odd.started = to;
      odd.started_timestamp = to;
      index_.emplace(odd.name, builds_.size());
      builds_.push_back(std::move(odd));
      odd_added_ = true;
    }
    // Retention. Not in a mixed job: removing its last number would leave
    // snowflakes only, and a number made later would sort below the cursor
    // (the rule's limit, left to the safety net: tested below).
    for (auto& b : builds_) {
      if (kind_ != JobKind::mixed && !b.deleted && chance(0.002)) b.deleted = to;
    }
  }

  // The directory names a full listing returns at `now`.
  std::vector<std::string> listing(int64_t now) const {
    std::vector<std::string> names;
    for (const auto& b : builds_)
      if (b.appears <= now && !(b.deleted && *b.deleted <= now)) names.push_back(b.name);
    return names;
  }

  const SimBuild& build(const std::string& name) const { return builds_[index_.at(name)]; }

 private:
  int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  std::string next_name(int64_t made) {
    switch (kind_) {
      case JobKind::snowflakes:
      case JobKind::snowflakes_then_odd:
        return snowflake_at(made, static_cast<int>(uniform(0, 999)), static_cast<uint32_t>(uniform(0, 1 << 22)));
      case JobKind::numbers:  // 990, 991, ..., 1000, ...: "1000" sorts before "999"
        return std::to_string(990 + counter_++);
      case JobKind::one_width:  // all four digits: one width, still not snowflakes
        return std::to_string(1000 + counter_++);
      case JobKind::mixed:  // snowflakes and numbers from the start
        return counter_ == 0 || chance(0.2) ? std::to_string(counter_++)
                                            : snowflake_at(made, 0, static_cast<uint32_t>(uniform(0, 1 << 22)));
    }
    return {};
  }

  JobKind kind_;
  std::mt19937_64& rng_;
  int64_t window_;
  std::vector<SimBuild> builds_;
  std::map<std::string, size_t> index_;
  int counter_ = 0;
  bool odd_added_ = false;
};

// A fetch's outcome depends only on (seed, name, run): both worlds see the same.
bool fetch_fails(uint64_t seed, const std::string& name, int run) {
  std::seed_seq seq{seed, static_cast<uint64_t>(std::hash<std::string>{}(name)), static_cast<uint64_t>(run)};
  std::mt19937 rng(seq);
  return std::bernoulli_distribution(0.1)(rng);
}

// Fetches `name` at `now` into `db`; true when finished.json was read.
bool fetch(const SimJob& job, std::map<std::string, SimRow>& db, const std::string& name, int64_t now, bool fails) {
  const SimBuild& b = job.build(name);
  if (fails || (b.deleted && *b.deleted <= now)) return false;
  SimRow r;
  r.has_started = b.started && *b.started <= now;
  r.usable = b.usable_timestamp;
  r.started_timestamp = b.started_timestamp;
  r.has_finished = b.finished && *b.finished <= now;
  if (!r.has_started && !r.has_finished) return false;  // nothing to write
  db[name] = r;
  return r.has_finished;
}

// The builds a walk fetches (SPEC §2.2: listed, natural order, limit, not
// present), sorted by name.
std::vector<std::string> to_fetch(std::vector<std::string> names, int64_t limit,
                                  const std::map<std::string, SimRow>& db, int64_t now) {
  CandidateWalker walker(listed_candidates(std::move(names), limit));
  std::vector<std::string> out;
  while (auto b = walker.next([&](const std::string& n) { return present(db, n, now); })) out.push_back(*b);
  std::sort(out.begin(), out.end());
  return out;
}

// GCS startOffset on a directory listing: a directory is listed when an
// object under it ("NAME/...") sorts at or after the start.
std::vector<std::string> from_offset(const std::vector<std::string>& names, const std::string& start) {
  std::vector<std::string> out;
  for (const auto& n : names)
    if (n + "/" >= start) out.push_back(n);
  return out;
}

struct Totals {
  uint64_t fetched = 0;
  uint64_t fetched_again = 0;      // kept names removed by retention, fetched until a full listing
  // Of the jobs of snowflakes without BUILD_LIMIT, listed every day in full:
  uint64_t names_full = 0;         // names a full listing returned, every run
  uint64_t names_incremental = 0;  // names the planned listings returned
};

// Runs one job for `runs` runs both ways; false (with a message) at the first difference.
bool same_collection(uint64_t seed, Totals& totals) {
  std::mt19937_64 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  ListingConfig config;
  const int64_t max_run_gap = 3 * kHour;
  config.recent_seconds = 6 * kHour;
  const int choice = static_cast<int>(uniform(0, 9));
  config.full_listing_every = choice == 0 ? 0 : choice < 3 ? uniform(kHour, 2 * kDay) : kDay;
  const int64_t limit = uniform(0, 9) < 7 ? 0 : uniform(1, 30);
  config.max_kept = uniform(0, 3) == 0 ? static_cast<size_t>(uniform(0, 3)) : config.max_kept;
  const auto kind = static_cast<JobKind>(uniform(0, 4));
  SimJob job(kind, rng, config.recent_seconds - max_run_gap);

  std::map<std::string, SimRow> full_db, incremental_db;
  std::optional<ListingCursor> state;
  int64_t now = kT0;
  job.grow(now - 90 * kDay, now, static_cast<int>(uniform(0, 800)));  // history
  const int runs = 60;
  for (int run = 0; run < runs; ++run) {
    const int64_t before = now;
    now += uniform(5 * 60, max_run_gap);
    job.grow(before, now, static_cast<int>(uniform(0, 3)));
    const bool force_full = uniform(0, 99) < 3;
    const std::vector<std::string> all = job.listing(now);

    // The full listing, as the reference does it.
    const auto full = to_fetch(all, limit, full_db, now);
    for (const auto& n : full) fetch(job, full_db, n, now, fetch_fails(seed, n, run));

    // The planned listing.
    const ListingPlan plan = plan_listing(
        {.prefix = kPrefix, .state = &state, .now = now, .force_full = force_full, .limited = limit > 0}, config);
    const std::vector<std::string> listed = plan.full() ? all : from_offset(all, plan.start);
    ListingOutcome outcome(plan, state, kPrefix, now, config.max_kept);
    for (const auto& n : listed) outcome.listed(n);
    std::vector<std::string> walked = listed;
    walked.insert(walked.end(), plan.carried.begin(), plan.carried.end());
    const auto incremental = to_fetch(walked, limit, incremental_db, now);
    for (const auto& n : incremental) {
      if (!fetch(job, incremental_db, n, now, fetch_fails(seed, n, run))) outcome.kept(n);
    }
    if (auto r = outcome.finish()) state = *r;

    totals.fetched += full.size();
    if (kind == JobKind::snowflakes && limit == 0 && config.full_listing_every == kDay &&
        config.max_kept == ListingConfig{}.max_kept) {
      totals.names_full += all.size();
      totals.names_incremental += listed.size();
    }
    // The same builds, but for kept names that retention removed since: a
    // fetch finds nothing there (until the next full listing forgets them).
    std::vector<std::string> extra;
    std::set_difference(incremental.begin(), incremental.end(), full.begin(), full.end(), std::back_inserter(extra));
    const bool only_removed = std::all_of(extra.begin(), extra.end(), [&](const std::string& n) {
      const auto& b = job.build(n);
      return b.deleted && *b.deleted <= now;
    });
    const bool same = std::includes(incremental.begin(), incremental.end(), full.begin(), full.end()) &&
                      only_removed && incremental_db.size() == full_db.size() &&
                      std::equal(full_db.begin(), full_db.end(), incremental_db.begin(), [](const auto& a, const auto& b) {
                        return a.first == b.first && a.second.has_started == b.second.has_started &&
                               a.second.has_finished == b.second.has_finished;
                      });
    totals.fetched_again += extra.size();
    if (!same) {
      BOOST_ERROR("seed " << seed << " (job kind " << static_cast<int>(kind) << ", limit " << limit
                          << ", full listing every " << config.full_listing_every << " s, max kept "
                          << config.max_kept << "), run " << run << ": a full listing fetches " << full.size()
                          << " builds, the plan (start '" << plan.start << "', " << plan.carried.size()
                          << " carried) " << incremental.size() << " of which " << extra.size()
                          << " others; databases of " << full_db.size() << " and " << incremental_db.size()
                          << " builds");
      return false;
    }
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(listing_plan_property)

// Random jobs (snowflakes, numbers of mixed widths, one width, odd names),
// builds appearing late or empty, running for days, never finishing,
// unusable timestamps, failed fetches, retention, BUILD_LIMIT, forced full
// listings: every run fetches the same builds both ways. The seed of a
// failure is in its message; KETTLE_PLAN_SEED=N reruns one.
BOOST_AUTO_TEST_CASE(listing_from_cursors_fetches_what_a_full_listing_fetches) {
  Totals totals;
  uint64_t first = 1, count = KETTLE_SANITIZED ? 15 : 100;
  if (const char* one = std::getenv("KETTLE_PLAN_SEED")) {
    first = std::strtoull(one, nullptr, 10);
    count = 1;
  }
  for (uint64_t seed = first; seed < first + count; ++seed) {
    if (!same_collection(seed, totals)) break;
  }
  BOOST_TEST_MESSAGE("fetched " << totals.fetched << " builds (and " << totals.fetched_again
                                << " removed ones); names listed: " << totals.names_full << " in full, "
                                << totals.names_incremental << " planned");
  BOOST_TEST(totals.fetched > 1000u);  // the simulation did fetch
  BOOST_TEST(totals.names_incremental < totals.names_full / 4);  // and the cursors did skip
}

// The rule's limit, and its safety net: a name that sorts below the cursor
// (none of Prow's ids does) is missed by listings from the cursor, and
// collected by the next full listing, within one period.
BOOST_AUTO_TEST_CASE(a_name_below_the_cursor_waits_for_the_full_listing) {
  ListingConfig config;
  config.full_listing_every = kDay;
  const std::string old_id = snowflake_at(kT0 - 10 * kDay, 0, 1), new_id = snowflake_at(kT0 - kDay, 0, 1);
  std::optional<ListingCursor> state = ListingCursor{kPrefix, new_id, kT0 - kHour, 2, 1};
  const std::string late = snowflake_at(kT0 - 9 * kDay, 0, 1);  // made long ago, listed only now
  const std::vector<std::string> names{old_id, late, new_id};
  auto lists_late = [&](const ListingPlan& plan) {
    const auto listed = plan.full() ? names : from_offset(names, plan.start);
    return std::find(listed.begin(), listed.end(), late) != listed.end();
  };
  BOOST_TEST(!lists_late(plan_listing({.prefix = kPrefix, .state = &state, .now = kT0, .safety_net = false}, config)));
  int64_t now = kT0;
  while (!lists_late(plan_listing({.prefix = kPrefix, .state = &state, .now = now}, config))) now += kHour;
  BOOST_TEST(now - kT0 <= kDay);
}

BOOST_AUTO_TEST_SUITE_END()
