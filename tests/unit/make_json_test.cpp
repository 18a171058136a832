// make-json scenarios (SPEC §3.2): incremental emission, --days windows,
// --reset-emitted, --assert-oldest, explicit paths, size limit, bad input.
#include <sqlite3.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kettle/config/buckets.hpp"
#include "kettle/emit/make_json.hpp"
#include "kettle/rows/build_json.hpp"
#include "kettle/store/database.hpp"
#include "kettle/store/zlib_codec.hpp"
#include "support/files.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;
using kettle::emit::MakeJsonOptions;
using kettle::emit::run_make_json;

namespace {

constexpr int64_t kNow = 1700000000;
constexpr int64_t kDay = 86400;

const char* kBuckets =
    "gs://kubernetes-ci-logs/logs/:\n"
    "  prefix: \"\"\n"
    "  sequential: false\n"
    "gs://kubernetes-jenkins/logs/:\n"
    "  prefix: \"jenkins:\"\n";

const char* kJunit =
    "<testsuite><testcase name=\"ok\" time=\"1.5\"/>"
    "<testcase name=\"bad\" time=\"2\"><failure message=\"boom\">trace</failure></testcase></testsuite>";

struct Fixture {
  fs::path dir;
  std::string db_path;
  std::string buckets_path;
  std::string out_path;
  std::unique_ptr<kettle::store::Database> writer;  // one connection for setting up builds

  Fixture() {
    char tmpl[] = "/tmp/kettle-mj-XXXXXX";
    dir = mkdtemp(tmpl);
    db_path = (dir / "build.db").string();
    buckets_path = (dir / "buckets.yaml").string();
    out_path = (dir / "out.json").string();
    std::ofstream(buckets_path) << kBuckets;
    writer = std::make_unique<kettle::store::Database>(db_path);  // creates the schema
  }
  ~Fixture() {
    writer.reset();
    fs::remove_all(dir);
  }

  // A build that finished `age` seconds before kNow (no finished.json when age < 0).
  void add_build(const std::string& path, int64_t age, bool junit = true) {
    auto& db = *writer;
    std::string started = "{\"timestamp\": " + std::to_string(kNow - age - 100) + "}";
    std::optional<std::string> finished;
    if (age >= 0) finished = "{\"result\": \"SUCCESS\", \"timestamp\": " + std::to_string(kNow - age) + "}";
    auto started_db = kettle::rows::normalize_build_json(started);
    auto finished_db = finished ? kettle::rows::normalize_build_json(*finished) : std::nullopt;
    kettle::rows::FinishedTime ft;
    if (finished_db) ft = kettle::rows::finished_time_of(*finished_db);
    db.upsert_build(path, started_db, finished_db, ft);
    if (junit) db.put_file(path + "/artifacts/junit_01.xml", kettle::store::zlib_compress(kJunit));
  }

  MakeJsonOptions options() const {
    MakeJsonOptions o;
    o.db_path = db_path;
    o.buckets_path = buckets_path;
    o.output = out_path;
    o.threads = 2;
    o.now = [] { return kNow; };
    return o;
  }

  std::vector<json::object> read_rows() const {
    std::ifstream in(out_path);
    std::vector<json::object> rows;
    std::string line;
    while (std::getline(in, line)) rows.push_back(json::parse(line).as_object());
    return rows;
  }

  std::string read_text() const { return kettle::test_support::read_file(out_path); }

  std::vector<std::string> emitted_paths(const MakeJsonOptions& o) {
    auto r = run_make_json(o);
    BOOST_TEST(r.exit_code == 0);
    std::vector<std::string> paths;
    for (auto& row : read_rows()) paths.emplace_back(row.at("path").as_string());
    BOOST_TEST(r.rows == paths.size());
    return paths;
  }
};

// The text of a gzip file's (single) member.
std::string gunzip(const std::string& gz) {
  z_stream z{};
  BOOST_REQUIRE(inflateInit2(&z, 15 + 16) == Z_OK);
  std::string out;
  char buf[1 << 16];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  }
  inflateEnd(&z);
  BOOST_REQUIRE_MESSAGE(rc == Z_STREAM_END, "not a complete gzip stream");
  return out;
}

using Paths = std::vector<std::string>;
const std::string kA = "gs://kubernetes-ci-logs/logs/job-a/100";
const std::string kB = "gs://kubernetes-ci-logs/logs/job-a/101";
const std::string kC = "gs://kubernetes-jenkins/logs/job-b/7";

}  // namespace

BOOST_AUTO_TEST_SUITE(make_json)

BOOST_FIXTURE_TEST_CASE(incremental_emission_in_finished_order, Fixture) {
  add_build(kA, 3 * kDay);
  add_build(kB, 1 * kDay);
  add_build(kC, 2 * kDay);
  add_build("gs://kubernetes-ci-logs/logs/job-a/102", -1);  // never finished: never emitted
  auto first = run_make_json(options());
  BOOST_TEST(first.exit_code == 0);
  BOOST_TEST(*first.gen == 0);
  auto rows = read_rows();
  BOOST_REQUIRE(rows.size() == 3u);
  BOOST_TEST(rows[0].at("path").as_string() == kA);
  BOOST_TEST(rows[1].at("path").as_string() == kC);
  BOOST_TEST(rows[2].at("path").as_string() == kB);
  BOOST_TEST(rows[1].at("job").as_string() == "jenkins:job-b");
  BOOST_TEST(rows[0].at("tests_run").as_int64() == 2);
  BOOST_TEST(rows[0].at("tests_failed").as_int64() == 1);

  BOOST_TEST(emitted_paths(options()).empty());  // nothing new

  add_build("gs://kubernetes-ci-logs/logs/job-a/103", 10);
  auto third = run_make_json(options());
  BOOST_TEST(third.rows == 1u);
  BOOST_TEST(*third.gen == 1);
}

BOOST_FIXTURE_TEST_CASE(output_lines_are_sorted_python_json, Fixture) {
  add_build(kA, kDay);
  run_make_json(options());
  std::string text = read_text();
  BOOST_REQUIRE(!text.empty());
  BOOST_TEST(text.back() == '\n');
  BOOST_TEST(text.find("\"elapsed\": 100, \"finished\": ") == 1u);  // sorted keys, Python separators
  BOOST_TEST(text.find("{\"failed\": true, \"failure_text\": \"boom\\ntrace\", \"name\": \"bad\", \"time\": 2.0}") !=
             std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(days_windows_use_their_own_tables, Fixture) {
  add_build(kA, kDay / 2 + 3600);
  add_build(kB, 3 * kDay);
  add_build(kC, 10 * kDay);
  auto day = options();
  day.days = 1;
  BOOST_TEST(emitted_paths(day) == Paths{kA});
  auto week = options();
  week.days = 7;
  BOOST_TEST(emitted_paths(week) == (Paths{kB, kA}));
  BOOST_TEST(emitted_paths(options()) == (Paths{kC, kB, kA}));  // build_emitted: everything
  BOOST_TEST(emitted_paths(day).empty());
  auto half = options();
  half.days = 0.5;  // table build_emitted_0_5
  add_build("gs://kubernetes-ci-logs/logs/job-a/104", 60);
  BOOST_TEST(emitted_paths(half) == Paths{"gs://kubernetes-ci-logs/logs/job-a/104"});
  kettle::store::Database db(db_path);
  BOOST_TEST(db.oldest_emitted(kettle::store::IncrementalTable::for_days(0.5)).has_value());
}

BOOST_FIXTURE_TEST_CASE(reset_emitted_only_touches_its_table, Fixture) {
  add_build(kA, kDay / 2);
  auto day = options();
  day.days = 1;
  BOOST_TEST(emitted_paths(day).size() == 1u);
  BOOST_TEST(emitted_paths(options()).size() == 1u);
  auto reset = day;
  reset.reset_emitted = true;
  BOOST_TEST(emitted_paths(reset) == Paths{kA});
  BOOST_TEST(emitted_paths(options()).empty());  // build_emitted kept its record
}

BOOST_FIXTURE_TEST_CASE(assert_oldest_exit_codes, Fixture) {
  auto check = options();
  check.days = 1;
  check.assert_oldest = 1.9;
  BOOST_TEST(run_make_json(check).exit_code == 1);  // empty table

  add_build(kA, kDay / 2);
  auto day = options();
  day.days = 1;
  run_make_json(day);
  BOOST_TEST(run_make_json(check).exit_code == 0);

  // The same table seen two days later: its oldest build is now too old.
  check.now = [] { return kNow + 2 * kDay; };
  BOOST_TEST(run_make_json(check).exit_code == 1);
  // --assert-oldest emits nothing.
  BOOST_TEST(!fs::exists(out_path + ".tmp"));
}

BOOST_FIXTURE_TEST_CASE(explicit_paths_use_scratch_table, Fixture) {
  add_build(kA, kDay);
  add_build(kB, 2 * kDay);
  add_build(kC, 3 * kDay);
  BOOST_TEST(emitted_paths(options()).size() == 3u);
  auto manual = options();
  manual.paths = {kA + "/", kC, "gs://kubernetes-ci-logs/logs/job-a/999"};
  BOOST_TEST(emitted_paths(manual) == (Paths{kC, kA}));
  BOOST_TEST(emitted_paths(manual) == (Paths{kC, kA}));  // scratch table cleared each time
  BOOST_TEST(emitted_paths(options()).empty());
}

BOOST_FIXTURE_TEST_CASE(rows_over_the_size_limit_are_skipped_and_not_marked, Fixture) {
  add_build(kA, kDay, /*junit=*/true);
  add_build(kB, 2 * kDay, /*junit=*/false);
  auto small = options();
  small.max_row_bytes = 320;  // ~250 bytes without JUnit, ~420 with it
  auto r = run_make_json(small);
  BOOST_TEST(r.rows == 1u);
  BOOST_TEST(r.skipped == 1u);
  BOOST_TEST(read_rows().at(0).at("path").as_string() == kB);
  BOOST_TEST(emitted_paths(options()) == Paths{kA});  // the skipped one is still pending
}

BOOST_FIXTURE_TEST_CASE(builds_without_row_and_bad_junit_do_not_stop_the_run, Fixture) {
  add_build("gs://unknown-bucket/logs/job/1", kDay);
  add_build(kA, 2 * kDay);
  writer->put_file(kA + "/artifacts/junit_02.xml", "this is not zlib");
  auto r = run_make_json(options());
  BOOST_TEST(r.rows == 1u);
  BOOST_TEST(r.skipped == 1u);
  auto rows = read_rows();
  BOOST_TEST(rows.at(0).at("tests_run").as_int64() == 2);  // from the good file
}

BOOST_FIXTURE_TEST_CASE(gzip_and_thread_counts_give_identical_rows, Fixture) {
  for (int i = 0; i < 300; ++i) add_build("gs://kubernetes-ci-logs/logs/job-z/" + std::to_string(1000 + i), 1000 + i);
  auto one = options();
  one.threads = 1;
  one.paths = {};
  run_make_json(one);
  std::string plain = read_text();
  BOOST_TEST(std::count(plain.begin(), plain.end(), '\n') == 300);

  auto two = options();
  two.threads = 2;
  two.reset_emitted = true;
  two.gzip = true;
  run_make_json(two);
  BOOST_TEST(gunzip(read_text()) == plain);
}

BOOST_FIXTURE_TEST_CASE(bad_inputs_are_clear_errors, Fixture) {
  auto missing = options();
  missing.db_path = (dir / "nope.db").string();
  BOOST_CHECK_THROW(run_make_json(missing), kettle::store::StoreError);
  BOOST_TEST(!fs::exists(missing.db_path));

  std::ofstream(dir / "garbage.db") << std::string(8192, 'x');
  auto corrupt = options();
  corrupt.db_path = (dir / "garbage.db").string();
  BOOST_CHECK_THROW(run_make_json(corrupt), kettle::store::StoreError);

  auto no_buckets = options();
  no_buckets.buckets_path = (dir / "missing.yaml").string();
  BOOST_CHECK_THROW(run_make_json(no_buckets), kettle::config::ConfigError);
  BOOST_TEST(!fs::exists(out_path));  // no partial output
}

BOOST_FIXTURE_TEST_CASE(stop_request_marks_only_written_rows, Fixture) {
  for (int i = 0; i < 50; ++i) add_build("gs://kubernetes-ci-logs/logs/job-s/" + std::to_string(i), 100 + i);
  auto stopping = options();
  int polls = 0;
  stopping.should_stop = [&polls] { return ++polls > 10; };
  auto r = run_make_json(stopping);
  BOOST_TEST(r.rows == 10u);
  BOOST_TEST(read_rows().size() == 10u);
  BOOST_TEST(emitted_paths(options()).size() == 40u);  // the rest is emitted next time
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- one scan, several outputs

namespace {

using kettle::emit::MakeJsonOutput;

// The update cycle's outputs in prod (SPEC §6): day and week rebuilt when the
// day table is stale, all append-only.
std::vector<MakeJsonOutput> cycle_outputs(const fs::path& dir, bool stale) {
  return {{1.0, stale, (dir / "build_day.json.gz").string(), true},
          {7.0, stale, (dir / "build_week.json.gz").string(), true},
          {30.0, false, (dir / "build_all.json.gz").string(), true}};
}

// Rows of an incremental table, "id:gen" in id order; "absent" when there is no table.
std::vector<std::string> emitted_table(const std::string& db_path, const std::string& table) {
  kettle::store::Database db(db_path, /*create=*/false);
  sqlite3_stmt* q = nullptr;
  std::vector<std::string> rows;
  if (sqlite3_prepare_v2(db.handle(), ("select build_id, gen from " + table + " order by build_id").c_str(), -1, &q,
                         nullptr) != SQLITE_OK) {
    sqlite3_finalize(q);
    return {"absent"};
  }
  while (sqlite3_step(q) == SQLITE_ROW)
    rows.push_back(std::to_string(sqlite3_column_int64(q, 0)) + ":" + std::to_string(sqlite3_column_int64(q, 1)));
  sqlite3_finalize(q);
  return rows;
}

// Two copies of one DB: one gets three separate make-json runs, the other one scan.
struct TwoWays : Fixture {
  fs::path separate_dir = dir / "separate";
  fs::path scan_dir = dir / "scan";

  void split() {
    writer.reset();  // closed: the WAL is checkpointed into the file
    for (const auto& d : {separate_dir, scan_dir}) {
      fs::create_directories(d);
      fs::copy_file(db_path, d / "build.db", fs::copy_options::overwrite_existing);
    }
  }

  // Whether the day table is stale, as the cycle asks (--days 1 --assert-oldest 1.9).
  bool day_is_stale(const fs::path& d, int64_t now) const {
    auto check = options();
    check.db_path = (d / "build.db").string();
    check.days = 1;
    check.assert_oldest = 1.9;
    check.now = [now] { return now; };
    return run_make_json(check).exit_code != 0;
  }

  // Runs both ways at `now`; checks the files, tables and results are the
  // same. Returns the rows of each output.
  std::vector<uint64_t> run_both(int64_t now, bool expect_stale) {
    BOOST_TEST(day_is_stale(separate_dir, now) == expect_stale);
    BOOST_TEST(day_is_stale(scan_dir, now) == expect_stale);
    auto base = options();
    base.now = [now] { return now; };

    std::vector<kettle::emit::MakeJsonResult> separate;
    for (const auto& out : cycle_outputs(separate_dir, expect_stale)) {
      auto one = base;
      one.db_path = (separate_dir / "build.db").string();
      one.days = out.days;
      one.reset_emitted = out.reset_emitted;
      one.output = out.output;
      one.gzip = out.gzip;
      separate.push_back(run_make_json(one));
    }
    auto all = base;
    all.db_path = (scan_dir / "build.db").string();
    const auto scanned = run_make_json(all, cycle_outputs(scan_dir, expect_stale));

    BOOST_REQUIRE(scanned.size() == 3u);
    for (size_t i = 0; i < 3; ++i) {
      BOOST_TEST(scanned[i].rows == separate[i].rows, "output " << i);
      BOOST_TEST(scanned[i].skipped == separate[i].skipped, "output " << i);
      BOOST_TEST((scanned[i].gen == separate[i].gen), "output " << i);
    }
    for (const char* file : {"build_day.json.gz", "build_week.json.gz", "build_all.json.gz"}) {
      const std::string a = gunzip(kettle::test_support::read_file(separate_dir / file));
      const std::string b = gunzip(kettle::test_support::read_file(scan_dir / file));
      BOOST_TEST((a == b), file << " differs");
    }
    for (const char* table : {"build_emitted_1", "build_emitted_7", "build_emitted_30"}) {
      const auto a = emitted_table((separate_dir / "build.db").string(), table);
      const auto b = emitted_table((scan_dir / "build.db").string(), table);
      BOOST_TEST(a.front() != "absent", table);
      BOOST_TEST((a == b), table << " differs");
    }
    return {scanned[0].rows, scanned[1].rows, scanned[2].rows};
  }

  // The same new builds in both copies.
  void add_to_both(const std::string& path, int64_t age_at_now) {
    for (const auto& d : {separate_dir, scan_dir}) {
      writer = std::make_unique<kettle::store::Database>((d / "build.db").string());
      add_build(path, age_at_now);
      writer.reset();
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(make_json_one_scan)

BOOST_FIXTURE_TEST_CASE(three_outputs_from_one_scan_equal_three_separate_runs, TwoWays) {
  const std::string ci = "gs://kubernetes-ci-logs/logs/job-w/";
  // Inside and outside each window, on its edges, never finished, and ties
  // of finished time (emitted in rowid order).
  const int64_t ages[] = {60,      kDay / 2, kDay - 1, kDay,     kDay + 1,  3 * kDay, 7 * kDay - 1, 7 * kDay,
                          7 * kDay + 1, 12 * kDay, 30 * kDay, 30 * kDay + 1, 45 * kDay, -1, 2 * kDay, 2 * kDay};
  int n = 0;
  for (int64_t age : ages) add_build(ci + std::to_string(100 + n++), age);
  add_build("gs://unknown-bucket/logs/job/1", kDay / 3);  // no row: skipped by every output
  add_build("gs://kubernetes-jenkins/logs/job-j/5", 4 * kDay, /*junit=*/false);
  writer->put_file(ci + "101/artifacts/junit_02.xml", "this is not zlib");
  // An old reference row: TEXT finished_time passes every window.
  const std::string text_time = std::to_string(kNow - 3600);
  sqlite3_exec(writer->handle(),
               ("insert into build values('gs://kubernetes-ci-logs/logs/job-t/1', null, '{\"timestamp\": " +
                text_time + "}', '" + text_time + "')")
                   .c_str(),
               nullptr, nullptr, nullptr);
  // Already emitted: the day table holds only an old build (stale), week and
  // all hold some of the builds in their windows.
  auto id_of = [&](const std::string& path) { return writer->find_build(path)->id; };
  writer->insert_emitted(kettle::store::IncrementalTable::for_days(1.0), {id_of(ci + "109")});
  writer->insert_emitted(kettle::store::IncrementalTable::for_days(7.0), {id_of(ci + "101"), id_of(ci + "105")});
  writer->insert_emitted(kettle::store::IncrementalTable::for_days(30.0), {id_of(ci + "100"), id_of(ci + "109")});
  writer->insert_emitted(kettle::store::IncrementalTable::for_days(30.0), {id_of(ci + "110")});
  split();

  // Rows of day, week and all, counted by hand: the TEXT row is in every
  // window, the unknown bucket in none, and the already emitted are left out
  // of all (the rebuilt day and week take theirs again).
  const auto first = run_both(kNow, /*expect_stale=*/true);
  BOOST_TEST(first == (std::vector<uint64_t>{5, 12, 12}));
  // The next cycle, three hours later: two new builds, a fresh day table.
  add_to_both(ci + "200", 600);
  add_to_both(ci + "201", 300);
  const auto second = run_both(kNow + 3 * 3600, /*expect_stale=*/false);
  BOOST_TEST(second == (std::vector<uint64_t>{2, 2, 2}));
  // Two days later, nothing new: stale again, day and week rebuilt.
  const auto third = run_both(kNow + 2 * kDay, /*expect_stale=*/true);
  BOOST_TEST(third == (std::vector<uint64_t>{1, 12, 0}));
}

BOOST_FIXTURE_TEST_CASE(outputs_sharing_a_table_are_refused_before_anything_changes, Fixture) {
  add_build(kA, kDay / 2);
  auto opt = options();
  std::vector<MakeJsonOutput> outs{{1.0, false, (dir / "a.json").string(), false},
                                   {1.0, true, (dir / "b.json").string(), false}};
  BOOST_CHECK_THROW(run_make_json(opt, outs), std::invalid_argument);
  BOOST_TEST(!fs::exists(dir / "a.json"));
  std::vector<MakeJsonOutput> two_stdout{{1.0, false, std::nullopt, false}, {7.0, false, std::nullopt, false}};
  BOOST_CHECK_THROW(run_make_json(opt, two_stdout), std::invalid_argument);
}

BOOST_FIXTURE_TEST_CASE(a_stop_marks_in_every_output_what_it_wrote, Fixture) {
  for (int i = 0; i < 40; ++i) add_build("gs://kubernetes-ci-logs/logs/job-s/" + std::to_string(i), 100 + i * 3600);
  auto stopping = options();
  int polls = 0;
  stopping.should_stop = [&polls] { return ++polls > 30; };
  const auto r = run_make_json(stopping, {{1.0, false, (dir / "day.json").string(), false},
                                          {7.0, false, (dir / "week.json").string(), false}});
  // The 30 oldest of the 40: 24 finished within a day of kNow (ages 100 s + 0..23 h).
  BOOST_TEST(r[1].rows == 30u);
  BOOST_TEST(r[0].rows == 14u);
  auto day = options();
  day.days = 1;
  BOOST_TEST(emitted_paths(day).size() == 10u);  // the rest comes next time
}

BOOST_AUTO_TEST_SUITE_END()

// update's load (MakeJsonOptions::junit_hold): rows of builds whose JUnit is
// missing wait, unmarked, while recent; older ones go without tests.
BOOST_AUTO_TEST_SUITE(make_json_junit_hold)

BOOST_FIXTURE_TEST_CASE(recent_builds_missing_junit_are_held_unmarked_and_old_ones_emitted, Fixture) {
  const std::string ci = "gs://kubernetes-ci-logs/logs/job-h/";
  add_build(ci + "1", 3600);            // JUnit stored: emitted
  add_build(ci + "2", 3600, false);     // missing, an hour old: held
  add_build(ci + "3", 3 * kDay, false); // missing, three days old: late, without tests
  add_build(ci + "4", 2 * kDay - 1);    // missing, just within two days: held
  // upsert_build marks every new build missing; build 1's JUnit is stored.
  writer->clear_junit_missing(writer->find_build(ci + "1")->id);
  const fs::path week = dir / "build_week.json.gz";
  const fs::path all = dir / "build_all.json.gz";
  const std::vector<MakeJsonOutput> outs{{7.0, false, week.string(), true}, {30.0, false, all.string(), true}};

  auto o = options();
  o.junit_hold = kettle::emit::LoadHoldConfig{};
  auto results = run_make_json(o, outs);
  BOOST_REQUIRE(results.size() == 2u);
  for (const auto& r : results) {
    BOOST_TEST(r.rows == 2u);
    BOOST_TEST(r.held == 2u);
  }
  auto paths_of = [](const fs::path& gz) {
    std::vector<std::string> paths;
    std::istringstream in(gunzip(kettle::test_support::read_file(gz)));
    for (std::string line; std::getline(in, line);)
      paths.emplace_back(json::parse(line).at("path").as_string());
    return paths;
  };
  const std::vector<std::string> first{ci + "3", ci + "1"};  // finished-time order
  BOOST_TEST(paths_of(week) == first, boost::test_tools::per_element());
  BOOST_TEST(paths_of(all) == first, boost::test_tools::per_element());
  const auto ids = [&](std::initializer_list<int> ns) {
    std::vector<std::string> v;
    for (int n : ns) v.push_back(std::to_string(writer->find_build(ci + std::to_string(n))->id) + ":0");
    std::sort(v.begin(), v.end());
    return v;
  };
  BOOST_TEST(emitted_table(db_path, "build_emitted_30") == ids({1, 3}), boost::test_tools::per_element());

  // Build 2's JUnit arrives: the next load emits it, with its tests; 4 still waits.
  writer->put_file(ci + "2/artifacts/junit_01.xml", kettle::store::zlib_compress(kJunit));
  writer->clear_junit_missing(writer->find_build(ci + "2")->id);
  results = run_make_json(o, outs);
  BOOST_TEST(results[1].rows == 1u);
  BOOST_TEST(results[1].held == 1u);
  std::istringstream in(gunzip(kettle::test_support::read_file(all)));
  std::string line;
  BOOST_REQUIRE(std::getline(in, line));
  const auto row = json::parse(line).as_object();
  BOOST_TEST(row.at("path").as_string() == ci + "2");
  BOOST_TEST(row.at("tests_run").as_int64() == 2);
  BOOST_TEST(!std::getline(in, line));
}

BOOST_FIXTURE_TEST_CASE(without_the_option_every_row_goes_as_make_json_emits_it, Fixture) {
  const std::string ci = "gs://kubernetes-ci-logs/logs/job-h/";
  add_build(ci + "1", 3600, false);  // marked missing, as every build of a DB made without --junit
  const std::vector<MakeJsonOutput> outs{{30.0, false, out_path, false}};
  auto results = run_make_json(options(), outs);
  BOOST_TEST(results[0].rows == 1u);
  BOOST_TEST(results[0].held == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
