// Rows (SPEC §3) and started/finished handling (SPEC §4, D3-D5, D13).
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <variant>

#include "kettle/config/buckets.hpp"
#include "kettle/rows/build_json.hpp"
#include "kettle/rows/builder.hpp"
#include "kettle/rows/pyjson.hpp"
#include "support/files.hpp"

namespace json = boost::json;
using namespace kettle;

// Lets BOOST_TEST compare optional timestamps and numbers; the message names the case.
BOOST_TEST_DONT_PRINT_LOG_VALUE(std::optional<int64_t>)
using namespace kettle::rows;

using kettle::test_support::read_spec_file;

namespace {

constexpr const char* kCiPath = "gs://kubernetes-ci-logs/logs/ci-kubernetes-e2e-gci-gce/1595284709000001";

const config::Buckets& spec_buckets() {
  static const config::Buckets buckets = config::Buckets::parse(read_spec_file("buckets.yaml"), "buckets.yaml");
  return buckets;
}

// The DB text collection would store for a vector's started/finished value.
std::optional<std::string> db_text(const json::value& v) {
  if (v.is_null()) return std::nullopt;
  return normalize_build_json(json::serialize(v));
}

BuildInput input_of(const json::object& c) {
  BuildInput in;
  in.path = c.at("path").get_string().c_str();
  in.started_json = db_text(c.at("started"));
  in.finished_json = db_text(c.at("finished"));
  for (const auto& name : c.at("junit").get_array()) {
    const std::string file = name.get_string().c_str();
    in.junit.push_back({in.path + "/artifacts/" + file, read_spec_file("junit/" + file)});
  }
  return in;
}

// A row, and its line read back as an object for field checks.
struct RowResult {
  std::optional<json::object> row;  // nullopt: no row
  std::string line;
  std::string error;
};

RowResult row_of(const BuildInput& in) {
  RowLine r = build_row(in, spec_buckets());
  RowResult out{std::nullopt, r.line, r.error};
  if (r.ok()) {
    auto parsed = parse_json(r.line);
    BOOST_REQUIRE_MESSAGE(parsed && parsed->is_object(), "not a JSON object: " << r.line);
    out.row = parsed->get_object();
  }
  return out;
}

const json::array& row_vectors() {
  static const json::value vectors = *parse_json(read_spec_file("rows.json"));
  return vectors.get_array();
}

const json::object& vector_named(std::string_view name) {
  for (const auto& v : row_vectors())
    if (v.at("name").get_string() == name) return v.get_object();
  BOOST_FAIL("no rows.json vector named " << name);
  throw std::logic_error("unreachable");
}

// A row for a build with the given DB texts (JSON text, or "" for absent).
json::object row_for(const std::string& path, const std::string& started, const std::string& finished,
                     std::vector<JunitFile> junit = {}) {
  BuildInput in;
  in.path = path;
  if (!started.empty()) in.started_json = started;
  if (!finished.empty()) in.finished_json = finished;
  in.junit = std::move(junit);
  RowResult r = row_of(in);
  BOOST_REQUIRE_MESSAGE(r.row, "no row: " << r.error);
  return *r.row;
}

std::optional<int64_t> number_of(const std::string& path) {
  const auto jn = job_and_number(path, spec_buckets());
  BOOST_REQUIRE(jn);
  return jn->number;
}

std::optional<int64_t> timestamp_of(const std::string& json_text) {
  const auto v = parse_json(json_text);
  BOOST_REQUIRE(v);
  return timestamp_seconds(&*v);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rows_spec_vectors)

BOOST_AUTO_TEST_CASE(every_vector_with_a_row_matches_the_reference) {
  BOOST_REQUIRE_EQUAL(row_vectors().size(), 30u);
  int compared = 0;
  for (const auto& v : row_vectors()) {
    const auto& c = v.get_object();
    if (c.contains("raises")) continue;
    BOOST_TEST_CONTEXT("vector: " << c.at("name").get_string()) {
      const RowResult r = row_of(input_of(c));
      BOOST_REQUIRE_MESSAGE(r.row, r.error);
      BOOST_TEST(json::value(*r.row) == c.at("row"), "got " << json::serialize(*r.row));
      BOOST_TEST(r.line == c.at("ndjson").get_string().c_str());
      ++compared;
    }
  }
  BOOST_TEST(compared == 26);
}

BOOST_AUTO_TEST_CASE(unknown_bucket_has_no_row_and_says_why) {
  const RowResult r = row_of(input_of(vector_named("unknown bucket")));
  BOOST_TEST(!r.row);
  BOOST_TEST(r.error.find("gs://unknown-bucket/foo/123") != std::string::npos, r.error);
}

BOOST_AUTO_TEST_CASE(started_missing_timestamp_keeps_the_row) {
  const RowResult r = row_of(input_of(vector_named("started missing timestamp")));
  BOOST_REQUIRE(r.row);
  BOOST_TEST(!r.row->contains("started"));
  BOOST_TEST(!r.row->contains("elapsed"));
  BOOST_TEST(r.row->at("executor") == "x");
  BOOST_TEST(r.row->at("finished") == 2);
}

BOOST_AUTO_TEST_CASE(started_timestamp_float_string_is_truncated) {
  const RowResult r = row_of(input_of(vector_named("started timestamp not int")));
  BOOST_REQUIRE(r.row);
  BOOST_TEST(r.row->at("started") == 12);
  BOOST_TEST(r.row->at("finished") == 2);
  BOOST_TEST(r.row->at("elapsed") == -10);
}

BOOST_AUTO_TEST_CASE(metadata_with_finished_missing_is_kept) {
  const RowResult r = row_of(input_of(vector_named("metadata with finished missing")));
  BOOST_REQUIRE(r.row);
  BOOST_TEST(r.row->at("started") == 1);
  BOOST_TEST(json::value(r.row->at("metadata")) == json::parse(R"([{"key": "a", "value": "b"}])"));
  BOOST_TEST(!r.row->contains("finished"));
  BOOST_TEST(!r.row->contains("elapsed"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(job_and_number_rules)

BOOST_AUTO_TEST_CASE(build_number_only_from_ascii_digits_fitting_int64) {
  const std::string job = "gs://kubernetes-ci-logs/logs/some-job/";
  BOOST_TEST(number_of(job + "42") == std::optional<int64_t>(42));
  BOOST_TEST(number_of(job + "000123") == std::optional<int64_t>(123));
  BOOST_TEST(number_of(job + "9223372036854775807") == std::optional<int64_t>(9223372036854775807));
  for (const char* bad : {"+5", "1_000", "-3", "\u0661\u0662", "\uff11", "99999999999999999999",
                          "9223372036854775808", " 5", "5 ", "", "1.0"}) {
    BOOST_TEST(!number_of(job + bad), "number from " << bad);
  }
}

BOOST_AUTO_TEST_CASE(job_is_prefix_plus_parent_directory) {
  const auto jn = job_and_number("gs://kubernetes-jenkins/logs/ci-kubernetes-build/9", spec_buckets());
  BOOST_REQUIRE(jn);
  BOOST_TEST(jn->job == "jenkins:ci-kubernetes-build");
  BOOST_TEST(!job_and_number("gs://elsewhere/logs/job/1", spec_buckets()));
}

BOOST_AUTO_TEST_CASE(first_matching_bucket_in_file_order_wins) {
  const auto buckets = config::Buckets::parse(
      "gs://b/logs/:\n  prefix: \"first:\"\ngs://b/:\n  prefix: \"second:\"\n", "test.yaml");
  BOOST_TEST(job_and_number("gs://b/logs/j/1", buckets)->job == "first:j");
  BOOST_TEST(job_and_number("gs://b/other/j/1", buckets)->job == "second:j");
}

BOOST_AUTO_TEST_CASE(number_zero_is_omitted_like_python_truthiness) {
  BOOST_TEST(number_of("gs://kubernetes-ci-logs/logs/some-job/0") == std::optional<int64_t>(0));
  BOOST_TEST(number_of("gs://kubernetes-ci-logs/logs/some-job/000") == std::optional<int64_t>(0));
  const auto row = row_for("gs://kubernetes-ci-logs/logs/some-job/0", "", R"({"timestamp": 1})");
  BOOST_TEST(!row.contains("number"));
  BOOST_TEST(row.at("job") == "some-job");
}

BOOST_AUTO_TEST_CASE(unusable_number_is_omitted_from_the_row) {
  const auto row = row_for("gs://kubernetes-ci-logs/logs/some-job/99999999999999999999", "", R"({"timestamp": 1})");
  BOOST_TEST(!row.contains("number"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(build_json_rules)

BOOST_AUTO_TEST_CASE(normalized_text_is_python_dumps_with_sorted_keys) {
  BOOST_TEST(*normalize_build_json(R"({"timestamp":1595284709,"node":"n","repos":{"b":"1","a":"2"},"f":3900.0})") ==
             R"({"f": 3900.0, "node": "n", "repos": {"a": "2", "b": "1"}, "timestamp": 1595284709})");
  BOOST_TEST(*normalize_build_json("{\"u\": \"caf\xc3\xa9\"}") == R"({"u": "caf\u00e9"})");
}

BOOST_AUTO_TEST_CASE(bom_is_skipped) {
  BOOST_TEST(*normalize_build_json("\xEF\xBB\xBF{\"timestamp\": 5}") == R"({"timestamp": 5})");
}

BOOST_AUTO_TEST_CASE(anything_but_a_non_empty_object_is_absent) {
  for (const char* text : {"", "{}", "[]", "[1]", "\"x\"", "1", "null", "true", "{\"a\":", "not json", "\xEF\xBB\xBF",
                           " \n", "{\"a\": 1}}"}) {
    BOOST_TEST(!normalize_build_json(text), "accepted: " << text);
  }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_becomes_replacement_character) {
  BOOST_TEST(*normalize_build_json("{\"node\": \"a\xff\"}") == R"({"node": "a\ufffd"})");
}

BOOST_AUTO_TEST_CASE(timestamps_of_every_usable_kind) {
  BOOST_TEST(timestamp_of("1595284709") == std::optional<int64_t>(1595284709));
  BOOST_TEST(timestamp_of("1595284709.9") == std::optional<int64_t>(1595284709));
  BOOST_TEST(timestamp_of("-1.9") == std::optional<int64_t>(-1));
  BOOST_TEST(timestamp_of("\"1595284709\"") == std::optional<int64_t>(1595284709));
  BOOST_TEST(timestamp_of("\" 12.5 \"") == std::optional<int64_t>(12));
  BOOST_TEST(timestamp_of("\"+7\"") == std::optional<int64_t>(7));
  BOOST_TEST(timestamp_of("\"-7.5\"") == std::optional<int64_t>(-7));
  BOOST_TEST(timestamp_of("\"1.5e3\"") == std::optional<int64_t>(1500));
  BOOST_TEST(timestamp_of("\".5\"") == std::optional<int64_t>(0));
  BOOST_TEST(timestamp_of("0") == std::optional<int64_t>(0));
  BOOST_TEST(timestamp_of("253402300799") == std::optional<int64_t>(253402300799));
  BOOST_TEST(timestamp_of("-62135596800") == std::optional<int64_t>(-62135596800));
}

BOOST_AUTO_TEST_CASE(unusable_timestamps_are_nullopt) {
  BOOST_TEST(!timestamp_seconds(nullptr));
  for (const char* text : {"null", "true", "false", "[]", "{}", "\"\"", "\"abc\"", "\"12abc\"", "\"1_000\"",
                           "\"nan\"", "\"inf\"", "\"1e400\"", "\"0x10\"", "\".\"", "\"1e\"", "253402300800",
                           "-62135596801", "253402300800.5", "18446744073709551615", "1e300",
                           "\"253402300800\"", "\"99999999999999999999\""}) {
    BOOST_TEST(!timestamp_of(text), "usable: " << text);
  }
}

BOOST_AUTO_TEST_CASE(finished_time_column_values) {
  BOOST_TEST(std::get<int64_t>(finished_time_of(R"({"timestamp": 15})")) == 15);
  BOOST_TEST(std::get<double>(finished_time_of(R"({"timestamp": 15.5})")) == 15.5);
  BOOST_TEST(std::get<int64_t>(finished_time_of(R"({"timestamp": "1595286616"})")) == 1595286616);
  BOOST_TEST(std::get<int64_t>(finished_time_of(R"({"timestamp": "15.9"})")) == 15);
  BOOST_TEST(std::holds_alternative<std::monostate>(finished_time_of(R"({"timestamp": "soon"})")));
  BOOST_TEST(std::holds_alternative<std::monostate>(finished_time_of(R"({"timestamp": null})")));
  BOOST_TEST(std::holds_alternative<std::monostate>(finished_time_of(R"({"timestamp": true})")));
  BOOST_TEST(std::holds_alternative<std::monostate>(finished_time_of(R"({"result": "SUCCESS"})")));
  BOOST_TEST(std::holds_alternative<std::monostate>(finished_time_of("garbage")));
  BOOST_TEST(std::holds_alternative<std::monostate>(finished_time_of("")));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(row_rules)

BOOST_AUTO_TEST_CASE(string_timestamps_give_started_finished_and_elapsed) {
  const auto row = row_for(kCiPath, R"({"timestamp": "100"})", R"({"timestamp": " 160.7 "})");
  BOOST_TEST(row.at("started") == 100);
  BOOST_TEST(row.at("finished") == 160);
  BOOST_TEST(row.at("elapsed") == 60);
}

BOOST_AUTO_TEST_CASE(timestamp_beyond_year_9999_is_omitted) {
  const auto row = row_for(kCiPath, R"({"timestamp": 253402300800, "node": "n"})", R"({"timestamp": 10})");
  BOOST_TEST(!row.contains("started"));
  BOOST_TEST(!row.contains("elapsed"));
  BOOST_TEST(row.at("executor") == "n");
  BOOST_TEST(row.at("finished") == 10);
}

BOOST_AUTO_TEST_CASE(unusable_db_text_counts_as_absent) {
  for (const char* bad : {"{}", "[]", "[1, 2]", "not json", "\"text\""}) {
    const auto row = row_for(kCiPath, bad, bad);
    BOOST_TEST(!row.contains("started"));
    BOOST_TEST(!row.contains("finished"));
    BOOST_TEST(row.at("job") == "ci-kubernetes-e2e-gci-gce");
  }
  const auto with_bom = row_for(kCiPath, "\xEF\xBB\xBF{\"timestamp\": 3}", "");
  BOOST_TEST(with_bom.at("started") == 3);
}

BOOST_AUTO_TEST_CASE(metadata_that_is_not_an_object_is_ignored) {
  for (const char* meta : {"\"text\"", "[1, 2]", "5", "null", "true"}) {
    const auto row = row_for(kCiPath, R"({"timestamp": 1, "metadata": {"from": "started"}})",
                             std::string(R"({"timestamp": 2, "metadata": )") + meta + "}");
    // finished has the key, so started's metadata is not used (as in the reference).
    BOOST_TEST(!row.contains("metadata"), "metadata " << meta);
    BOOST_TEST(row.at("elapsed") == 1);
  }
  const auto row = row_for(kCiPath, R"({"timestamp": 1, "metadata": "x"})", "");
  BOOST_TEST(!row.contains("metadata"));
}

BOOST_AUTO_TEST_CASE(metadata_versions_dropped_only_when_equal_to_finished_version) {
  const auto row = row_for(kCiPath, "",
                           R"({"timestamp": 2, "version": 1, "metadata": {"version": 1.0, "job-version": "1", "k": "v"}})");
  BOOST_TEST(json::value(row.at("metadata")) ==
             json::parse(R"([{"key": "job-version", "value": "1"}, {"key": "k", "value": "v"}])"));
  BOOST_TEST(row.at("version") == 1);
  // D5: no finished.json, nothing to compare with.
  const auto started_only = row_for(kCiPath, R"({"timestamp": 1, "metadata": {"version": "v", "job-version": "v"}})", "");
  BOOST_TEST(json::value(started_only.at("metadata")) ==
             json::parse(R"([{"key": "job-version", "value": "v"}, {"key": "version", "value": "v"}])"));
}

BOOST_AUTO_TEST_CASE(metadata_emptied_by_cleaning_is_omitted) {
  const auto row = row_for(kCiPath, "", R"({"timestamp": 2, "version": "v", "metadata": {"repo": "", "version": "v"}})");
  BOOST_TEST(!row.contains("metadata"));
}

BOOST_AUTO_TEST_CASE(falsy_repo_values_dropped) {
  for (const char* repo : {"\"\"", "null", "0", "0.0", "false", "[]", "{}"}) {
    const auto row = row_for(kCiPath, "", std::string(R"({"timestamp": 2, "metadata": {"k": "v", "repo": )") + repo + "}}");
    BOOST_TEST(json::value(row.at("metadata")) == json::parse(R"([{"key": "k", "value": "v"}])"), "repo " << repo);
  }
}

BOOST_AUTO_TEST_CASE(started_repos_win_over_metadata_repos) {
  const auto row = row_for(kCiPath, R"({"timestamp": 1, "repos": {"a": "b"}})",
                           R"({"timestamp": 2, "metadata": {"repos": {"c": "d"}}})");
  BOOST_TEST(row.at("repos") == R"({"a": "b"})");
  const auto meta_string = row_for(kCiPath, "", R"({"timestamp": 2, "metadata": {"repos": "plain"}})");
  BOOST_TEST(meta_string.at("repos") == "plain");
}

BOOST_AUTO_TEST_CASE(null_values_are_omitted_and_repo_commit_null_does_not_fall_back) {
  const auto row = row_for(kCiPath, R"({"timestamp": 1, "node": null, "repo-commit": null, "repo-version": "v"})",
                           R"({"timestamp": 2, "version": null})");
  BOOST_TEST(!row.contains("executor"));
  BOOST_TEST(!row.contains("repo_commit"));
  BOOST_TEST(!row.contains("version"));
}

BOOST_AUTO_TEST_CASE(copied_values_keep_their_json_type) {
  const auto row = row_for(kCiPath, R"({"timestamp": 1, "node": 7, "repo-commit": ["x"]})",
                           R"({"timestamp": 2, "result": 1, "version": 2.5})");
  BOOST_TEST(row.at("executor") == 7);
  BOOST_TEST(json::value(row.at("repo_commit")) == json::parse(R"(["x"])"));
  BOOST_TEST(row.at("result") == 1);
  BOOST_TEST(row.at("passed") == false);
  BOOST_TEST(row.at("version") == 2.5);
}

BOOST_AUTO_TEST_CASE(passed_not_bool_gives_neither_result_nor_passed) {
  const auto row = row_for(kCiPath, "", R"({"timestamp": 2, "passed": "true"})");
  BOOST_TEST(!row.contains("passed"));
  BOOST_TEST(!row.contains("result"));
}

BOOST_AUTO_TEST_CASE(passing_hash_tests_dropped_failing_ones_kept) {
  const std::string xml =
      R"(<testsuite><testcase name="a#1" time="1"/><testcase name="a#2" time="2"><failure>x</failure></testcase>)"
      R"(<testcase name="b" time="3"/></testsuite>)";
  const auto row = row_for(kCiPath, "", "", {{"junit_01.xml", xml}});
  BOOST_TEST(json::value(row.at("test")) ==
             json::parse(R"([{"name": "a#2", "time": 2.0, "failed": true, "failure_text": "x"},)"
                         R"( {"name": "b", "time": 3.0}])"));
  BOOST_TEST(row.at("tests_run") == 2);
  BOOST_TEST(row.at("tests_failed") == 1);
}

BOOST_AUTO_TEST_CASE(malformed_junit_contributes_nothing_but_keeps_the_row) {
  const auto row = row_for(kCiPath, "", "",
                           {{"a.xml", "<testsuite><testcase name=\"x\">"},
                            {"b.xml", "<testsuite><testcase name=\"ok\"/></testsuite>"}});
  BOOST_TEST(json::value(row.at("test")) == json::parse(R"([{"name": "ok", "time": 0.0}])"));
}

BOOST_AUTO_TEST_CASE(a_malformed_file_between_good_ones_takes_back_only_its_own_tests) {
  const std::string good = R"(<testsuite><testcase name="a" time="1"/><testcase name="f"><failure>x</failure></testcase></testsuite>)";
  const std::string bad = R"(<testsuite><testcase name="b"><failure>y</failure></testcase><testcase name="c">)";
  const std::string last = R"(<testsuite><testcase name="d" time="0.5"/></testsuite>)";
  const auto r = row_of([&] {
    BuildInput in;
    in.path = kCiPath;
    in.junit = {{"1.xml", good}, {"2.xml", bad}, {"3.xml", last}};
    return in;
  }());
  BOOST_REQUIRE(r.row);
  BOOST_TEST(json::value(r.row->at("test")) ==
             json::parse(R"([{"name": "a", "time": 1.0}, {"name": "f", "time": 0.0, "failed": true, "failure_text": "x"},)"
                         R"( {"name": "d", "time": 0.5}])"));
  BOOST_TEST(r.row->at("tests_run") == 3);
  BOOST_TEST(r.row->at("tests_failed") == 1);
  BOOST_TEST(r.line.find(R"("test": [{"name": "a", "time": 1.0}, {"failed": true, "failure_text": "x", "name": "f", )"
                         R"("time": 0.0}, {"name": "d", "time": 0.5}], "tests_failed": 1, "tests_run": 3})") !=
                 std::string::npos,
             r.line);
}

BOOST_AUTO_TEST_CASE(one_builder_gives_each_row_only_its_own_tests) {
  RowBuilder builder(spec_buckets());
  builder.start(kCiPath);
  builder.add_junit("1.xml", R"(<testsuite><testcase name="first"/></testsuite>)");
  const RowLine first = builder.finish(std::nullopt, R"({"timestamp": 2})");
  builder.start(std::string(kCiPath) + "0");
  const RowLine second = builder.finish(std::nullopt, R"({"timestamp": 3})");
  BOOST_REQUIRE(first.ok());
  BOOST_REQUIRE(second.ok());
  BOOST_TEST(first.line.find(R"("test": [{"name": "first", "time": 0.0}], "tests_failed": 0, "tests_run": 1)") !=
             std::string::npos);
  BOOST_TEST(second.line.find(R"("test": [], "tests_failed": 0, "tests_run": 0)") != std::string::npos);
  builder.start("gs://elsewhere/job/1");
  builder.add_junit("1.xml", "<testsuite><testcase name=\"x\"/></testsuite>");
  const RowLine none = builder.finish(std::nullopt, R"({"timestamp": 3})");
  BOOST_TEST(!none.ok());
  BOOST_TEST(none.error.find("gs://elsewhere/job/1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(json_line_has_sorted_keys_and_python_separators) {
  json::object row{{"z", 1}, {"a", json::array{1.0, "\u00e9"}}, {"m", json::object{{"y", 1}, {"x", 2}}}};
  BOOST_TEST(pyjson::dumps(row, /*sort_keys=*/true) == R"({"a": [1.0, "\u00e9"], "m": {"x": 2, "y": 1}, "z": 1})");
}

BOOST_AUTO_TEST_SUITE_END()
