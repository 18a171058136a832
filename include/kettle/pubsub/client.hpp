// The Pub/Sub REST v1 API: pull (long poll or immediate), acknowledge,
// modifyAckDeadline, and the topic/subscription/publish calls tests and the
// demo use to set up a fake.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kettle/auth/credentials.hpp"
#include "kettle/net/error.hpp"
#include "kettle/net/http_client.hpp"
#include "kettle/net/url.hpp"
#include "kettle/pubsub/message.hpp"
#include "kettle/pubsub/subscription_path.hpp"

namespace kettle::pubsub {

struct ClientConfig {
  std::string base_url = "https://pubsub.googleapis.com";
  // Pub/Sub's cap on ackIds in one acknowledge or modifyAckDeadline call.
  std::size_t max_ack_ids_per_request = 1000;
  // Response-headers deadline of a long-poll pull: the server holds such a
  // pull open until messages arrive or its own timeout, so ours must be longer.
  net::Duration long_poll_headers_timeout = std::chrono::seconds(90);
  // The whole long-poll attempt: the hold above plus time for the body.
  net::Duration long_poll_total_timeout = std::chrono::seconds(120);
  // One pull response (1000 messages; GCS notifications are ~1 KB each, but
  // a message may carry up to 10 MB).
  std::size_t pull_body_limit = std::size_t{64} << 20;
};

// The endpoint from the environment: PUBSUB_EMULATOR_HOST (plain HTTP, no
// credentials), else KETTLE_PUBSUB_ENDPOINT, else Google's. `emulator` tells
// whether to skip auth.
using Endpoint = net::Endpoint;
Endpoint endpoint_from_env();

// Failures are net::Errors naming the URL: transport errors and retryable
// statuses that outlasted the HTTP layer's retries, final 4xx/5xx answers
// (kind http_status, with Google's error message), and answers that are not
// the JSON expected (kind protocol). Used from the HttpClient's thread. Pass
// SubscriptionPath as a named variable: g++ 12 miscompiles braced temporaries
// inside a co_await expression.
class Client {
 public:
  // `credentials` may be null (emulator: no Authorization header).
  Client(net::HttpClient& http, std::shared_ptr<auth::Credentials> credentials,
         ClientConfig config = {});

  // Up to `max_messages` messages. With `return_immediately` false this is a
  // long poll that may take up to the server's hold time and return none.
  boost::asio::awaitable<net::Result<std::vector<Message>>> pull(SubscriptionPath subscription,
                                                                 int max_messages,
                                                                 bool return_immediately);

  // Both send ids in batches of max_ack_ids_per_request and stop at the first
  // failing batch. `ack_ids` must stay alive until the call completes.
  boost::asio::awaitable<net::Result<void>> acknowledge(SubscriptionPath subscription,
                                                        std::span<const std::string> ack_ids);
  boost::asio::awaitable<net::Result<void>> modify_ack_deadline(
      SubscriptionPath subscription, std::span<const std::string> ack_ids, int seconds);

  // Create the topic / the subscription (to subscription.topic); true when
  // created, false when it already existed (409).
  boost::asio::awaitable<net::Result<bool>> create_topic(SubscriptionPath path);
  boost::asio::awaitable<net::Result<bool>> create_subscription(SubscriptionPath path,
                                                                int ack_deadline_seconds);
  // Publishes to path.topic; the message ids. `messages` must stay alive
  // until the call completes.
  boost::asio::awaitable<net::Result<std::vector<std::string>>> publish(
      SubscriptionPath path, std::span<const OutgoingMessage> messages);

  const ClientConfig& config() const { return config_; }

 private:
  boost::asio::awaitable<net::Result<net::Response>> send(net::Request request);
  boost::asio::awaitable<net::Result<void>> post_ids(std::string url, std::string what,
                                                     std::string body);
  boost::asio::awaitable<net::Result<bool>> create(std::string url, std::string what,
                                                   std::string body);
  std::string url(const std::string& name, std::string_view verb = {}) const;

  net::HttpClient& http_;
  std::shared_ptr<auth::Credentials> credentials_;
  ClientConfig config_;
};

}  // namespace kettle::pubsub
