// make-db's pure decisions (SPEC §2, D9-D11, D18) and the batched DB writer.
#include <sqlite3.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "kettle/obs/kettle_metrics.hpp"
#include <filesystem>
#include <future>
#include <set>

#include "kettle/collect/db_writer.hpp"
#include "kettle/collect/make_db.hpp"
#include "kettle/collect/planner.hpp"
#include "kettle/store/zlib_codec.hpp"

using namespace kettle::collect;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(planner)

BOOST_AUTO_TEST_CASE(natural_sort_compares_digit_runs_as_numbers) {
  BOOST_TEST(natural_sort_key("9") < natural_sort_key("10"));
  BOOST_TEST(natural_sort_key("build-9-x") < natural_sort_key("build-10-a"));
  BOOST_TEST(natural_sort_key("abc") == "abc");
  BOOST_TEST(natural_sort_key("a1b22") == "a0000000000000001b0000000000000022");
  auto c = listed_candidates({"9", "100", "10", "1595284709000001", "abc"}, 0);
  BOOST_TEST(c.precise);
  BOOST_TEST(c.listed == (std::vector<std::string>{"abc", "1595284709000001", "100", "10", "9"}),
             boost::test_tools::per_element());
  BOOST_TEST(listed_candidates({"1", "3", "2"}, 2).listed == (std::vector<std::string>{"3", "2"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(latest_build_rules) {  // D11
  BOOST_TEST(*parse_latest_build("42") == 42);
  BOOST_TEST(*parse_latest_build("  42\n") == 42);
  BOOST_TEST(!parse_latest_build(""));
  BOOST_TEST(!parse_latest_build("0"));
  BOOST_TEST(!parse_latest_build("-3"));
  BOOST_TEST(!parse_latest_build("6.0"));
  BOOST_TEST(!parse_latest_build("6 builds"));
  BOOST_TEST(!parse_latest_build("garbage"));
  BOOST_TEST(!parse_latest_build("99999999999999999999999"));
}

BOOST_AUTO_TEST_CASE(sequential_candidates_are_lazy_and_limited) {
  auto c = sequential_candidates(1'000'000'000'000, 0);
  BOOST_TEST(!c.precise);
  BOOST_TEST(c.size() == 1'000'000'000'000u);
  BOOST_TEST(c.at(0) == "1000000000000");
  BOOST_TEST(c.at(1) == "999999999999");
  auto limited = sequential_candidates(5, 3);
  BOOST_TEST(limited.size() == 3u);
  BOOST_TEST(limited.at(2) == "3");
  BOOST_TEST(sequential_candidates(2, 10).size() == 2u);
}

BOOST_AUTO_TEST_CASE(pointer_names_and_targets) {  // D10
  auto p = parse_pointer_name("pr-logs/directory/pull-test/1234.txt");
  BOOST_REQUIRE(p);
  BOOST_TEST(p->job == "pull-test");
  BOOST_TEST(p->build == "1234");
  BOOST_TEST(!parse_pointer_name("pr-logs/directory/pull-test/latest-build.txt"));
  BOOST_TEST(parse_pointer_name("pr-logs/directory/pull-latest-build-x/7.txt")->job == "pull-latest-build-x");
  BOOST_TEST(!parse_pointer_name("pr-logs/directory/pull-test/1234.json"));
  BOOST_TEST(*parse_pointer_target("  gs://b/pr-logs/pull/1/job/2/\n") == "gs://b/pr-logs/pull/1/job/2");
  BOOST_TEST(!parse_pointer_target(""));
  BOOST_TEST(!parse_pointer_target("   \n"));
  BOOST_TEST(!parse_pointer_target("https://example.com/x"));
  BOOST_TEST(!parse_pointer_target("gs://"));
}

BOOST_AUTO_TEST_CASE(junit_artifact_names) {  // D9
  const std::string dir = "logs/junit-x/1/artifacts/";
  BOOST_TEST(is_junit_artifact(dir, dir + "junit_01.xml"));
  BOOST_TEST(is_junit_artifact(dir, dir + "junit.xml"));
  BOOST_TEST(is_junit_artifact(dir, dir + "junit_runner with space#1.xml"));
  BOOST_TEST(!is_junit_artifact(dir, dir + "foo.xml"));  // the job name contains junit: not enough
  BOOST_TEST(!is_junit_artifact(dir, dir + "my_junit.xml"));
  BOOST_TEST(!is_junit_artifact(dir, dir + "JUNIT_upper.xml"));
  BOOST_TEST(!is_junit_artifact(dir, dir + "junit_01.xml.txt"));
  BOOST_TEST(!is_junit_artifact(dir, dir + "sub/junit_nested.xml"));  // no recursion
  BOOST_TEST(!is_junit_artifact(dir, "other/junit_01.xml"));
  // The whole file name: "junit", anything but a line break, ".xml".
  BOOST_TEST(is_junit_artifact(dir, dir + "junit-.xml.xml"));
  BOOST_TEST(is_junit_artifact(dir, dir + "junit\xc3\xa9.xml"));
  BOOST_TEST(!is_junit_artifact(dir, dir + "junitxml"));
  BOOST_TEST(!is_junit_artifact(dir, dir + "junit.xm"));
  BOOST_TEST(!is_junit_artifact(dir, dir + "junit"));
  BOOST_TEST(!is_junit_artifact(dir, dir));
  BOOST_TEST(!is_junit_artifact(dir, dir + "junit_1\n.xml"));
  BOOST_TEST(!is_junit_artifact(dir, dir + "junit_1\r.xml"));
}

BOOST_AUTO_TEST_CASE(imprecise_walk_stops_after_forty_present) {
  // Builds 100..1: 60..1 already present.
  CandidateWalker walker(sequential_candidates(100, 0));
  auto present = [](const std::string& b) { return std::stoi(b) <= 60; };
  std::vector<std::string> fetched;
  int checks = 0;
  auto counting = [&](const std::string& b) {
    ++checks;
    return present(b);
  };
  while (auto b = walker.next(counting)) fetched.push_back(*b);
  BOOST_TEST(fetched.size() == 40u);  // 100..61
  BOOST_TEST(fetched.front() == "100");
  BOOST_TEST(checks == 40 + 41);  // stops at the 41st present build
  BOOST_TEST(!walker.next(counting));
}

BOOST_AUTO_TEST_CASE(precise_walk_skips_present_without_stopping) {
  std::vector<std::string> names;
  for (int i = 1; i <= 100; ++i) names.push_back(std::to_string(i));
  CandidateWalker walker(listed_candidates(names, 0));
  std::vector<std::string> fetched;
  while (auto b = walker.next([](const std::string& b) { return std::stoi(b) % 2 == 0; })) fetched.push_back(*b);
  BOOST_TEST(fetched.size() == 50u);  // every odd build, though 50 present were met
  BOOST_TEST(fetched.back() == "1");
}

BOOST_AUTO_TEST_CASE(present_pr_keys_are_job_and_build_of_the_path) {
  BuildKeySet keys;
  keys.add_path("gs://kubernetes-ci-logs/pr-logs/pull/org_repo/123/pull-job/1001");
  keys.add_path("gs://kubernetes-ci-logs/pr-logs/pull/org_repo/124/pull-job/1002/");  // trailing slash
  keys.add_path("gs://kubernetes-ci-logs/pr-logs/pull/other/9/other-job/1001");
  keys.add_path("gs://kubernetes-ci-logs/pr-logs/pull/org_repo/123/pull-job/1001");  // twice
  keys.seal();
  BOOST_TEST(keys.size() == 3u);
  BOOST_TEST(keys.contains("pull-job", "1001"));
  BOOST_TEST(keys.contains("pull-job", "1002"));
  BOOST_TEST(keys.contains("other-job", "1001"));
  BOOST_TEST(!keys.contains("pull-job", "1003"));
  BOOST_TEST(!keys.contains("other-job", "1002"));
  // The separator cannot be confused: "a/b" + "c" is not "a" + "b/c".
  BOOST_TEST(!keys.contains("pull-job/1001", ""));
  BOOST_TEST(keys.memory_bytes() == 3u * 16u);
}

BOOST_AUTO_TEST_CASE(half_a_million_pr_keys_take_eight_megabytes) {
  BuildKeySet keys;
  for (int i = 0; i < 500'000; ++i)
    keys.add_path("gs://kubernetes-ci-logs/pr-logs/pull/org_repo/" + std::to_string(i / 7) + "/pull-job-" +
                  std::to_string(i % 300) + "/" + std::to_string(1'700'000'000'000'000'000LL + i));
  keys.seal();
  BOOST_TEST(keys.size() == 500'000u);
  BOOST_TEST(keys.memory_bytes() == 500'000u * 16u);
  BOOST_TEST(keys.contains("pull-job-7", std::to_string(1'700'000'000'000'000'000LL + 7)));
  BOOST_TEST(!keys.contains("pull-job-7", std::to_string(1'700'000'000'000'000'000LL + 8)));
}

BOOST_AUTO_TEST_CASE(make_db_exit_code_rules) {
  MakeDbResult r;
  r.listings_read = 3;
  BOOST_TEST(exit_code(r) == 0);
  r.errors = 5;  // single builds that failed: the next run retries them
  BOOST_TEST(exit_code(r) == 0);
  r.listings_absent = 2;  // a bucket gone: a warning
  BOOST_TEST(exit_code(r) == 0);
  MakeDbResult failed_listing = r;
  failed_listing.listing_errors = 1;
  BOOST_TEST(exit_code(failed_listing) == 1);
  MakeDbResult died = r;
  died.task_failures = 1;  // e.g. std::bad_alloc in one job
  BOOST_TEST(exit_code(died) == 1);
  MakeDbResult stopped = failed_listing;
  stopped.interrupted = true;  // SIGTERM: what was collected is committed, exit 0
  BOOST_TEST(exit_code(stopped) == 0);
  died.interrupted = true;  // a dead task fails the run even when stopped
  BOOST_TEST(exit_code(died) == 1);
  MakeDbResult nothing;
  nothing.listings_absent = 4;  // every listing absent: nothing could be read
  BOOST_TEST(exit_code(nothing) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(db_writer)

BOOST_AUTO_TEST_CASE(batched_writes_commit_and_call_back) {
  char tmpl[] = "/tmp/kettle-writer-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  std::string db_path = (dir / "build.db").string();
  std::atomic<int> committed{0};
  {
    DbWriter writer(db_path, 7, "writer-test");
    for (int i = 0; i < 100; ++i) {
      writer.write(BuildWrite{"gs://b/logs/j/" + std::to_string(i), "{\"timestamp\": 1}",
                              "{\"timestamp\": " + std::to_string(10 + i) + "}"},
                   [&committed] { ++committed; });
    }
    // The same content again changes nothing.
    writer.write(BuildWrite{"gs://b/logs/j/5", "{\"timestamp\": 1}", "{\"timestamp\": 15}"});
    writer.finish();
    auto stats = writer.stats();
    BOOST_TEST(stats.builds_written == 100u);
    BOOST_TEST(stats.builds_unchanged == 1u);
    BOOST_TEST(stats.commits >= 100u / 7);
  }
  BOOST_TEST(committed.load() == 100);
  // Only changed builds count as collected.
  BOOST_TEST(kettle::obs::metrics().builds_collected.with({"writer-test"}).value() == 100);
  kettle::store::Database db(db_path);
  int missing = 0;
  int64_t some_id = 0;
  db.for_each_junit_missing([&](int64_t id, const std::string&) {
    ++missing;
    some_id = id;
    return true;
  });
  BOOST_TEST(missing == 100);
  {
    DbWriter writer(db_path, 10, "writer-test");
    writer.write(
        JunitWrite{some_id, {{"gs://b/logs/j/x/artifacts/junit.xml", kettle::store::zlib_compress("<a/>")}}, 4});
    writer.finish();
    BOOST_TEST(writer.stats().junit_files == 1u);
    BOOST_TEST(kettle::obs::metrics().junit_files.with({"writer-test"}).value() == 1);
    BOOST_TEST(kettle::obs::metrics().junit_bytes.with({"writer-test"}).value() == 4);
  }
  missing = 0;
  db.for_each_junit_missing([&](int64_t, const std::string&) {
    ++missing;
    return true;
  });
  BOOST_TEST(missing == 99);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_barrier_in_a_failing_batch_fires_after_the_failure_is_set) {
  fs::path dir = fs::temp_directory_path() / ("kettle-writer-fail-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string db_path = (dir / "build.db").string();
  { kettle::store::Database db(db_path); }
  // A write that fails inside the transaction, as a full disk makes one fail.
  sqlite3* lock = nullptr;
  BOOST_REQUIRE(sqlite3_open(db_path.c_str(), &lock) == SQLITE_OK);
  BOOST_REQUIRE(sqlite3_exec(lock,
                             "create trigger refuse before insert on build when new.gcs_path = 'gs://b/logs/j/bad' "
                             "begin select raise(abort, 'refused'); end",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
  // Hold the database exclusively, so the writer cannot start before both
  // entries are queued: they form one batch.
  BOOST_REQUIRE(sqlite3_exec(lock, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) ==
                SQLITE_OK);
  DbWriter writer(db_path, 10, "writer-test");
  std::atomic<bool> failure_seen{false};
  std::promise<void> barrier;
  writer.write(BuildWrite{"gs://b/logs/j/bad", std::nullopt, "{\"timestamp\": 1}"});
  writer.after_commit([&] {
    failure_seen = static_cast<bool>(writer.failure());
    barrier.set_value();
  });
  sqlite3_exec(lock, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(lock);
  BOOST_TEST((barrier.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready));
  BOOST_TEST(failure_seen.load());
  BOOST_CHECK_THROW(writer.finish(), kettle::store::StoreError);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_listing_state_commits_with_or_after_the_builds_before_it) {
  char tmpl[] = "/tmp/kettle-writer-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  std::string db_path = (dir / "build.db").string();
  const kettle::store::ListingCursor row{"gs://b/logs/j/", "1318681111894691840", 1, 2, 1, {}};
  std::atomic<bool> state_seen_with_build{false};
  {
    DbWriter writer(db_path, 1, "writer-test");  // a transaction per write
    writer.write(BuildWrite{"gs://b/logs/j/1318681111894691840", "{\"timestamp\": 1}", "{\"timestamp\": 2}"});
    writer.write(ListingWrite{row});
    writer.after_commit([&] {
      kettle::store::Database db(db_path);
      state_seen_with_build = db.listing_cursor(row.prefix) && db.is_present("gs://b/logs/j/1318681111894691840", 3);
    });
    writer.finish();
  }
  BOOST_TEST(state_seen_with_build.load());
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(unusable_database_is_reported_by_finish) {
  DbWriter writer("/nonexistent-dir/build.db", 10, "writer-test");
  std::atomic<bool> write_reported{false};
  writer.write(BuildWrite{"gs://b/logs/j/1", std::nullopt, "{\"timestamp\": 1}"}, [&] { write_reported = true; });
  // A barrier still fires after the failure (a waiter must not hang), a write never claims to be committed.
  std::promise<void> barrier;
  writer.after_commit([&] { barrier.set_value(); });
  BOOST_TEST((barrier.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready));
  BOOST_CHECK_THROW(writer.finish(), kettle::store::StoreError);
  BOOST_TEST(!write_reported.load());
  BOOST_TEST(static_cast<bool>(writer.failure()));
}

BOOST_AUTO_TEST_SUITE_END()
