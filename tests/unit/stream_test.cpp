// Stream decisions without I/O: which notifications are relevant (SPEC §5,
// D8, D15), table specs, and the stop hour.
#include <boost/test/unit_test.hpp>

#include "kettle/stream/classify.hpp"
#include "kettle/stream/freshness.hpp"

using namespace kettle::stream;

namespace {

kettle::pubsub::Message notification(const std::string& bucket, const std::string& object,
                                     const std::string& event = "OBJECT_FINALIZE") {
  kettle::pubsub::Message m;
  m.ack_id = "a";
  m.attributes = {{"bucketId", bucket}, {"objectId", object}, {"eventType", event}, {"payloadFormat", "JSON_API_V1"}};
  return m;
}

const auto kBuckets = kettle::config::Buckets::parse(
    "gs://kubernetes-jenkins/logs/:\n"
    "  prefix: \"jenkins:\"\n"
    "  exclude_jobs:\n"
    "    - ^flaky-\n"
    "    - -skip$\n",
    "test.yaml");

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_classify)

BOOST_AUTO_TEST_CASE(finished_json_of_a_build_is_relevant) {
  auto c = classify(notification("kubernetes-jenkins", "logs/job/123/finished.json"), kBuckets);
  BOOST_TEST(c.relevant);
  BOOST_TEST(c.build_path == "gs://kubernetes-jenkins/logs/job/123");
}

BOOST_AUTO_TEST_CASE(other_objects_and_events_are_irrelevant) {
  BOOST_TEST(!classify(notification("kubernetes-jenkins", "logs/job/124/started.json"), kBuckets).relevant);
  BOOST_TEST(!classify(notification("kubernetes-jenkins", "logs/job/124/artifacts/finished.json.txt"), kBuckets).relevant);
  BOOST_TEST(!classify(notification("kubernetes-jenkins", "finished.json"), kBuckets).relevant);
  // D15: only OBJECT_FINALIZE.
  BOOST_TEST(!classify(notification("kubernetes-jenkins", "logs/job/1/finished.json", "OBJECT_DELETE"), kBuckets).relevant);
  BOOST_TEST(!classify(notification("", "logs/job/1/finished.json"), kBuckets).relevant);
  kettle::pubsub::Message bare;
  BOOST_TEST(!classify(bare, kBuckets).relevant);
}

BOOST_AUTO_TEST_CASE(excludes_are_regexes_on_the_job_under_its_bucket) {  // D8
  BOOST_TEST(!classify(notification("kubernetes-jenkins", "logs/flaky-e2e/9/finished.json"), kBuckets).relevant);
  BOOST_TEST(!classify(notification("kubernetes-jenkins", "logs/e2e-skip/9/finished.json"), kBuckets).relevant);
  // Not anchored there: a job merely containing the text is kept.
  BOOST_TEST(classify(notification("kubernetes-jenkins", "logs/not-flaky-e2e/9/finished.json"), kBuckets).relevant);
  // A build under no entry (another bucket, the PR pass) is never excluded.
  BOOST_TEST(classify(notification("other-bucket", "logs/flaky-e2e/9/finished.json"), kBuckets).relevant);
  BOOST_TEST(classify(notification("kubernetes-jenkins", "pr-logs/pull/1/flaky-e2e/9/finished.json"), kBuckets).relevant);
}

// Patterns come from the fetched buckets.yaml: one that makes a backtracking
// engine run for hours must still answer at once on a long job name.
BOOST_AUTO_TEST_CASE(pathological_exclude_answers_on_a_long_job) {  // D8
  const auto buckets = kettle::config::Buckets::parse(
      "gs://kubernetes-jenkins/logs/:\n  exclude_jobs:\n    - '(a*)*b'\n    - '^(a+)+$'\n", "test.yaml");
  const std::string job(5000, 'a');
  auto build_of = [](const std::string& job_name) { return "logs/" + job_name + "/9/finished.json"; };
  BOOST_TEST(classify(notification("kubernetes-jenkins", build_of(job + "!")), buckets).relevant);
  BOOST_TEST(!classify(notification("kubernetes-jenkins", build_of(job)), buckets).relevant);
  BOOST_TEST(!classify(notification("kubernetes-jenkins", build_of(job + "b")), buckets).relevant);
}

BOOST_AUTO_TEST_CASE(table_specs) {
  auto day = parse_table_spec("day:1");
  BOOST_REQUIRE(day);
  BOOST_TEST(day->name == "day");
  BOOST_TEST(day->days == 1.0);
  BOOST_TEST(parse_table_spec("staging:0")->days == 0.0);
  BOOST_TEST(parse_table_spec("half:0.5")->days == 0.5);
  BOOST_TEST(!parse_table_spec("day"));
  BOOST_TEST(!parse_table_spec(":1"));
  BOOST_TEST(!parse_table_spec("day:x"));
  BOOST_TEST(!parse_table_spec("day:-1"));
  BOOST_TEST(!parse_table_spec("day:"));
}

BOOST_AUTO_TEST_CASE(stop_hour_fires_once_when_the_hour_begins) {
  int hour = 23;
  StopAtHour stop(1, [&hour] { return hour; });
  BOOST_TEST(!stop());
  hour = 0;
  BOOST_TEST(!stop());
  hour = 1;
  BOOST_TEST(stop());
  BOOST_TEST(!stop());  // once
  hour = 2;
  BOOST_TEST(!stop());
}

BOOST_AUTO_TEST_CASE(starting_inside_the_stop_hour_runs_until_it_comes_again) {
  int hour = 1;
  StopAtHour stop(1, [&hour] { return hour; });
  BOOST_TEST(!stop());
  hour = 2;
  BOOST_TEST(!stop());
  hour = 1;
  BOOST_TEST(stop());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stream_freshness)

BOOST_AUTO_TEST_CASE(the_gauge_starts_at_the_tables_last_modification) {
  kettle::bigquery::TableInfo info;
  info.last_modified_ms = 1'700'000'000'500;
  const kettle::net::Result<std::optional<kettle::bigquery::TableInfo>> found = std::optional(info);
  BOOST_TEST(seeded_freshness(std::nullopt, found) == 1'700'000'000.5);
  // An insert since the start is newer: it stays.
  BOOST_TEST(seeded_freshness(1'800'000'000.0, found) == 1'800'000'000.0);
  BOOST_TEST(seeded_freshness(1'600'000'000.0, found) == 1'700'000'000.5);
}

BOOST_AUTO_TEST_CASE(a_missing_or_unreadable_table_is_never_fresh) {
  const kettle::net::Result<std::optional<kettle::bigquery::TableInfo>> missing = std::nullopt;
  BOOST_TEST(seeded_freshness(std::nullopt, missing) == 0);
  kettle::net::Error error;
  error.kind = kettle::net::ErrorKind::timeout;
  const kettle::net::Result<std::optional<kettle::bigquery::TableInfo>> failed = error;
  BOOST_TEST(seeded_freshness(std::nullopt, failed) == 0);
  // A value already known is kept.
  BOOST_TEST(seeded_freshness(1'700'000'000.0, failed) == 1'700'000'000.0);
}

BOOST_AUTO_TEST_SUITE_END()
