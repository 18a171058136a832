// pubsub/: subscription paths, base64, request bodies, pull parsing, ack
// batching, and the REST client against a scripted HTTP server on 127.0.0.1.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kettle/pubsub/client.hpp"
#include "support/scoped_env.hpp"
#include "support/scripted_server.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace kettle;
using namespace kettle::pubsub;
using namespace kettle::test_support;
using namespace std::chrono_literals;

namespace {

// A Credentials that always hands out the same token.
class FixedToken final : public auth::Credentials {
 public:
  asio::awaitable<net::Result<std::optional<std::string>>> authorization() override {
    co_return std::optional<std::string>("Bearer test-token");
  }
  void invalidate() override {}
  std::string description() const override { return "fixed test token"; }
};

struct Fixture : test_support::ClientFixture<Client, ClientConfig> {
  explicit Fixture(Script script, net::Config net_config = quick_net_config(),
                   std::shared_ptr<auth::Credentials> credentials = nullptr, ClientConfig config = {})
      : ClientFixture(std::move(script), std::move(config), std::move(net_config), std::move(credentials)) {}
};

const SubscriptionPath kSub{"proj", "gcs-changes", "kettle"};

// The error of a failed result, for test messages.
template <class T>
std::string why(const net::Result<T>& result) {
  return result ? std::string() : result.error().what();
}

Reply ok(std::string body) { return Reply{.body = std::move(body)}; }

std::vector<std::string> numbered_ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back("ack-" + std::to_string(i));
  return ids;
}

std::size_t id_count(const std::string& body) {
  return json::parse(body).at("ackIds").as_array().size();
}

}  // namespace

// ---------------------------------------------------------------------------
// Pure parts.

BOOST_AUTO_TEST_SUITE(subscription_path)

BOOST_AUTO_TEST_CASE(parses_project_topic_subscription) {
  auto path = SubscriptionPath::parse("k8s-infra-prow/gcs-changes/kettle-filtered");
  BOOST_REQUIRE(path);
  BOOST_TEST(path->project == "k8s-infra-prow");
  BOOST_TEST(path->subscription_name() == "projects/k8s-infra-prow/subscriptions/kettle-filtered");
  BOOST_TEST(path->topic_name() == "projects/k8s-infra-prow/topics/gcs-changes");
  BOOST_TEST(path->str() == "k8s-infra-prow/gcs-changes/kettle-filtered");
  auto domain = SubscriptionPath::parse("example.com:proj/t/s");
  BOOST_REQUIRE(domain);
  BOOST_TEST(domain->topic_name() == "projects/example.com:proj/topics/t");
}

BOOST_AUTO_TEST_CASE(rejects_other_shapes_and_says_why) {
  for (const char* bad :
       {"", "proj", "proj/topic", "proj/topic/sub/extra", "proj//sub", "/topic/sub", "proj/topic/",
        "proj/to pic/sub", "proj/topic/s?x", "projects/p/subscriptions/s"}) {
    std::string error;
    BOOST_TEST(!SubscriptionPath::parse(bad, &error), bad);
    BOOST_TEST(error.find("'" + std::string(bad) + "'") != std::string::npos, error);
    BOOST_TEST(error.find("PROJECT/TOPIC/SUBSCRIPTION") != std::string::npos, error);
  }
  BOOST_TEST(!SubscriptionPath::parse("a/b"));  // no error pointer: still fine
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(base64)

BOOST_AUTO_TEST_CASE(decodes_standard_padded_unpadded_and_url_safe) {
  BOOST_TEST(decode_base64("aGVsbG8=").value() == "hello");
  BOOST_TEST(decode_base64("aGVsbG8").value() == "hello");
  BOOST_TEST(decode_base64("aGVsbG8h").value() == "hello!");
  BOOST_TEST(decode_base64("aGk=").value() == "hi");
  BOOST_TEST(decode_base64("aA==").value() == "h");
  BOOST_TEST(decode_base64("").value() == "");
  BOOST_TEST(decode_base64("-_8=").value() == decode_base64("+/8=").value());
  BOOST_TEST(decode_base64("+/8=").value() == std::string("\xfb\xff", 2));
}

BOOST_AUTO_TEST_CASE(round_trips_every_byte_and_length) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= 7; ++n) {
    auto part = bytes.substr(200, n);
    BOOST_TEST(decode_base64(encode_base64(part)).value() == part);
  }
  BOOST_TEST(encode_base64("hello") == "aGVsbG8=");
  BOOST_TEST(encode_base64("h") == "aA==");
  BOOST_TEST(decode_base64(encode_base64(bytes)).value() == bytes);
}

BOOST_AUTO_TEST_CASE(rejects_what_is_not_base64) {
  for (const char* bad : {"a", "abcde", "ab!c", "ab c", "aGVsbG8===", "a=bc", "aGk=x", "aGk\n"}) {
    BOOST_TEST(!decode_base64(bad), bad);
  }
  BOOST_TEST(!decode_base64("aGVsbG8h="));  // padding that does not complete a group of four
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bodies)

BOOST_AUTO_TEST_CASE(pull_ack_modify_and_publish_bodies_are_exact) {
  BOOST_TEST(pull_request_body(1000, false) == R"({"maxMessages":1000,"returnImmediately":false})");
  BOOST_TEST(pull_request_body(5, true) == R"({"maxMessages":5,"returnImmediately":true})");
  std::vector<std::string> ids{"a1", "b\"2"};
  BOOST_TEST(acknowledge_request_body(ids) == R"({"ackIds":["a1","b\"2"]})");
  BOOST_TEST(modify_ack_deadline_request_body(ids, 180) ==
             R"({"ackIds":["a1","b\"2"],"ackDeadlineSeconds":180})");
  std::vector<OutgoingMessage> out{{"hello", {{"objectId", "a/finished.json"}}}, {"", {}}};
  BOOST_TEST(publish_request_body(out) ==
             R"({"messages":[{"data":"aGVsbG8=","attributes":{"objectId":"a/finished.json"}},)"
             R"({"data":""}]})");
}

BOOST_AUTO_TEST_CASE(ack_ids_split_into_batches_of_at_most_the_limit) {
  auto ids = numbered_ids(2345);
  auto batches = split_ack_ids(ids, 1000);
  BOOST_REQUIRE(batches.size() == 3u);
  BOOST_TEST(batches[0].size() == 1000u);
  BOOST_TEST(batches[1].size() == 1000u);
  BOOST_TEST(batches[2].size() == 345u);
  BOOST_TEST(batches[1].front() == "ack-1000");
  BOOST_TEST(batches[2].back() == "ack-2344");
  BOOST_TEST(split_ack_ids(std::span<const std::string>(ids).first(1000), 1000).size() == 1u);
  BOOST_TEST(split_ack_ids({}, 1000).empty());
  BOOST_TEST(split_ack_ids(std::span<const std::string>(ids).first(3), 0).size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pull_response)

constexpr const char* kTwoMessages = R"({
  "receivedMessages": [
    {"ackId": "ack-1",
     "message": {"data": "eyJraW5kIjoic3RvcmFnZSJ9", "messageId": "m1",
                 "publishTime": "2024-05-01T10:00:00.123Z",
                 "attributes": {"bucketId": "kubernetes-ci-logs",
                                "objectId": "logs/ci-e2e/123/finished.json",
                                "eventType": "OBJECT_FINALIZE",
                                "payloadFormat": "JSON_API_V1",
                                "notificationConfig": "projects/_/buckets/b/notificationConfigs/1"}},
     "deliveryAttempt": 2},
    {"ackId": "ack-2", "message": {"messageId": "m2"}}
  ]})";

BOOST_AUTO_TEST_CASE(reads_messages_attributes_and_decoded_data) {
  std::string error;
  auto messages = parse_pull_response(kTwoMessages, error);
  BOOST_REQUIRE_MESSAGE(messages, error);
  BOOST_REQUIRE(messages->size() == 2u);
  const auto& first = (*messages)[0];
  BOOST_TEST(first.ack_id == "ack-1");
  BOOST_TEST(first.message_id == "m1");
  BOOST_TEST(first.data == R"({"kind":"storage"})");
  BOOST_TEST(!first.data_malformed);
  BOOST_TEST(first.publish_time == "2024-05-01T10:00:00.123Z");
  BOOST_TEST(first.attributes.size() == 5u);
  auto notification = GcsNotification::from(first);
  BOOST_TEST(notification.bucket_id == "kubernetes-ci-logs");
  BOOST_TEST(notification.object_id == "logs/ci-e2e/123/finished.json");
  BOOST_TEST(notification.event_type == "OBJECT_FINALIZE");
  BOOST_TEST(notification.payload_format == "JSON_API_V1");
  BOOST_TEST(notification.is_finalize());
  const auto& second = (*messages)[1];
  BOOST_TEST(second.data.empty());
  BOOST_TEST(second.attributes.empty());
  auto bare = GcsNotification::from(second);
  BOOST_TEST(bare.object_id.empty());
  BOOST_TEST(!bare.is_finalize());
}

BOOST_AUTO_TEST_CASE(no_messages_is_an_empty_list) {
  std::string error;
  BOOST_TEST(parse_pull_response("{}", error).value().empty());
  BOOST_TEST(parse_pull_response(R"({"receivedMessages":[]})", error).value().empty());
}

BOOST_AUTO_TEST_CASE(odd_messages_are_skipped_or_flagged_not_fatal) {
  std::string error;
  auto messages = parse_pull_response(
      R"({"receivedMessages":[{"message":{"messageId":"no-ack"}}, 7, {"ackId":""},
          {"ackId":"x","message":{"data":"!!!","attributes":{"n":1,"s":"v"}}}]})",
      error);
  BOOST_REQUIRE_MESSAGE(messages, error);
  BOOST_REQUIRE(messages->size() == 1u);
  BOOST_TEST((*messages)[0].ack_id == "x");
  BOOST_TEST((*messages)[0].data_malformed);
  BOOST_TEST((*messages)[0].data.empty());
  BOOST_TEST((*messages)[0].attributes.size() == 1u);  // the non-string value is dropped
}

BOOST_AUTO_TEST_CASE(malformed_bodies_are_errors) {
  for (const char* bad : {"<html><body>502 Bad Gateway</body></html>", R"({"receivedMessages":[)",
                          "[]", "", R"({"receivedMessages":{}})"}) {
    std::string error;
    BOOST_TEST(!parse_pull_response(bad, error), bad);
    BOOST_TEST(!error.empty());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(endpoint_from_environment) {
  {
    ScopedEnv emulator("PUBSUB_EMULATOR_HOST", "localhost:8085");
    ScopedEnv custom("KETTLE_PUBSUB_ENDPOINT", "https://custom.example/");
    auto endpoint = endpoint_from_env();
    BOOST_TEST(endpoint.base_url == "http://localhost:8085");
    BOOST_TEST(endpoint.emulator);
  }
  {
    ScopedEnv emulator("PUBSUB_EMULATOR_HOST", nullptr);
    ScopedEnv custom("KETTLE_PUBSUB_ENDPOINT", "https://custom.example/");
    auto endpoint = endpoint_from_env();
    BOOST_TEST(endpoint.base_url == "https://custom.example");
    BOOST_TEST(!endpoint.emulator);
  }
  {
    ScopedEnv emulator("PUBSUB_EMULATOR_HOST", "");
    ScopedEnv custom("KETTLE_PUBSUB_ENDPOINT", nullptr);
    auto endpoint = endpoint_from_env();
    BOOST_TEST(endpoint.base_url == "https://pubsub.googleapis.com");
    BOOST_TEST(!endpoint.emulator);
  }
}

// ---------------------------------------------------------------------------
// The client against the scripted server.

BOOST_AUTO_TEST_SUITE(client)

BOOST_AUTO_TEST_CASE(pull_posts_the_body_and_returns_messages) {
  Fixture f([](const Seen&, int) { return ok(pull_response::kTwoMessages); });
  f.run([&]() -> asio::awaitable<void> {
    auto messages = co_await f.client.pull(kSub, 1000, false);
    BOOST_REQUIRE_MESSAGE(messages.has_value(), why(messages));
    BOOST_TEST(messages->size() == 2u);
    BOOST_TEST((*messages)[0].data == R"({"kind":"storage"})");
  });
  BOOST_REQUIRE(f.server.seen.size() == 1u);
  const auto& seen = f.server.seen[0];
  BOOST_TEST(seen.method == "POST");
  BOOST_TEST(seen.target == "/v1/projects/proj/subscriptions/kettle:pull");
  BOOST_TEST(seen.body == R"({"maxMessages":1000,"returnImmediately":false})");
  BOOST_TEST(seen.headers.at("content-type") == "application/json");
  BOOST_TEST(!seen.headers.contains("authorization"));
}

BOOST_AUTO_TEST_CASE(long_poll_outlasts_the_default_headers_deadline) {
  // The client-wide headers deadline is 300 ms, the server holds the pull
  // for 1 s: only the long-poll override lets the answer through.
  net::Config net_config = quick_net_config();
  net_config.timeouts.headers = 300ms;
  net_config.retry.max_attempts = 1;
  Fixture f([](const Seen&, int) { return Reply{.body = "{}", .delay = 1s}; }, net_config);
  f.run([&]() -> asio::awaitable<void> {
    auto held = co_await f.client.pull(kSub, 10, false);
    BOOST_TEST(held.has_value(), why(held));
    auto immediate = co_await f.client.pull(kSub, 10, true);
    BOOST_REQUIRE(!immediate.has_value());
    BOOST_TEST((immediate.error().kind == net::ErrorKind::timeout));
  });
}

BOOST_AUTO_TEST_CASE(acknowledge_sends_batches_of_at_most_1000) {
  Fixture f([](const Seen&, int) { return ok("{}"); });
  auto ids = numbered_ids(2345);
  f.run([&]() -> asio::awaitable<void> {
    auto acked = co_await f.client.acknowledge(kSub, ids);
    BOOST_TEST(acked.has_value(), why(acked));
  });
  BOOST_REQUIRE(f.server.seen.size() == 3u);
  std::vector<std::string> sent;
  for (const auto& seen : f.server.seen) {
    BOOST_TEST(seen.target == "/v1/projects/proj/subscriptions/kettle:acknowledge");
    auto body = json::parse(seen.body);
    for (const auto& id : body.at("ackIds").as_array()) sent.emplace_back(id.as_string());
  }
  BOOST_TEST(id_count(f.server.seen[0].body) == 1000u);
  BOOST_TEST(id_count(f.server.seen[1].body) == 1000u);
  BOOST_TEST(id_count(f.server.seen[2].body) == 345u);
  BOOST_TEST(sent == ids);
}

BOOST_AUTO_TEST_CASE(modify_ack_deadline_batches_and_carries_the_deadline) {
  Fixture f([](const Seen&, int) { return ok("{}"); });
  auto ids = numbered_ids(1001);
  f.run([&]() -> asio::awaitable<void> {
    auto extended = co_await f.client.modify_ack_deadline(kSub, ids, 180);
    BOOST_TEST(extended.has_value(), why(extended));
  });
  BOOST_REQUIRE(f.server.seen.size() == 2u);
  BOOST_TEST(f.server.seen[0].target == "/v1/projects/proj/subscriptions/kettle:modifyAckDeadline");
  BOOST_TEST(id_count(f.server.seen[0].body) == 1000u);
  BOOST_TEST(f.server.seen[1].body == R"({"ackIds":["ack-1000"],"ackDeadlineSeconds":180})");
}

BOOST_AUTO_TEST_CASE(a_failing_ack_batch_stops_and_names_the_url) {
  Fixture f([](const Seen&, int index) {
    if (index == 2) {
      return Reply{.status = 400,
                   .body = R"({"error":{"code":400,"message":"You have passed an invalid ack ID",)"
                           R"("status":"INVALID_ARGUMENT"}})"};
    }
    return ok("{}");
  });
  auto ids = numbered_ids(3000);
  f.run([&]() -> asio::awaitable<void> {
    auto acked = co_await f.client.acknowledge(kSub, ids);
    BOOST_REQUIRE(!acked.has_value());
    BOOST_TEST((acked.error().kind == net::ErrorKind::http_status));
    BOOST_TEST(acked.error().status == 400);
    BOOST_TEST(acked.error().url.ends_with("/v1/projects/proj/subscriptions/kettle:acknowledge"));
    BOOST_TEST(acked.error().message.find("You have passed an invalid ack ID") !=
               std::string::npos);
  });
  BOOST_TEST(f.server.seen.size() == 2u);
}

BOOST_AUTO_TEST_CASE(malformed_answers_are_typed_errors) {
  Fixture f([](const Seen&, int index) {
    switch (index) {
      case 1:
        return ok("<html><body>Service Unavailable</body></html>");
      case 2:
        return ok(R"({"receivedMessages":[{"ackId":"a")");
      default:
        return Reply{.status = 404, .body = "<html>\n<title>Not Found</title></html>"};
    }
  });
  f.run([&]() -> asio::awaitable<void> {
    auto html = co_await f.client.pull(kSub, 1, true);
    BOOST_REQUIRE(!html.has_value());
    BOOST_TEST((html.error().kind == net::ErrorKind::protocol));
    BOOST_TEST(html.error().url ==
               f.server.base_url() + "/v1/projects/proj/subscriptions/kettle:pull");
    BOOST_TEST(html.error().what().find(":pull") != std::string::npos);
    auto truncated = co_await f.client.pull(kSub, 1, true);
    BOOST_REQUIRE(!truncated.has_value());
    BOOST_TEST((truncated.error().kind == net::ErrorKind::protocol));
    auto missing = co_await f.client.pull(kSub, 1, true);
    BOOST_REQUIRE(!missing.has_value());
    BOOST_TEST(missing.error().status == 404);
    BOOST_TEST(missing.error().message.find("<title>Not Found</title>") != std::string::npos);
    BOOST_TEST(missing.error().message.find('\n') == std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(create_topic_and_subscription_accept_existing_ones) {
  Fixture f([](const Seen&, int index) {
    return index <= 2 ? ok("{}") : Reply{.status = 409, .body = "{}"};
  });
  f.run([&]() -> asio::awaitable<void> {
    auto topic = co_await f.client.create_topic(kSub);
    BOOST_TEST((topic && *topic));
    auto subscription = co_await f.client.create_subscription(kSub, 60);
    BOOST_TEST((subscription && *subscription));
    auto again = co_await f.client.create_topic(kSub);
    BOOST_TEST((again && !*again));
  });
  BOOST_REQUIRE(f.server.seen.size() == 3u);
  BOOST_TEST(f.server.seen[0].method == "PUT");
  BOOST_TEST(f.server.seen[0].target == "/v1/projects/proj/topics/gcs-changes");
  BOOST_TEST(f.server.seen[1].target == "/v1/projects/proj/subscriptions/kettle");
  BOOST_TEST(f.server.seen[1].body ==
             R"({"topic":"projects/proj/topics/gcs-changes","ackDeadlineSeconds":60})");
}

BOOST_AUTO_TEST_CASE(publish_encodes_data_and_returns_ids) {
  Fixture f([](const Seen&, int) { return ok(R"({"messageIds":["11","12"]})"); },
            quick_net_config(), std::make_shared<FixedToken>());
  std::vector<OutgoingMessage> messages{{"one", {{"eventType", "OBJECT_FINALIZE"}}}, {"two", {}}};
  f.run([&]() -> asio::awaitable<void> {
    auto ids = co_await f.client.publish(kSub, messages);
    BOOST_REQUIRE(ids.has_value());
    BOOST_TEST(*ids == (std::vector<std::string>{"11", "12"}));
  });
  BOOST_REQUIRE(f.server.seen.size() == 1u);
  BOOST_TEST(f.server.seen[0].target == "/v1/projects/proj/topics/gcs-changes:publish");
  BOOST_TEST(f.server.seen[0].headers.at("authorization") == "Bearer test-token");
  auto body = json::parse(f.server.seen[0].body);
  BOOST_TEST(body.at("messages").at(0).at("data").as_string() == "b25l");
  BOOST_TEST(body.at("messages").at(0).at("attributes").at("eventType").as_string() ==
             "OBJECT_FINALIZE");
}

BOOST_AUTO_TEST_SUITE_END()
