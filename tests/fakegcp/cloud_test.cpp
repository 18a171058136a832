// Tests of the fake's Pub/Sub and BigQuery services over raw HTTP, plus their
// pure parts (schema checks, multipart framing, timestamps).
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <optional>
#include <set>
#include <thread>

#include "base64url.hpp"
#include "bigquery_schema.hpp"
#include "multipart.hpp"
#include "test_support.hpp"

using namespace fakegcp_test;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kTopics = "/v1/projects/proj/topics/";
const std::string kSubs = "/v1/projects/proj/subscriptions/";
const std::string kTables = "/bigquery/v2/projects/proj/datasets/ds/tables";
const std::string kJobs = "/bigquery/v2/projects/proj/jobs/";
const std::string kUploadJobs = "/upload/bigquery/v2/projects/proj/jobs";

std::string error_status(const HttpReply& r) {
  return std::string(r.json().at("error").at("status").as_string());
}

std::string error_reason(const HttpReply& r) {
  return std::string(r.json().at("error").at("errors").at(0).at("reason").as_string());
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

// ---------------------------------------------------------------- Pub/Sub helpers

json::object message(const std::string& data, json::object attributes = {}) {
  json::object m{{"data", fakegcp::base64_encode(data)}};
  if (!attributes.empty()) m["attributes"] = std::move(attributes);
  return m;
}

struct PubSub {
  Fake& fake;

  HttpReply create_topic(const std::string& id) { return fake.call("PUT", kTopics + id, ""); }
  HttpReply create_subscription(const std::string& id, const std::string& topic_id,
                                int deadline = 10, json::object extra = {}) {
    extra["topic"] = "projects/proj/topics/" + topic_id;
    extra["ackDeadlineSeconds"] = deadline;
    return fake.call("PUT", kSubs + id, json::serialize(extra));
  }
  HttpReply publish(const std::string& topic_id, json::array messages) {
    return fake.post(kTopics + topic_id + ":publish",
                     json::serialize(json::object{{"messages", std::move(messages)}}));
  }
  std::vector<std::string> publish_texts(const std::string& topic_id,
                                         const std::vector<std::string>& texts) {
    json::array list;
    for (const auto& t : texts) list.push_back(message(t));
    auto r = publish(topic_id, std::move(list));
    BOOST_REQUIRE_EQUAL(r.status, 200);
    json::value body = r.json();  // kept alive for the loop
    std::vector<std::string> ids;
    for (const auto& id : body.at("messageIds").as_array()) ids.push_back(str(id));
    return ids;
  }
  HttpReply pull_reply(const std::string& sub, int max, bool immediately) {
    return fake.post(
        kSubs + sub + ":pull",
        json::serialize(json::object{{"maxMessages", max}, {"returnImmediately", immediately}}));
  }
  json::array pull(const std::string& sub, int max = 100, bool immediately = true) {
    auto r = pull_reply(sub, max, immediately);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    auto body = r.json().as_object();
    auto* received = body.if_contains("receivedMessages");
    return received ? received->as_array() : json::array{};
  }
  HttpReply ack(const std::string& sub, const std::vector<std::string>& ids) {
    json::array list;
    for (const auto& id : ids) list.emplace_back(id);
    return fake.post(kSubs + sub + ":acknowledge",
                     json::serialize(json::object{{"ackIds", std::move(list)}}));
  }
  HttpReply modify(const std::string& sub, const std::vector<std::string>& ids, int seconds) {
    json::array list;
    for (const auto& id : ids) list.emplace_back(id);
    return fake.post(kSubs + sub + ":modifyAckDeadline",
                     json::serialize(json::object{{"ackIds", std::move(list)},
                                                  {"ackDeadlineSeconds", seconds}}));
  }
  json::object counts(const std::string& sub) {
    auto r = fake.get("/_fake/pubsub/proj/" + sub);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    return r.json().as_object();
  }
  std::uint64_t count(const std::string& sub, const std::string& key) {
    return counts(sub).at(key).to_number<std::uint64_t>();
  }
};

std::vector<std::string> ack_ids(const json::array& received) {
  std::vector<std::string> ids;
  for (const auto& r : received) ids.push_back(str(r.at("ackId")));
  return ids;
}

std::string data_of(const json::value& received) {
  auto decoded = fakegcp::base64_decode(received.at("message").at("data").as_string());
  return decoded ? *decoded : "<not base64>";
}

// A request on its own connection and thread, so the test can act while the
// fake holds it. Never touches Boost.Test (not thread-safe).
class Background {
 public:
  Background(unsigned short port, std::string target, std::string body)
      : thread_([this, port, target = std::move(target), body = std::move(body)] {
          reply_ = Client(port).call("POST", target, {}, body);
        }) {}
  ~Background() {
    if (thread_.joinable()) thread_.join();
  }
  HttpReply wait() {
    thread_.join();
    return reply_;
  }

 private:
  HttpReply reply_;
  std::thread thread_;
};

// ---------------------------------------------------------------- BigQuery helpers

// Shaped like kettle's schema.json: nested repeated records, a required field.
json::value test_schema() {
  return json::parse(R"({"fields":[
    {"name":"path","type":"STRING","mode":"REQUIRED"},
    {"name":"number","type":"INTEGER"},
    {"name":"passed","type":"BOOLEAN"},
    {"name":"elapsed","type":"FLOAT"},
    {"name":"started","type":"TIMESTAMP"},
    {"name":"test","type":"RECORD","mode":"REPEATED","fields":[
      {"name":"name","type":"STRING"},{"name":"time","type":"FLOAT"},{"name":"failed","type":"BOOLEAN"}]},
    {"name":"metadata","type":"RECORD","mode":"REPEATED","fields":[
      {"name":"key","type":"STRING"},{"name":"value","type":"STRING"}]}]})");
}

HttpReply create_dataset(Fake& fake, const std::string& id) {
  return fake.post(
      "/bigquery/v2/projects/proj/datasets",
      json::serialize(json::object{
          {"datasetReference", json::object{{"projectId", "proj"}, {"datasetId", id}}}}));
}

HttpReply create_table(Fake& fake, const std::string& id, const json::value& schema) {
  return fake.post(kTables,
                   json::serialize(json::object{
                       {"tableReference",
                        json::object{{"projectId", "proj"}, {"datasetId", "ds"}, {"tableId", id}}},
                       {"schema", schema}}));
}

json::object row(const std::string& insert_id, json::object data) {
  json::object r{{"json", std::move(data)}};
  if (!insert_id.empty()) r["insertId"] = insert_id;
  return r;
}

HttpReply insert(Fake& fake, const std::string& table, json::array rows, bool skip_invalid,
                 bool ignore_unknown = false) {
  return fake.post(kTables + "/" + table + "/insertAll",
                   json::serialize(json::object{{"skipInvalidRows", skip_invalid},
                                                {"ignoreUnknownValues", ignore_unknown},
                                                {"rows", std::move(rows)}}));
}

json::array stored_rows(Fake& fake, const std::string& table) {
  auto r = fake.get("/_fake/bigquery/proj/ds/" + table);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  return r.json().as_array();
}

std::uint64_t table_count(Fake& fake, const std::string& table, const std::string& key) {
  auto r = fake.get("/_fake/bigquery/proj/ds/" + table + "/stats");
  BOOST_REQUIRE_EQUAL(r.status, 200);
  return r.json().at(key).to_number<std::uint64_t>();
}

std::vector<std::string> paths_of(const json::array& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(str(r.at("path")));
  return out;
}

// The insertErrors of an insertAll reply as index -> first error reason.
std::map<std::int64_t, std::string> insert_errors(const HttpReply& r) {
  std::map<std::int64_t, std::string> out;
  auto body = r.json().as_object();
  if (auto* errors = body.if_contains("insertErrors"))
    for (const auto& e : errors->as_array())
      out[e.at("index").to_number<std::int64_t>()] = str(e.at("errors").at(0).at("reason"));
  return out;
}

json::object load_job(const std::string& table, const std::string& write, int max_bad,
                      const std::string& job_id = "") {
  json::object load{{"destinationTable",
                     json::object{{"projectId", "proj"}, {"datasetId", "ds"}, {"tableId", table}}},
                    {"sourceFormat", "NEWLINE_DELIMITED_JSON"},
                    {"writeDisposition", write},
                    {"maxBadRecords", max_bad},
                    {"schema", test_schema()}};
  json::object job{{"configuration", json::object{{"load", std::move(load)}}}};
  if (!job_id.empty()) job["jobReference"] = json::object{{"projectId", "proj"}, {"jobId", job_id}};
  return job;
}

std::string ndjson_paths(const std::vector<std::string>& paths) {
  std::string out;
  for (const auto& p : paths)
    out += json::serialize(json::object{{"path", p}, {"number", 1}}) + "\n";
  return out;
}

// Starts a resumable upload; returns the session URL's target (path + query).
std::string start_resumable(Fake& fake, const json::object& job) {
  auto r = fake.post(kUploadJobs + "?uploadType=resumable", json::serialize(job),
                     {{"Content-Type", "application/json; charset=UTF-8"}});
  BOOST_REQUIRE_EQUAL(r.status, 200);
  std::string location = r.header("location");
  std::string base = fake.server->base_url();
  BOOST_REQUIRE(location.starts_with(base + "/upload/bigquery/v2/projects/proj/jobs?"));
  return location.substr(base.size());
}

json::object wait_done(Fake& fake, const std::string& job_id) {
  json::object job;
  bool done = poll_until([&] {
    job = fake.get(kJobs + job_id + "?location=US").json().as_object();
    return job.at("status").at("state").as_string() == "DONE";
  });
  BOOST_REQUIRE(done);
  return job;
}

std::string multipart_body(const std::string& boundary, const json::object& job,
                           const std::string& data) {
  return "--" + boundary + "\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" +
         json::serialize(job) + "\r\n--" + boundary +
         "\r\nContent-Type: application/octet-stream\r\n\r\n" + data + "\r\n--" + boundary +
         "--\r\n";
}

HttpReply multipart_load(Fake& fake, const json::object& job, const std::string& data) {
  const std::string boundary = "kettle_boundary_42";
  return fake.post(kUploadJobs + "?uploadType=multipart", multipart_body(boundary, job, data),
                   {{"Content-Type", "multipart/related; boundary=" + boundary}});
}

void set_fast_jobs(fakegcp::ServerConfig& c) { c.bq_job_delay_ms = 50; }

}  // namespace

// ---------------------------------------------------------------- pure parts

BOOST_AUTO_TEST_SUITE(cloud_pure)

BOOST_AUTO_TEST_CASE(standard_base64_with_padding_and_both_alphabets) {
  BOOST_CHECK_EQUAL(fakegcp::base64_encode("\xfb\xff"), "+/8=");
  BOOST_CHECK_EQUAL(fakegcp::base64_encode("abcd"), "YWJjZA==");
  BOOST_CHECK_EQUAL(*fakegcp::base64_decode("+/8="), "\xfb\xff");
  BOOST_CHECK_EQUAL(*fakegcp::base64_decode("-_8"), "\xfb\xff");
  BOOST_CHECK(!fakegcp::base64_decode("a b="));
}

BOOST_AUTO_TEST_CASE(multipart_related_parts) {
  auto boundary = fakegcp::multipart_boundary("multipart/related; boundary=\"b1\"; x=y");
  BOOST_REQUIRE(boundary);
  BOOST_CHECK_EQUAL(*boundary, "b1");
  BOOST_CHECK(!fakegcp::multipart_boundary("application/json"));
  auto parts = fakegcp::parse_multipart(
      "preamble\r\n--b1\r\nContent-Type: application/json\r\n\r\n{}\r\n--b1\r\n\r\nline1\nline2\n"
      "\r\n--b1--\r\n",
      "b1");
  BOOST_REQUIRE(parts);
  BOOST_REQUIRE_EQUAL(parts->size(), 2u);
  BOOST_CHECK_EQUAL((*parts)[0].header("content-type"), "application/json");
  BOOST_CHECK_EQUAL((*parts)[0].body, "{}");
  BOOST_CHECK_EQUAL((*parts)[1].body, "line1\nline2\n");
  BOOST_CHECK(!fakegcp::parse_multipart("--b1\r\n\r\nunterminated", "b1"));
}

BOOST_AUTO_TEST_CASE(timestamps_numbers_strings_and_range) {
  auto secs = [](const json::value& v) { return fakegcp::timestamp_seconds(v); };
  BOOST_CHECK_EQUAL(*secs(1700000000), 1700000000.0);
  BOOST_CHECK_EQUAL(*secs("2023-11-14 22:13:20 UTC"), 1700000000.0);
  BOOST_CHECK_EQUAL(*secs("2023-11-14T22:13:20Z"), 1700000000.0);
  BOOST_CHECK_EQUAL(*secs("2023-11-15T00:13:20+02:00"), 1700000000.0);
  BOOST_CHECK_EQUAL(*secs("2023-11-14 22:13:20.5"), 1700000000.5);
  BOOST_CHECK_EQUAL(*secs("1700000000"), 1700000000.0);
  BOOST_CHECK(!secs("yesterday"));
  BOOST_CHECK(!secs("2023-02-29 00:00:00"));
  BOOST_CHECK(!secs(253402300800.0));  // year 10000
  BOOST_CHECK(secs(253402300799.0));
  BOOST_CHECK_EQUAL(fakegcp::java_double_text(1700000000), "1.7E9");
  BOOST_CHECK_EQUAL(fakegcp::java_double_text(1700000000.25), "1.70000000025E9");
  BOOST_CHECK_EQUAL(fakegcp::java_double_text(1.5), "1.5");
  BOOST_CHECK_EQUAL(fakegcp::java_double_text(0), "0.0");
}

BOOST_AUTO_TEST_CASE(schema_checks_rows) {
  std::string error;
  auto schema = fakegcp::parse_schema(test_schema(), error);
  BOOST_REQUIRE(schema);
  auto check = [&](const char* row_json, bool ignore_unknown = false) {
    return fakegcp::check_row(*schema, json::parse(row_json).as_object(), ignore_unknown);
  };
  BOOST_CHECK(!check(R"({"path":"a","number":"12","passed":true,"elapsed":1,
                         "started":"2024-01-01 00:00:00","test":[{"name":"t","failed":false}],
                         "metadata":null})"));
  auto location = [](const std::optional<fakegcp::RowError>& e) {
    return e ? e->location : std::string("<accepted>");
  };
  BOOST_CHECK_EQUAL(location(check(R"({"number":1})")), "path");
  BOOST_CHECK_EQUAL(location(check(R"({"path":"a","number":1.5})")), "number");
  BOOST_CHECK_EQUAL(location(check(R"({"path":"a","passed":"maybe"})")), "passed");
  BOOST_CHECK_EQUAL(location(check(R"({"path":"a","test":{"name":"x"}})")), "test");
  BOOST_CHECK_EQUAL(location(check(R"({"path":"a","test":[{"nope":1}]})")), "test[0].nope");
  BOOST_CHECK_EQUAL(location(check(R"({"path":"a","test":[null]})")), "test[0]");
  BOOST_CHECK_EQUAL(location(check(R"({"path":"a","extra":1})")), "extra");
  BOOST_CHECK_EQUAL(location(check(R"({"path":"a","extra":1})", true)), "<accepted>");
  BOOST_CHECK_EQUAL(location(check(R"({"path":["a"]})")), "path");

  BOOST_CHECK(
      !fakegcp::parse_schema(json::parse(R"({"fields":[{"name":"a","type":"NOPE"}]})"), error));
  BOOST_CHECK(
      !fakegcp::parse_schema(json::parse(R"({"fields":[{"name":"a","type":"RECORD"}]})"), error));
  BOOST_CHECK(!fakegcp::parse_schema(
      json::parse(R"({"fields":[{"name":"a","type":"STRING"},{"name":"A","type":"STRING"}]})"),
      error));
  auto int64 =
      fakegcp::parse_schema(json::parse(R"({"fields":[{"name":"a","type":"INT64"}]})"), error);
  auto integer = fakegcp::parse_schema(
      json::parse(
          R"({"fields":[{"name":"a","type":"integer","mode":"NULLABLE","description":"d"}]})"),
      error);
  BOOST_REQUIRE(int64 && integer);
  BOOST_CHECK(fakegcp::same_schema(*int64, *integer));
  BOOST_CHECK(!fakegcp::same_schema(*int64, *schema));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- Pub/Sub

BOOST_AUTO_TEST_SUITE(pubsub)

BOOST_AUTO_TEST_CASE(topics_and_subscriptions_with_google_errors) {
  Fake fake;
  PubSub ps{fake};
  auto topic = ps.create_topic("events");
  BOOST_CHECK_EQUAL(topic.status, 200);
  BOOST_CHECK_EQUAL(str(topic.json().at("name")), "projects/proj/topics/events");
  auto again = ps.create_topic("events");
  BOOST_CHECK_EQUAL(again.status, 409);
  BOOST_CHECK_EQUAL(error_status(again), "ALREADY_EXISTS");
  BOOST_CHECK_EQUAL(again.json().at("error").at("code").as_int64(), 409);
  BOOST_CHECK_EQUAL(fake.get(kTopics + "events").status, 200);
  auto missing = fake.get(kTopics + "nothing");
  BOOST_CHECK_EQUAL(missing.status, 404);
  BOOST_CHECK_EQUAL(error_status(missing), "NOT_FOUND");
  BOOST_CHECK_EQUAL(ps.create_topic("x").status, 400);  // ids have at least 3 characters

  auto sub = ps.create_subscription("kettle", "events", 10);
  BOOST_CHECK_EQUAL(sub.status, 200);
  BOOST_CHECK_EQUAL(str(sub.json().at("name")), "projects/proj/subscriptions/kettle");
  BOOST_CHECK_EQUAL(str(sub.json().at("topic")), "projects/proj/topics/events");
  BOOST_CHECK_EQUAL(sub.json().at("ackDeadlineSeconds").as_int64(), 10);
  BOOST_CHECK_EQUAL(ps.create_subscription("kettle", "events").status, 409);
  BOOST_CHECK_EQUAL(error_status(ps.create_subscription("orphan", "nothing")), "NOT_FOUND");
  BOOST_CHECK_EQUAL(ps.create_subscription("short", "events", 5).status, 400);  // below 10 s
  BOOST_CHECK_EQUAL(ps.create_subscription("long", "events", 601).status, 400);
  auto got = fake.get(kSubs + "kettle");
  BOOST_CHECK_EQUAL(got.status, 200);
  BOOST_CHECK_EQUAL(got.json().at("ackDeadlineSeconds").as_int64(), 10);
  auto listed = fake.get(kTopics + "events/subscriptions").json();
  BOOST_CHECK_EQUAL(str(listed.at("subscriptions").at(0)), "projects/proj/subscriptions/kettle");
  BOOST_CHECK_EQUAL(fake.call("DELETE", kSubs + "kettle", "").status, 200);
  BOOST_CHECK_EQUAL(fake.get(kSubs + "kettle").status, 404);
  BOOST_CHECK_EQUAL(count_at(fake.stats(), "requests_by_kind", "pubsub.subscription"), 8u);
}

BOOST_AUTO_TEST_CASE(publish_pull_acknowledge) {
  Fake fake;
  PubSub ps{fake};
  ps.create_topic("events");
  ps.create_subscription("first", "events");
  ps.create_subscription("second", "events");

  json::array batch{message("one", {{"k", "v"}}), message("two"), message("three")};
  auto published = ps.publish("events", batch);
  BOOST_REQUIRE_EQUAL(published.status, 200);
  BOOST_CHECK_EQUAL(published.json().at("messageIds").as_array().size(), 3u);

  auto got = ps.pull("first", 2);
  BOOST_REQUIRE_EQUAL(got.size(), 2u);
  BOOST_CHECK_EQUAL(data_of(got[0]), "one");
  BOOST_CHECK_EQUAL(str(got[0].at("message").at("attributes").at("k")), "v");
  BOOST_CHECK_EQUAL(str(got[0].at("message").at("messageId")),
                    str(published.json().at("messageIds").at(0)));
  BOOST_CHECK(got[0].at("message").at("publishTime").as_string().ends_with("Z"));
  BOOST_CHECK(!got[0].as_object().contains("deliveryAttempt"));  // no dead-letter policy
  auto rest = ps.pull("first", 10);
  BOOST_REQUIRE_EQUAL(rest.size(), 1u);
  BOOST_CHECK_EQUAL(data_of(rest[0]), "three");
  auto none = ps.pull_reply("first", 10, true);
  BOOST_CHECK_EQUAL(none.body, "{}");

  auto ids = ack_ids(got);
  ids.push_back(ack_ids(rest)[0]);
  BOOST_CHECK_EQUAL(std::set<std::string>(ids.begin(), ids.end()).size(), 3u);
  BOOST_CHECK_EQUAL(ps.ack("first", ids).body, "{}");
  auto counts = ps.counts("first");
  BOOST_CHECK_EQUAL(counts.at("published").to_number<std::uint64_t>(), 3u);
  BOOST_CHECK_EQUAL(counts.at("delivered").to_number<std::uint64_t>(), 3u);
  BOOST_CHECK_EQUAL(counts.at("acked").to_number<std::uint64_t>(), 3u);
  BOOST_CHECK_EQUAL(counts.at("outstanding").to_number<std::uint64_t>(), 0u);
  // The other subscription got its own copies.
  BOOST_CHECK_EQUAL(ps.pull("second", 10).size(), 3u);
  BOOST_CHECK_EQUAL(ps.count("second", "outstanding"), 3u);

  // Google's refusals.
  BOOST_CHECK_EQUAL(ps.publish("events", json::array{}).status, 400);
  BOOST_CHECK_EQUAL(ps.publish("events", json::array{json::object{{"data", "!!"}}}).status, 400);
  BOOST_CHECK_EQUAL(ps.publish("events", json::array{json::object{}}).status, 400);
  BOOST_CHECK_EQUAL(ps.publish("nothing", json::array{message("x")}).status, 404);
  BOOST_CHECK_EQUAL(ps.pull_reply("first", 0, true).status, 400);
  BOOST_CHECK_EQUAL(ps.pull_reply("nothing", 1, true).status, 404);
  BOOST_CHECK_EQUAL(ps.ack("first", {"not-an-ack-id"}).status, 400);
  BOOST_CHECK_EQUAL(ps.ack("first", {}).status, 400);
  BOOST_CHECK_EQUAL(ps.ack("first", std::vector<std::string>(2501, ids[0])).status, 400);
  BOOST_CHECK_EQUAL(ps.ack("first", std::vector<std::string>(2500, ids[0])).status, 200);
  BOOST_CHECK_EQUAL(fake.post(kSubs + "first:pull", "{not json").status, 400);
}

BOOST_AUTO_TEST_CASE(a_pull_returns_at_most_1000_messages) {
  Fake fake;
  PubSub ps{fake};
  ps.create_topic("events");
  ps.create_subscription("kettle", "events");
  for (int batch = 0; batch < 2; ++batch) {
    json::array list;
    for (int i = 0; i < 600; ++i) list.push_back(message("m" + std::to_string(i)));
    BOOST_REQUIRE_EQUAL(ps.publish("events", std::move(list)).status, 200);
  }
  BOOST_CHECK_EQUAL(ps.pull("kettle", 5000).size(), 1000u);
  BOOST_CHECK_EQUAL(ps.pull("kettle", 5000).size(), 200u);
}

BOOST_AUTO_TEST_CASE(long_poll_wakes_on_publish_and_times_out_empty) {
  Fake fake([](fakegcp::ServerConfig& c) { c.pull_hold_ms = 30000; });
  PubSub ps{fake};
  ps.create_topic("events");
  ps.create_subscription("kettle", "events");

  Background held(fake.port(), kSubs + "kettle:pull", R"({"maxMessages": 10})");
  BOOST_REQUIRE(poll_until([&] { return ps.count("kettle", "waiting_pulls") == 1; }));
  ps.publish_texts("events", {"wake up"});
  auto reply = held.wait();  // long before the 30 s hold ends
  BOOST_REQUIRE_EQUAL(reply.status, 200);
  auto received = reply.json().at("receivedMessages").as_array();
  BOOST_REQUIRE_EQUAL(received.size(), 1u);
  BOOST_CHECK_EQUAL(data_of(received[0]), "wake up");
  BOOST_CHECK_EQUAL(ps.count("kettle", "waiting_pulls"), 0u);

  Fake brief([](fakegcp::ServerConfig& c) { c.pull_hold_ms = 100; });
  PubSub quiet{brief};
  quiet.create_topic("events");
  quiet.create_subscription("kettle", "events");
  auto empty = quiet.pull_reply("kettle", 10, false);
  BOOST_CHECK_EQUAL(empty.status, 200);
  BOOST_CHECK_EQUAL(empty.body, "{}");
}

BOOST_AUTO_TEST_CASE(held_pulls_survive_clients_leaving_and_the_fake_stopping) {
  Fake fake([](fakegcp::ServerConfig& c) { c.pull_hold_ms = 30000; });
  PubSub ps{fake};
  ps.create_topic("events");
  ps.create_subscription("kettle", "events");
  const std::string body = R"({"maxMessages": 10})";

  // A puller that hangs up while held: the message it was handed comes back.
  Client gone(fake.port());
  gone.send("POST", kSubs + "kettle:pull", {}, body);
  BOOST_REQUIRE(poll_until([&] { return ps.count("kettle", "waiting_pulls") == 1; }));
  gone.close();
  ps.publish_texts("events", {"lost in flight"});
  BOOST_CHECK(ps.pull("kettle").empty());  // leased to the departed puller
  fake.post("/_fake/pubsub/proj/kettle/expire-leases", "");
  auto again = ps.pull("kettle");
  BOOST_REQUIRE_EQUAL(again.size(), 1u);
  BOOST_CHECK_EQUAL(data_of(again[0]), "lost in flight");

  // Stopping the fake drops a held pull's connection.
  Background held(fake.port(), kSubs + "kettle:pull", body);
  BOOST_REQUIRE(poll_until([&] { return ps.count("kettle", "waiting_pulls") == 1; }));
  fake.server.reset();
  auto reply = held.wait();
  BOOST_CHECK(reply.error);
  BOOST_CHECK_EQUAL(reply.status, 0);
}

BOOST_AUTO_TEST_CASE(unacked_messages_come_back_after_the_deadline) {
  Fake fake([](fakegcp::ServerConfig& c) {
    c.min_ack_deadline_s = 1;
    c.pull_hold_ms = 30000;
  });
  PubSub ps{fake};
  ps.create_topic("events");
  ps.create_subscription("kettle", "events", 1);
  ps.publish_texts("events", {"again"});

  auto first = ps.pull("kettle");
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  // A held pull wakes when the lease runs out and gets the message again.
  auto second = ps.pull("kettle", 10, false);
  BOOST_REQUIRE_EQUAL(second.size(), 1u);
  BOOST_CHECK_EQUAL(str(second[0].at("message").at("messageId")),
                    str(first[0].at("message").at("messageId")));
  BOOST_CHECK_NE(str(second[0].at("ackId")), str(first[0].at("ackId")));
  BOOST_CHECK_EQUAL(ps.count("kettle", "redelivered"), 1u);

  // The expired ack id is ignored; the live one acknowledges.
  BOOST_CHECK_EQUAL(ps.ack("kettle", ack_ids(first)).status, 200);
  BOOST_CHECK_EQUAL(ps.count("kettle", "outstanding"), 1u);
  BOOST_CHECK_EQUAL(ps.count("kettle", "stale_acks"), 1u);
  BOOST_CHECK_EQUAL(ps.ack("kettle", ack_ids(second)).status, 200);
  BOOST_CHECK_EQUAL(ps.count("kettle", "outstanding"), 0u);
  BOOST_CHECK_EQUAL(ps.count("kettle", "acked"), 1u);

  // With a dead-letter policy Google numbers the attempts; the control call
  // ends leases without waiting.
  ps.create_subscription(
      "lettered", "events", 10,
      {{"deadLetterPolicy", json::object{{"deadLetterTopic", "projects/proj/topics/events"}}}});
  ps.publish_texts("events", {"counted"});
  BOOST_CHECK_EQUAL(ps.pull("lettered").at(0).at("deliveryAttempt").as_int64(), 1);
  BOOST_CHECK_EQUAL(fake.post("/_fake/pubsub/proj/lettered/expire-leases", "").status, 200);
  BOOST_CHECK_EQUAL(ps.pull("lettered").at(0).at("deliveryAttempt").as_int64(), 2);
}

BOOST_AUTO_TEST_CASE(modify_ack_deadline_extends_and_nacks) {
  Fake fake([](fakegcp::ServerConfig& c) { c.min_ack_deadline_s = 1; });
  PubSub ps{fake};
  ps.create_topic("events");
  ps.create_subscription("kettle", "events", 2);
  ps.publish_texts("events", {"slow work"});

  auto got = ps.pull("kettle");
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  BOOST_CHECK_EQUAL(ps.modify("kettle", ack_ids(got), 60).body, "{}");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past the original 2 s
  BOOST_CHECK(ps.pull("kettle").empty());                        // still leased
  BOOST_CHECK_EQUAL(ps.count("kettle", "deadline_changes"), 1u);
  BOOST_CHECK_EQUAL(ps.ack("kettle", ack_ids(got)).status, 200);
  BOOST_CHECK_EQUAL(ps.count("kettle", "acked"), 1u);

  // Deadline 0 hands the message straight back (a nack).
  ps.publish_texts("events", {"nacked"});
  auto nacked = ps.pull("kettle");
  BOOST_REQUIRE_EQUAL(nacked.size(), 1u);
  BOOST_CHECK_EQUAL(ps.modify("kettle", ack_ids(nacked), 0).status, 200);
  auto back = ps.pull("kettle");
  BOOST_REQUIRE_EQUAL(back.size(), 1u);
  BOOST_CHECK_EQUAL(data_of(back[0]), "nacked");
  BOOST_CHECK_EQUAL(ps.modify("kettle", ack_ids(back), 601).status, 400);
  BOOST_CHECK_EQUAL(ps.modify("kettle", std::vector<std::string>(2501, "x"), 10).status, 400);
}

BOOST_AUTO_TEST_CASE(uploads_notify_with_gcs_attributes) {
  Fake fake([](fakegcp::ServerConfig& c) {
    c.notifications.emplace_back("bkt", "projects/proj/topics/gcs");
  });
  PubSub ps{fake};
  BOOST_REQUIRE_EQUAL(ps.create_subscription("kettle", "gcs").status,
                      200);  // topic made by --notify
  auto up = fake.post(
      "/upload/storage/v1/b/bkt/o?uploadType=media&name=" + escape("logs/job/7/finished.json"),
      R"({"passed": true})", {{"Content-Type", "application/json"}});
  BOOST_REQUIRE_EQUAL(up.status, 200);

  auto got = ps.pull("kettle");
  BOOST_REQUIRE_EQUAL(got.size(), 1u);
  auto attributes = got[0].at("message").at("attributes").as_object();
  BOOST_CHECK_EQUAL(str(attributes.at("bucketId")), "bkt");
  BOOST_CHECK_EQUAL(str(attributes.at("objectId")), "logs/job/7/finished.json");
  BOOST_CHECK_EQUAL(str(attributes.at("eventType")), "OBJECT_FINALIZE");
  BOOST_CHECK_EQUAL(str(attributes.at("payloadFormat")), "JSON_API_V1");
  BOOST_CHECK_EQUAL(str(attributes.at("notificationConfig")),
                    "projects/_/buckets/bkt/notificationConfigs/1");
  BOOST_CHECK_EQUAL(str(attributes.at("objectGeneration")), str(up.json().at("generation")));
  BOOST_CHECK(attributes.at("eventTime").as_string().ends_with("Z"));
  auto resource = json::parse(data_of(got[0]));
  BOOST_CHECK_EQUAL(str(resource.at("name")), "logs/job/7/finished.json");
  BOOST_CHECK_EQUAL(str(resource.at("bucket")), "bkt");
  BOOST_CHECK_EQUAL(str(resource.at("size")), "16");

  // A second bucket by control call, an odd event, and a hand-made message.
  fs::create_directories(fake.dir.path / "other");
  BOOST_CHECK_EQUAL(
      fake.post("/_fake/notifications", R"({"bucket":"other","topic":"projects/proj/topics/gcs"})")
          .status,
      200);
  fake.post("/upload/storage/v1/b/other/o?uploadType=media&name=a.txt", "a");
  BOOST_CHECK_EQUAL(
      fake.post(
              "/_fake/notifications/event",
              R"({"bucket":"bkt","object":"logs/job/7/finished.json","eventType":"OBJECT_DELETE"})")
          .status,
      200);
  BOOST_CHECK_EQUAL(fake.post("/_fake/pubsub/publish",
                              R"({"topic":"projects/proj/topics/gcs","text":"plain",
                                  "attributes":{"eventType":"OBJECT_METADATA_UPDATE"}})")
                        .status,
                    200);
  auto more = ps.pull("kettle");
  BOOST_REQUIRE_EQUAL(more.size(), 3u);
  BOOST_CHECK_EQUAL(str(more[0].at("message").at("attributes").at("notificationConfig")),
                    "projects/_/buckets/other/notificationConfigs/1");
  BOOST_CHECK_EQUAL(str(more[1].at("message").at("attributes").at("eventType")), "OBJECT_DELETE");
  BOOST_CHECK_EQUAL(str(json::parse(data_of(more[1])).at("name")), "logs/job/7/finished.json");
  BOOST_CHECK_EQUAL(data_of(more[2]), "plain");
  BOOST_CHECK_EQUAL(fake.get("/_fake/notifications").json().as_array().size(), 2u);
}

BOOST_AUTO_TEST_CASE(faults_apply_to_pubsub_but_not_its_control_calls) {
  Fake fake;
  PubSub ps{fake};
  ps.create_topic("events");
  ps.create_subscription("kettle", "events");
  fake.set_faults(R"([{"match":":pull","kind":"status","status":503,"times":1}])");
  auto failed = ps.pull_reply("kettle", 1, true);
  BOOST_CHECK_EQUAL(failed.status, 503);
  BOOST_CHECK_EQUAL(error_status(failed), "UNAVAILABLE");
  BOOST_CHECK_EQUAL(ps.pull_reply("kettle", 1, true).status, 200);
  BOOST_CHECK_EQUAL(count_at(fake.stats(), "requests_by_kind", "pubsub.pull"), 2u);
  BOOST_CHECK_EQUAL(count_at(fake.stats(), "requests_by_kind", "control"), 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- BigQuery

BOOST_AUTO_TEST_SUITE(bigquery)

BOOST_AUTO_TEST_CASE(datasets_and_tables) {
  Fake fake([](fakegcp::ServerConfig& c) { c.datasets.push_back("proj:preset"); });
  BOOST_CHECK_EQUAL(fake.get("/bigquery/v2/projects/proj/datasets/preset").status, 200);
  auto made = create_dataset(fake, "ds");
  BOOST_CHECK_EQUAL(made.status, 200);
  BOOST_CHECK_EQUAL(str(made.json().at("id")), "proj:ds");
  auto twice = create_dataset(fake, "ds");
  BOOST_CHECK_EQUAL(twice.status, 409);
  BOOST_CHECK_EQUAL(error_reason(twice), "duplicate");
  BOOST_CHECK_EQUAL(create_dataset(fake, "bad-name").status, 400);
  auto missing = fake.get("/bigquery/v2/projects/proj/datasets/nope");
  BOOST_CHECK_EQUAL(missing.status, 404);
  BOOST_CHECK_EQUAL(error_reason(missing), "notFound");
  BOOST_CHECK_EQUAL(str(missing.json().at("error").at("message")), "Not found: Dataset proj:nope");

  auto table = create_table(fake, "day", test_schema());
  BOOST_REQUIRE_EQUAL(table.status, 200);
  BOOST_CHECK_EQUAL(str(table.json().at("numRows")), "0");
  BOOST_CHECK_EQUAL(error_reason(create_table(fake, "day", test_schema())), "duplicate");
  BOOST_CHECK_EQUAL(
      create_table(fake, "bad", json::parse(R"({"fields":[{"name":"a","type":"NOPE"}]})")).status,
      400);
  auto got = fake.get(kTables + "/day").json().as_object();
  BOOST_CHECK_EQUAL(str(got.at("id")), "proj:ds.day");
  BOOST_CHECK_EQUAL(str(got.at("numRows")), "0");
  BOOST_CHECK_EQUAL(str(got.at("numBytes")), "0");
  BOOST_CHECK(std::stoll(str(got.at("lastModifiedTime"))) > 1'600'000'000'000LL);
  BOOST_CHECK_EQUAL(got.at("schema").at("fields").as_array().size(), 7u);
  BOOST_CHECK_EQUAL(fake.post("/bigquery/v2/projects/proj/datasets/nope/tables",
                              R"({"tableReference":{"tableId":"t"}})")
                        .status,
                    404);
  BOOST_CHECK_EQUAL(fake.call("DELETE", kTables + "/day", "").status, 204);
  BOOST_CHECK_EQUAL(fake.get(kTables + "/day").status, 404);
  BOOST_CHECK_EQUAL(fake.call("DELETE", "/bigquery/v2/projects/proj/datasets/ds", "").status, 204);
}

BOOST_AUTO_TEST_CASE(insert_all_checks_rows_against_the_schema) {
  Fake fake;
  create_dataset(fake, "ds");
  create_table(fake, "day", test_schema());
  json::object good{{"path", "gs://b/logs/j/1"},
                    {"number", 1},
                    {"passed", true},
                    {"elapsed", 1.5},
                    {"started", 1700000000},
                    {"test", json::array{json::object{{"name", "t1"}, {"time", 0.5}}}},
                    {"metadata", json::array{json::object{{"key", "k"}, {"value", "v"}}}}};
  json::object also{{"path", "gs://b/logs/j/2"}, {"started", "2023-11-14 22:13:20 UTC"}};
  auto ok = insert(fake, "day", json::array{row("a", good), row("b", also)}, true);
  BOOST_CHECK_EQUAL(ok.status, 200);
  BOOST_CHECK_EQUAL(ok.body, R"({"kind":"bigquery#tableDataInsertAllResponse"})");
  auto rows = stored_rows(fake, "day");
  BOOST_REQUIRE_EQUAL(rows.size(), 2u);
  BOOST_CHECK(rows[0] == json::value(good));  // stored as inserted

  // skipInvalidRows false: one bad row stops the request; the rest are "stopped".
  json::object unknown{{"path", "gs://b/logs/j/3"}, {"color", "red"}};
  auto stopped = insert(fake, "day", json::array{row("c", also), row("d", unknown)}, false);
  BOOST_CHECK_EQUAL(stopped.status, 200);
  auto errors = insert_errors(stopped);
  BOOST_CHECK_EQUAL(errors[0], "stopped");
  BOOST_CHECK_EQUAL(errors[1], "invalid");
  BOOST_CHECK_EQUAL(str(stopped.json().at("insertErrors").at(1).at("errors").at(0).at("location")),
                    "color");
  BOOST_CHECK_EQUAL(stored_rows(fake, "day").size(), 2u);

  // skipInvalidRows true: the good rows go in, the bad ones are listed.
  json::object c{{"path", "gs://b/logs/j/4"}};
  json::array mixed{row("e", c),
                    row("f", unknown),
                    row("g", json::object{{"path", "x"}, {"number", "abc"}}),
                    row("h", json::object{{"path", "x"}, {"passed", "maybe"}}),
                    row("i", json::object{{"path", "x"}, {"started", "yesterday"}}),
                    row("j", json::object{{"path", "x"}, {"started", 1e12}}),
                    row("k", json::object{{"number", 1}}),
                    row("l", json::object{{"path", "x"}, {"test", json::object{}}}),
                    row("m", json::object{{"path", "x"}, {"metadata", "k=v"}})};
  auto skipped = insert(fake, "day", mixed, true);
  errors = insert_errors(skipped);
  BOOST_CHECK_EQUAL(errors.size(), 8u);
  BOOST_CHECK(!errors.contains(0));
  BOOST_CHECK_EQUAL(paths_of(stored_rows(fake, "day")).back(), "gs://b/logs/j/4");
  BOOST_CHECK_EQUAL(stored_rows(fake, "day").size(), 3u);

  // ignoreUnknownValues accepts the unknown field.
  BOOST_CHECK(
      insert_errors(insert(fake, "day", json::array{row("n", unknown)}, false, true)).empty());
  BOOST_CHECK_EQUAL(stored_rows(fake, "day").size(), 4u);

  BOOST_CHECK_EQUAL(table_count(fake, "day", "insert_all_requests"), 4u);
  BOOST_CHECK_EQUAL(table_count(fake, "day", "rows_inserted"), 4u);
  BOOST_CHECK_EQUAL(table_count(fake, "day", "invalid_rows"), 9u);
  auto table = fake.get(kTables + "/day").json();
  BOOST_CHECK_EQUAL(str(table.at("numRows")), "4");
  BOOST_CHECK_EQUAL(str(table.at("streamingBuffer").at("estimatedRows")), "4");
  BOOST_CHECK_EQUAL(insert(fake, "nope", json::array{row("", c)}, true).status, 404);
}

BOOST_AUTO_TEST_CASE(insert_all_drops_repeated_insert_ids_and_enforces_limits) {
  Fake fake;
  create_dataset(fake, "ds");
  create_table(fake, "day", test_schema());
  json::object a{{"path", "a"}}, b{{"path", "b"}};
  insert(fake, "day", json::array{row("id-a", a), row("id-a", a)}, true);  // same request
  insert(fake, "day", json::array{row("id-a", a), row("id-b", b), row("", b)}, true);
  BOOST_CHECK((paths_of(stored_rows(fake, "day")) == std::vector<std::string>{"a", "b", "b"}));
  BOOST_CHECK_EQUAL(table_count(fake, "day", "duplicates_dropped"), 2u);

  json::array huge;
  std::string padding(1000, 'p');
  for (int i = 0; i < 11000; ++i) huge.push_back(row("", json::object{{"path", padding}}));
  auto too_big = insert(fake, "day", std::move(huge), true);
  BOOST_CHECK_EQUAL(too_big.status, 413);
  BOOST_CHECK_EQUAL(too_big.json().at("error").at("code").as_int64(), 413);

  json::array many;
  for (int i = 0; i < 50001; ++i) many.push_back(row("", json::object{{"path", "p"}}));
  BOOST_CHECK_EQUAL(insert(fake, "day", std::move(many), true).status, 400);
  BOOST_CHECK_EQUAL(insert(fake, "day", json::array{}, true).status, 400);
  BOOST_CHECK_EQUAL(stored_rows(fake, "day").size(), 3u);
}

BOOST_AUTO_TEST_CASE(tabledata_list_pages_in_f_v_form) {
  Fake fake;
  create_dataset(fake, "ds");
  create_table(fake, "day", test_schema());
  json::array rows{
      row("", json::object{{"path", "p0"},
                           {"number", 7},
                           {"passed", false},
                           {"elapsed", 2.5},
                           {"started", 1700000000},
                           {"test", json::array{json::object{{"name", "t"}, {"failed", true}}}}}),
      row("", json::object{{"path", "p1"}}), row("", json::object{{"path", "p2"}})};
  insert(fake, "day", std::move(rows), true);

  auto page = fake.get(kTables + "/day/data?maxResults=2").json().as_object();
  BOOST_CHECK_EQUAL(str(page.at("totalRows")), "3");
  BOOST_REQUIRE_EQUAL(page.at("rows").as_array().size(), 2u);
  auto cells = page.at("rows").at(0).at("f").as_array();
  BOOST_REQUIRE_EQUAL(cells.size(), 7u);
  BOOST_CHECK_EQUAL(str(cells[0].at("v")), "p0");
  BOOST_CHECK_EQUAL(str(cells[1].at("v")), "7");
  BOOST_CHECK_EQUAL(str(cells[2].at("v")), "false");
  BOOST_CHECK_EQUAL(str(cells[3].at("v")), "2.5");
  BOOST_CHECK_EQUAL(str(cells[4].at("v")), "1.7E9");
  auto test = cells[5].at("v").as_array();
  BOOST_REQUIRE_EQUAL(test.size(), 1u);
  auto record = test[0].at("v").at("f").as_array();
  BOOST_CHECK_EQUAL(str(record[0].at("v")), "t");
  BOOST_CHECK(record[1].at("v").is_null());
  BOOST_CHECK_EQUAL(str(record[2].at("v")), "true");
  BOOST_CHECK(cells[6].at("v").as_array().empty());  // absent repeated field
  BOOST_CHECK(page.at("rows").at(1).at("f").at(1).at("v").is_null());

  std::string token = str(page.at("pageToken"));
  auto next =
      fake.get(kTables + "/day/data?maxResults=2&pageToken=" + escape(token)).json().as_object();
  BOOST_REQUIRE_EQUAL(next.at("rows").as_array().size(), 1u);
  BOOST_CHECK_EQUAL(str(next.at("rows").at(0).at("f").at(0).at("v")), "p2");
  BOOST_CHECK(!next.contains("pageToken"));
  BOOST_CHECK_EQUAL(fake.get(kTables + "/day/data?pageToken=%21%21").status, 400);
}

BOOST_AUTO_TEST_CASE(resumable_loads_gzip_truncate_and_append) {
  Fake fake(set_fast_jobs);
  create_dataset(fake, "ds");

  // WRITE_TRUNCATE into a missing table creates it from the job's schema.
  std::string session = start_resumable(fake, load_job("day", "WRITE_TRUNCATE", 0, "load_1"));
  auto started = fake.call("PUT", session, gzip(ndjson_paths({"a", "b", "c"})),
                           {{"Content-Type", "application/octet-stream"}});
  BOOST_REQUIRE_EQUAL(started.status, 200);
  BOOST_CHECK_EQUAL(str(started.json().at("jobReference").at("jobId")), "load_1");
  auto state = str(started.json().at("status").at("state"));
  BOOST_CHECK(state == "RUNNING" || state == "DONE");
  auto done = wait_done(fake, "load_1");
  BOOST_CHECK(!done.at("status").as_object().contains("errorResult"));
  BOOST_CHECK_EQUAL(str(done.at("statistics").at("load").at("outputRows")), "3");
  BOOST_CHECK((paths_of(stored_rows(fake, "day")) == std::vector<std::string>{"a", "b", "c"}));
  BOOST_CHECK_EQUAL(fake.get(kJobs + "load_1?location=EU").status, 404);
  BOOST_CHECK_EQUAL(fake.get(kJobs + "load_1").status, 200);
  // The session is finished: asking again answers with the job.
  BOOST_CHECK_EQUAL(str(fake.call("PUT", session, "").json().at("jobReference").at("jobId")),
                    "load_1");

  // WRITE_APPEND in two chunks: the first gets 308 with the range received.
  std::string data = ndjson_paths({"d", "e"});
  std::string half = data.substr(0, 10), rest = data.substr(10);
  session = start_resumable(fake, load_job("day", "WRITE_APPEND", 0, "load_2"));
  auto partial = fake.call("PUT", session, half, {{"Content-Range", "bytes 0-9/*"}});
  BOOST_CHECK_EQUAL(partial.status, 308);
  BOOST_CHECK_EQUAL(partial.header("range"), "bytes=0-9");
  auto query = fake.call("PUT", session, "", {{"Content-Range", "bytes */*"}});
  BOOST_CHECK_EQUAL(query.status, 308);
  auto last = fake.call("PUT", session, rest,
                        {{"Content-Range", "bytes 10-" + std::to_string(data.size() - 1) + "/" +
                                               std::to_string(data.size())}});
  BOOST_CHECK_EQUAL(last.status, 200);
  wait_done(fake, "load_2");
  BOOST_CHECK(
      (paths_of(stored_rows(fake, "day")) == std::vector<std::string>{"a", "b", "c", "d", "e"}));

  // WRITE_TRUNCATE replaces everything.
  session = start_resumable(fake, load_job("day", "WRITE_TRUNCATE", 0, "load_3"));
  fake.call("PUT", session, ndjson_paths({"z"}));
  wait_done(fake, "load_3");
  BOOST_CHECK((paths_of(stored_rows(fake, "day")) == std::vector<std::string>{"z"}));
  BOOST_CHECK_EQUAL(table_count(fake, "day", "load_jobs"), 3u);
  BOOST_CHECK_EQUAL(table_count(fake, "day", "truncations"), 2u);
  BOOST_CHECK_EQUAL(str(fake.get(kTables + "/day").json().at("numRows")), "1");

  // A job id is used once; a bad session id is unknown.
  auto reused = fake.post(kUploadJobs + "?uploadType=resumable",
                          json::serialize(load_job("day", "WRITE_APPEND", 0, "load_3")));
  BOOST_CHECK_EQUAL(reused.status, 409);
  BOOST_CHECK_EQUAL(
      fake.call("PUT", kUploadJobs + "?uploadType=resumable&upload_id=nope", "x").status, 404);
  BOOST_CHECK_EQUAL(
      fake.post(kUploadJobs + "?uploadType=resumable", R"({"configuration":{}})").status, 400);
}

BOOST_AUTO_TEST_CASE(multipart_loads_and_max_bad_records) {
  Fake fake(set_fast_jobs);
  create_dataset(fake, "ds");
  create_table(fake, "all", test_schema());
  std::string one_bad = ndjson_paths({"a", "b"}) + "{\"path\":\"c\",\"number\":\"NaN\"}\n\n";

  auto accepted =
      multipart_load(fake, load_job("all", "WRITE_APPEND", 1, "tolerant"), gzip(one_bad));
  BOOST_REQUIRE_EQUAL(accepted.status, 200);
  auto job = wait_done(fake, "tolerant");
  auto status = job.at("status").as_object();
  BOOST_CHECK(!status.contains("errorResult"));
  BOOST_CHECK_EQUAL(status.at("errors").as_array().size(), 1u);
  BOOST_CHECK_EQUAL(str(job.at("statistics").at("load").at("outputRows")), "2");
  BOOST_CHECK_EQUAL(str(job.at("statistics").at("load").at("badRecords")), "1");
  BOOST_CHECK_EQUAL(stored_rows(fake, "all").size(), 2u);

  std::string two_bad = one_bad + "not json\n";
  multipart_load(fake, load_job("all", "WRITE_APPEND", 1, "strict"), two_bad);
  job = wait_done(fake, "strict");
  auto error = job.at("status").at("errorResult");
  BOOST_CHECK_EQUAL(str(error.at("reason")), "invalid");
  BOOST_CHECK(error.at("message").as_string().find("too many errors") != std::string::npos);
  BOOST_CHECK_EQUAL(job.at("status").at("errors").as_array().size(), 3u);  // summary + 2 rows
  BOOST_CHECK_EQUAL(stored_rows(fake, "all").size(), 2u);  // nothing from the failed job

  auto csv = load_job("all", "WRITE_APPEND", 0, "csv");
  csv["configuration"].as_object()["load"].as_object().erase("sourceFormat");
  multipart_load(fake, csv, "a,b\n");
  BOOST_CHECK(wait_done(fake, "csv").at("status").as_object().contains("errorResult"));

  auto elsewhere = load_job("all", "WRITE_APPEND", 0, "elsewhere");
  elsewhere["configuration"]
      .as_object()["load"]
      .as_object()["destinationTable"]
      .as_object()["datasetId"] = "gone";
  multipart_load(fake, elsewhere, ndjson_paths({"x"}));
  BOOST_CHECK_EQUAL(str(wait_done(fake, "elsewhere").at("status").at("errorResult").at("reason")),
                    "notFound");

  BOOST_CHECK_EQUAL(multipart_load(fake, load_job("all", "WRITE_APPEND", 0, "tolerant"), "").status,
                    409);
  BOOST_CHECK_EQUAL(fake.post(kUploadJobs + "?uploadType=multipart", "no parts",
                              {{"Content-Type", "multipart/related; boundary=zz"}})
                        .status,
                    400);
  BOOST_CHECK_EQUAL(count_at(fake.stats(), "requests_by_kind", "bigquery.upload"), 6u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- bad input

BOOST_AUTO_TEST_SUITE(cloud_bad_input)

BOOST_AUTO_TEST_CASE(malformed_calls_get_errors_and_the_server_lives_on) {
  Fake fake;
  PubSub ps{fake};
  ps.create_topic("events");
  ps.create_subscription("kettle", "events");
  create_dataset(fake, "ds");
  create_table(fake, "t", test_schema());
  const std::string load =
      R"({"configuration":{"load":{"destinationTable":{"projectId":"proj","datasetId":"ds",)"
      R"("tableId":"t"},"schema":{"fields":[{"type":"STRING"}]}}}})";
  struct Case {
    std::string method, target, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"PUT", kTopics + "other", "[1,2]", 400},
      {"PUT", kSubs + "sub1", R"({"topic":5})", 400},
      {"PUT", kSubs + "sub1", R"({"topic":"projects/proj/topics/events","ackDeadlineSeconds":"x"})",
       400},
      {"PUT", kSubs + "sub1",
       R"({"topic":"projects/proj/topics/events","ackDeadlineSeconds":1e30})", 400},
      {"POST", kTopics + "events:publish", R"({"messages":"x"})", 400},
      {"POST", kTopics + "events:publish", R"({"messages":[{"data":"aGk=","attributes":{"a":1}}]})",
       400},
      {"POST", kTopics + "events:publish", R"({"messages":[{"data":5}]})", 400},
      {"POST", kTopics + "events:publish", R"({"messages":[7]})", 400},
      {"POST", kSubs + "kettle:pull", R"({"maxMessages":"lots"})", 400},
      {"POST", kSubs + "kettle:pull", R"({"maxMessages":1,"returnImmediately":"yes"})", 400},
      {"POST", kSubs + "kettle:pull", R"({"maxMessages":-5})", 400},
      {"POST", kSubs + "kettle:acknowledge", R"({"ackIds":"x"})", 400},
      {"POST", kSubs + "kettle:acknowledge", R"({"ackIds":[1]})", 400},
      {"POST", kSubs + "kettle:modifyAckDeadline", R"({"ackIds":["x"],"ackDeadlineSeconds":-1})",
       400},
      {"POST", kSubs + "kettle:frobnicate", "{}", 404},
      {"GET", "/v1/projects//topics/events", "", 404},
      {"PATCH", kTopics + "events", "{}", 405},
      {"POST", "/bigquery/v2/projects/proj/datasets", "null", 400},
      {"POST", "/bigquery/v2/projects/proj/datasets", R"({"datasetReference":5})", 400},
      {"POST", kTables, R"({"tableReference":{"tableId":"a.b"}})", 400},
      {"POST", kTables, R"({"tableReference":{"tableId":"u"},"schema":{"fields":"x"}})", 400},
      {"POST", kTables,
       R"({"tableReference":{"tableId":"u"},"schema":{"fields":[{"name":"a","type":"RECORD","fields":[{"name":"b","type":"RECORD"}]}]}})",
       400},
      {"POST", kTables + "/t/insertAll", R"({"rows":[1,2]})", 200},
      {"POST", kTables + "/t/insertAll", R"({"rows":"x"})", 400},
      {"POST", kTables + "/t/insertAll", "{{{{", 400},
      {"GET", kTables + "/t/data?maxResults=abc", "", 400},
      {"GET", kTables + "/t/bogus", "", 404},
      {"POST", kUploadJobs + "?uploadType=resumable", load, 400},
      {"POST", kUploadJobs + "?uploadType=resumable", "[]", 400},
      {"POST", kUploadJobs + "?uploadType=media", "{}", 400},
      {"POST", kUploadJobs + "?uploadType=multipart", "{}", 400},
      {"PUT", kUploadJobs + "?uploadType=resumable&upload_id=nope", "x", 404},
      {"GET", kJobs + "none", "", 404},
      {"POST", "/bigquery/v2/projects/proj/jobs", "{}", 400},
      {"GET", "/_fake/bigquery/a/b", "", 404},
      {"POST", "/_fake/bigquery", "", 405},
      {"GET", "/_fake/pubsub/proj", "", 404},
      {"POST", "/_fake/notifications", "{}", 400},
      {"POST", "/_fake/pubsub/publish", R"({"topic":"projects/proj/topics/nothing","text":"x"})",
       404},
      {"POST", "/_fake/notifications/event", R"({"bucket":"bkt"})", 400},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.method << " " << c.target << " " << c.body) {
      BOOST_CHECK_EQUAL(fake.call(c.method, c.target, c.body).status, c.status);
    }
  }
  auto bad_gzip = fake.post(kTopics + "events:publish", "not gzip", {{"Content-Encoding", "gzip"}});
  BOOST_CHECK_EQUAL(bad_gzip.status, 400);
  auto gzipped = fake.post(kTopics + "events:publish", gzip(R"({"messages":[{"data":"aGk="}]})"),
                           {{"Content-Encoding", "gzip"}});
  BOOST_CHECK_EQUAL(gzipped.status, 200);
  BOOST_CHECK_EQUAL(count_at(fake.stats(), "requests_by_status", "500"), 0u);
  BOOST_CHECK_EQUAL(ps.pull("kettle").size(), 1u);
}

BOOST_AUTO_TEST_SUITE_END()
