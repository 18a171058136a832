#include "kettle/pubsub/client.hpp"

#include <boost/json.hpp>
#include <cstdlib>

#include "api_error.hpp"
#include "kettle/net/url.hpp"

namespace kettle::pubsub {
namespace asio = boost::asio;

namespace {

constexpr std::string_view kJson = "application/json";

net::Request json_request(std::string method, std::string url, std::string body) {
  net::Request request(std::move(method), std::move(url), std::move(body));
  request.headers.set("Content-Type", kJson);
  return request;
}

bool is_success(int status) { return status >= 200 && status < 300; }

}  // namespace

Endpoint endpoint_from_env() {
  return net::endpoint_from_env({"PUBSUB_EMULATOR_HOST"}, "KETTLE_PUBSUB_ENDPOINT",
                                "https://pubsub.googleapis.com");
}

Client::Client(net::HttpClient& http, std::shared_ptr<auth::Credentials> credentials,
               ClientConfig config)
    : http_(http), credentials_(std::move(credentials)), config_(std::move(config)) {}

std::string Client::url(const std::string& name, std::string_view verb) const {
  // Names hold only characters SubscriptionPath::parse let through, none of
  // which needs escaping in a path.
  return net::join_url(config_.base_url, "/v1/" + name + std::string(verb));
}

asio::awaitable<net::Result<net::Response>> Client::send(net::Request request) {
  request.api = "pubsub";
  if (credentials_) {
    auto applied = co_await auth::apply_credentials(credentials_, request);
    if (!applied) co_return applied.error();
  }
  co_return co_await http_.request(std::move(request));
}

asio::awaitable<net::Result<std::vector<Message>>> Client::pull(SubscriptionPath subscription,
                                                                int max_messages,
                                                                bool return_immediately) {
  auto request = json_request("POST", url(subscription.subscription_name(), ":pull"),
                              pull_request_body(max_messages, return_immediately));
  request.options.body_limit = config_.pull_body_limit;
  // Nothing is lost by abandoning a pull: unanswered messages are redelivered.
  request.options.interruptible = true;
  if (!return_immediately) {
    request.options.headers_timeout = config_.long_poll_headers_timeout;
    request.options.total_timeout = config_.long_poll_total_timeout;
  }
  std::string target = request.url;
  auto response = co_await send(std::move(request));
  if (!response) co_return response.error();
  if (response->status != 200) {
    co_return detail::status_error(target, "pull", response->status, response->body);
  }
  std::string why;
  auto messages = parse_pull_response(response->body, why);
  if (!messages) co_return detail::malformed_error(target, "pull", why);
  co_return std::move(*messages);
}

asio::awaitable<net::Result<void>> Client::post_ids(std::string target, std::string what,
                                                    std::string body) {
  auto response = co_await send(json_request("POST", target, std::move(body)));
  if (!response) co_return response.error();
  if (!is_success(response->status)) {
    co_return detail::status_error(target, what, response->status, response->body);
  }
  co_return net::Result<void>();
}

asio::awaitable<net::Result<void>> Client::acknowledge(SubscriptionPath subscription,
                                                       std::span<const std::string> ack_ids) {
  std::string target = url(subscription.subscription_name(), ":acknowledge");
  for (auto batch : split_ack_ids(ack_ids, config_.max_ack_ids_per_request)) {
    auto sent = co_await post_ids(target, "acknowledge", acknowledge_request_body(batch));
    if (!sent) co_return sent.error();
  }
  co_return net::Result<void>();
}

asio::awaitable<net::Result<void>> Client::modify_ack_deadline(SubscriptionPath subscription,
                                                               std::span<const std::string> ack_ids,
                                                               int seconds) {
  std::string target = url(subscription.subscription_name(), ":modifyAckDeadline");
  for (auto batch : split_ack_ids(ack_ids, config_.max_ack_ids_per_request)) {
    auto sent = co_await post_ids(target, "modifyAckDeadline",
                                  modify_ack_deadline_request_body(batch, seconds));
    if (!sent) co_return sent.error();
  }
  co_return net::Result<void>();
}

asio::awaitable<net::Result<bool>> Client::create(std::string target, std::string what,
                                                  std::string body) {
  auto response = co_await send(json_request("PUT", target, std::move(body)));
  if (!response) co_return response.error();
  if (response->status == 409) co_return false;  // ALREADY_EXISTS: what we wanted
  if (!is_success(response->status)) {
    co_return detail::status_error(target, what, response->status, response->body);
  }
  co_return true;
}

asio::awaitable<net::Result<bool>> Client::create_topic(SubscriptionPath path) {
  co_return co_await create(url(path.topic_name()), "create topic", "{}");
}

asio::awaitable<net::Result<bool>> Client::create_subscription(SubscriptionPath path,
                                                               int ack_deadline_seconds) {
  boost::json::object body;
  body["topic"] = path.topic_name();
  body["ackDeadlineSeconds"] = ack_deadline_seconds;
  co_return co_await create(url(path.subscription_name()), "create subscription",
                            boost::json::serialize(body));
}

asio::awaitable<net::Result<std::vector<std::string>>> Client::publish(
    SubscriptionPath path, std::span<const OutgoingMessage> messages) {
  std::string target = url(path.topic_name(), ":publish");
  auto response = co_await send(json_request("POST", target, publish_request_body(messages)));
  if (!response) co_return response.error();
  if (!is_success(response->status)) {
    co_return detail::status_error(target, "publish", response->status, response->body);
  }
  std::string why;
  auto ids = parse_publish_response(response->body, why);
  if (!ids) co_return detail::malformed_error(target, "publish", why);
  co_return std::move(*ids);
}

}  // namespace kettle::pubsub
