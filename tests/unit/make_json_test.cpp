// make-json scenarios (SPEC §3.2): incremental emission, --days windows,
// --reset-emitted, --assert-oldest, explicit paths, size limit, bad input.
#include <unistd.h>
#include <zlib.h>

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
  std::string gz = read_text();
  z_stream z{};
  inflateInit2(&z, 15 + 16);
  std::string out(plain.size() + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(gz.data());
  z.avail_in = static_cast<uInt>(gz.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  BOOST_TEST(inflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  BOOST_TEST(out == plain);
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
