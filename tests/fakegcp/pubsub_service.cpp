#include "pubsub_service.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <stdexcept>

#include "api_error.hpp"
#include "base64url.hpp"
#include "json_body.hpp"
#include "kettle/obs/log.hpp"
#include "time_text.hpp"

namespace fakegcp {
namespace json = boost::json;

namespace {

constexpr std::size_t kMaxPullMessages = 1000;     // per pull response
constexpr std::size_t kMaxPublishMessages = 1000;  // per publish request
constexpr std::size_t kMaxAckIds = 2500;           // Google limits by size; this is close enough
constexpr std::size_t kMaxRequestBytes = 10u << 20;
constexpr int kMaxAckDeadlineSeconds = 600;
constexpr int kDefaultAckDeadlineSeconds = 10;
constexpr std::string_view kApiPrefix = "/v1/";
constexpr std::string_view kControlPrefix = "/_fake/pubsub/";
constexpr std::string_view kNotificationsPath = "/_fake/notifications";
constexpr std::string_view kDeletedTopic = "_deleted-topic_";

struct PubSubRoute {
  enum class Kind {
    topic,
    publish,
    topic_subscriptions,
    subscription,
    pull,
    acknowledge,
    modify_ack_deadline
  };
  Kind kind = Kind::topic;
  std::string collection;  // "topics" or "subscriptions"
  std::string id;          // the last name segment
  std::string name;        // "projects/P/<collection>/<id>"
  std::string_view stat_kind;
};

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// "/v1/projects/P/topics/T[:publish|/subscriptions]" or
// "/v1/projects/P/subscriptions/S[:pull|:acknowledge|:modifyAckDeadline]".
// Clients may escape the ':' as %3A, so the path is decoded first.
std::optional<PubSubRoute> parse_route(std::string_view raw_path) {
  if (!raw_path.starts_with(kApiPrefix)) return std::nullopt;
  auto decoded = percent_decode(raw_path.substr(kApiPrefix.size()), false);
  if (!decoded) return std::nullopt;
  auto parts = split(*decoded, '/');
  if (parts.size() < 4 || parts.size() > 5 || parts[0] != "projects" || parts[1].empty())
    return std::nullopt;
  if (parts[2] != "topics" && parts[2] != "subscriptions") return std::nullopt;
  PubSubRoute r;
  r.collection = parts[2];
  bool topic = r.collection == "topics";
  std::string_view id = parts[3];
  std::string_view verb;
  if (auto colon = id.find(':'); colon != std::string_view::npos) {
    verb = id.substr(colon + 1);
    id = id.substr(0, colon);
  }
  if (id.empty()) return std::nullopt;
  r.id = id;
  r.name = "projects/" + std::string(parts[1]) + "/" + r.collection + "/" + r.id;
  using K = PubSubRoute::Kind;
  if (parts.size() == 5) {
    if (!topic || !verb.empty() || parts[4] != "subscriptions") return std::nullopt;
    r.kind = K::topic_subscriptions;
    r.stat_kind = "pubsub.topic";
  } else if (verb.empty()) {
    r.kind = topic ? K::topic : K::subscription;
    r.stat_kind = topic ? "pubsub.topic" : "pubsub.subscription";
  } else if (topic && verb == "publish") {
    r.kind = K::publish;
    r.stat_kind = "pubsub.publish";
  } else if (!topic && verb == "pull") {
    r.kind = K::pull;
    r.stat_kind = "pubsub.pull";
  } else if (!topic && verb == "acknowledge") {
    r.kind = K::acknowledge;
    r.stat_kind = "pubsub.acknowledge";
  } else if (!topic && verb == "modifyAckDeadline") {
    r.kind = K::modify_ack_deadline;
    r.stat_kind = "pubsub.modifyAckDeadline";
  } else {
    return std::nullopt;
  }
  return r;
}

// Google's rule for topic and subscription ids.
bool valid_resource_id(std::string_view id) {
  if (id.size() < 3 || id.size() > 255 || id.starts_with("goog")) return false;
  if (!std::isalpha(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '~' || c == '+' || c == '%';
  });
}

// "projects/P/topics/T" with a valid T.
bool valid_topic_name(std::string_view name) {
  auto parts = split(name, '/');
  return parts.size() == 4 && parts[0] == "projects" && !parts[1].empty() && parts[2] == "topics" &&
         valid_resource_id(parts[3]);
}

std::string last_segment(std::string_view name) {
  return std::string(name.substr(name.rfind('/') + 1));
}

Response not_found(std::string_view name) {
  return google_error(404, "Resource not found (resource=" + last_segment(name) + ").");
}

Response already_exists(std::string_view name) {
  return google_error(
      409, "Resource already exists in the project (resource=" + last_segment(name) + ").");
}

Response empty_ok() { return Response::json(200, json::object{}); }

// The JSON body, or a ready error response.
std::optional<json::object> read_body(const Request& req, Response& error) {
  auto text = decoded_body(req);
  if (!text) {
    error = google_error(400, "The request body is marked gzip but does not inflate.");
    return std::nullopt;
  }
  if (text->size() > kMaxRequestBytes) {
    error = google_error(400, "Request payload size exceeds the limit: 10485760 bytes.");
    return std::nullopt;
  }
  std::string message;
  auto body = parse_object(*text, message);
  if (!body) error = google_error(400, message);
  return body;
}

// The "ackIds" list, or a ready error response.
std::optional<std::vector<std::string>> read_ack_ids(const json::object& body, Response& error) {
  std::vector<std::string> ids;
  const json::value* v = body.if_contains("ackIds");
  if (v && !v->is_array()) {
    error = google_error(400, "Invalid value at 'ack_ids': expected a list of strings.");
    return std::nullopt;
  }
  if (v) {
    for (const auto& id : v->as_array()) {
      if (!id.is_string()) {
        error = google_error(400, "Invalid value at 'ack_ids': expected a list of strings.");
        return std::nullopt;
      }
      ids.emplace_back(id.as_string());
    }
  }
  if (ids.empty()) {
    error = google_error(400, "No ack ids specified.");
    return std::nullopt;
  }
  if (ids.size() > kMaxAckIds) {
    error = google_error(400, "Too many ack ids specified: " + std::to_string(ids.size()) +
                                  " (the fake's limit is " + std::to_string(kMaxAckIds) + ").");
    return std::nullopt;
  }
  return ids;
}

Response pull_response(json::array received) {
  json::object out;
  if (!received.empty()) out["receivedMessages"] = std::move(received);
  return Response::json(200, out);
}

// Attributes must map strings to strings; nullopt otherwise.
std::optional<json::object> read_attributes(const json::object& message) {
  const json::value* v = message.if_contains("attributes");
  if (!v || v->is_null()) return json::object{};
  if (!v->is_object()) return std::nullopt;
  for (const auto& kv : v->as_object())
    if (!kv.value().is_string()) return std::nullopt;
  return v->as_object();
}

}  // namespace

PubSubService::PubSubService(ServiceContext& ctx) : ctx_(ctx) {
  auto ensure_topic = [this](const std::string& topic, std::string_view flag) {
    if (!valid_topic_name(topic))
      throw std::runtime_error(std::string(flag) + " " + topic +
                               ": want projects/PROJECT/topics/TOPIC");
    topics_.try_emplace(topic, json::object{{"name", topic}});
  };
  for (const auto& topic : ctx_.config.topics) ensure_topic(topic, "--topic");
  for (const auto& [name, topic] : ctx_.config.subscriptions) {
    auto parts = split(name, '/');
    if (parts.size() != 4 || parts[0] != "projects" || parts[2] != "subscriptions" ||
        !valid_resource_id(parts[3]))
      throw std::runtime_error("--subscription " + name +
                               ": want projects/PROJECT/subscriptions/SUB=TOPIC");
    ensure_topic(topic, "--subscription");
    Subscription& sub = subscriptions_[name];
    sub.name = name;
    sub.topic = topic;
    sub.resource = {{"name", name},
                    {"topic", topic},
                    {"pushConfig", json::object{}},
                    {"ackDeadlineSeconds", kDefaultAckDeadlineSeconds},
                    {"messageRetentionDuration", "604800s"},
                    {"state", "ACTIVE"}};
  }
  for (const auto& [bucket, topic] : ctx_.config.notifications) {
    ensure_topic(topic, "--notify");
    add_notification(bucket, topic);
  }
}

std::optional<std::string_view> PubSubService::classify(const Request& req) const {
  if (is_control(req)) return "control";
  auto route = parse_route(req.path());
  if (!route) return std::nullopt;
  return route->stat_kind;
}

bool PubSubService::is_control(const Request& req) const {
  std::string_view path = req.path();
  return path.starts_with(kControlPrefix) || path == kNotificationsPath ||
         path.starts_with(std::string(kNotificationsPath) + "/");
}

Response PubSubService::handle(const Request& req) {
  if (is_control(req)) return control(req);
  // Synchronous callers cannot be held: pulls answer at once.
  return api(req, nullptr);
}

void PubSubService::handle_async(const Request& req, Reply reply) {
  if (is_control(req)) {
    reply(control(req));
    return;
  }
  Response now = api(req, &reply);
  if (reply) reply(std::move(now));  // else a held pull took it
}

void PubSubService::shutdown() {
  std::lock_guard lock(mutex_);
  for (auto& [name, sub] : subscriptions_) sub.waiters.clear();
}

// Serves one API call. A pull with nothing to deliver may take *hold (leaving
// it empty) and answer later; the returned response is then unused.
Response PubSubService::api(const Request& req, Reply* hold) {
  auto route = parse_route(req.path());
  if (!route) return google_error(404, "Not found: " + req.method + " " + std::string(req.path()));
  if (ctx_.config.require_auth && !ctx_.tokens.authorizes(req.header("authorization")))
    return google_error(401,
                        "Request had invalid authentication credentials. Expected OAuth 2 "
                        "access token, login cookie or other valid authentication credential.");
  if (!valid_resource_id(route->id))
    return google_error(400,
                        "Invalid [" + route->collection + "] name: (name=" + route->name + ")");

  PendingReplies out;
  Response response = google_error(405, "Method " + req.method + " not allowed here.");
  const std::string& method = req.method;
  using K = PubSubRoute::Kind;
  switch (route->kind) {
    case K::topic:
      if (method == "PUT") {
        response = create_topic(route->name, req);
      } else if (method == "GET") {
        std::lock_guard lock(mutex_);
        auto it = topics_.find(route->name);
        response = it == topics_.end() ? not_found(route->name) : Response::json(200, it->second);
      } else if (method == "DELETE") {
        std::lock_guard lock(mutex_);
        if (topics_.erase(route->name) == 0) {
          response = not_found(route->name);
        } else {
          // As Google does: subscriptions live on, detached.
          for (auto& [name, sub] : subscriptions_) {
            if (sub.topic != route->name) continue;
            sub.topic = kDeletedTopic;
            sub.resource["topic"] = kDeletedTopic;
          }
          response = empty_ok();
        }
      }
      break;
    case K::topic_subscriptions:
      if (method == "GET") response = topic_subscriptions(route->name);
      break;
    case K::publish:
      if (method == "POST") response = publish(route->name, req, out);
      break;
    case K::subscription:
      if (method == "PUT") {
        response = create_subscription(route->name, req);
      } else if (method == "GET") {
        std::lock_guard lock(mutex_);
        auto it = subscriptions_.find(route->name);
        response = it == subscriptions_.end() ? not_found(route->name)
                                              : Response::json(200, it->second.resource);
      } else if (method == "DELETE") {
        response = delete_subscription(route->name, out);
      }
      break;
    case K::pull:
      if (method == "POST") response = pull(route->name, req, hold);
      break;
    case K::acknowledge:
      if (method == "POST") response = acknowledge(route->name, req);
      break;
    case K::modify_ack_deadline:
      if (method == "POST") response = modify_deadline(route->name, req, out);
      break;
  }
  for (auto& [reply, r] : out) reply(std::move(r));
  return response;
}

Response PubSubService::create_topic(const std::string& name, const Request& req) {
  Response error;
  auto body = read_body(req, error);
  if (!body) return error;
  json::object resource{{"name", name}};
  if (const json::value* labels = body->if_contains("labels"); labels && labels->is_object())
    resource["labels"] = *labels;
  std::lock_guard lock(mutex_);
  if (topics_.contains(name)) return already_exists(name);
  topics_.emplace(name, resource);
  return Response::json(200, resource);
}

Response PubSubService::create_subscription(const std::string& name, const Request& req) {
  Response error;
  auto body = read_body(req, error);
  if (!body) return error;
  std::string topic = string_at(*body, "topic");
  if (!valid_topic_name(topic))
    return google_error(400, "Invalid [topics] name: (name=" + topic + ")");
  int deadline = kDefaultAckDeadlineSeconds;
  if (const json::value* v = body->if_contains("ackDeadlineSeconds")) {
    auto n = json_int(*v);
    if (!n) return google_error(400, "Invalid value at 'ack_deadline_seconds' (TYPE_INT32).");
    if (*n != 0) {
      if (*n < static_cast<std::int64_t>(ctx_.config.min_ack_deadline_s) ||
          *n > kMaxAckDeadlineSeconds)
        return google_error(400, "Invalid ack deadline given: " + std::to_string(*n) +
                                     " (it must be between " +
                                     std::to_string(ctx_.config.min_ack_deadline_s) + " and " +
                                     std::to_string(kMaxAckDeadlineSeconds) + " seconds).");
      deadline = static_cast<int>(*n);
    }
  }

  std::lock_guard lock(mutex_);
  if (subscriptions_.contains(name)) return already_exists(name);
  if (!topics_.contains(topic)) return not_found(topic);
  Subscription sub;
  sub.name = name;
  sub.topic = topic;
  sub.ack_deadline_s = deadline;
  sub.dead_letter = body->contains("deadLetterPolicy");
  sub.resource = *body;
  sub.resource["name"] = name;
  sub.resource["ackDeadlineSeconds"] = deadline;
  sub.resource.emplace("pushConfig", json::object{});
  sub.resource.emplace("messageRetentionDuration", "604800s");
  sub.resource.emplace("expirationPolicy", json::object{{"ttl", "2678400s"}});
  sub.resource["state"] = "ACTIVE";
  json::object resource = sub.resource;
  subscriptions_.emplace(name, std::move(sub));
  return Response::json(200, resource);
}

Response PubSubService::topic_subscriptions(const std::string& topic) {
  std::lock_guard lock(mutex_);
  if (!topics_.contains(topic)) return not_found(topic);
  json::array names;
  for (const auto& [name, sub] : subscriptions_)
    if (sub.topic == topic) names.emplace_back(name);
  json::object out;
  if (!names.empty()) out["subscriptions"] = std::move(names);
  return Response::json(200, out);
}

Response PubSubService::delete_subscription(const std::string& name, PendingReplies& out) {
  std::lock_guard lock(mutex_);
  auto it = subscriptions_.find(name);
  if (it == subscriptions_.end()) return not_found(name);
  for (auto& waiter : it->second.waiters)
    out.emplace_back(std::move(waiter.reply), not_found(name));
  subscriptions_.erase(it);
  return empty_ok();
}

Response PubSubService::publish(const std::string& topic, const Request& req, PendingReplies& out) {
  Response error;
  auto body = read_body(req, error);
  if (!body) return error;
  const json::value* list = body->if_contains("messages");
  std::size_t count = list && list->is_array() ? list->as_array().size() : 0;
  if (count == 0)
    return google_error(400,
                        "The value for message_count is too small. You passed 0 in the request, "
                        "but the minimum value is 1.");
  if (count > kMaxPublishMessages)
    return google_error(400, "The value for message_count is too large. You passed " +
                                 std::to_string(count) +
                                 " in the request, but the maximum value is 1000.");
  std::vector<OutgoingMessage> messages;
  for (std::size_t i = 0; i < count; ++i) {
    const json::value& item = list->as_array()[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!item.is_object()) return google_error(400, "Invalid value at '" + where + "'.");
    const json::object& m = item.as_object();
    OutgoingMessage out_message;
    if (const json::value* data = m.if_contains("data"); data && !data->is_null()) {
      auto bytes = data->is_string() ? base64_decode(data->as_string()) : std::nullopt;
      if (!bytes)
        return google_error(
            400, "Invalid value at '" + where + ".data' (TYPE_BYTES), Base64 decoding failed.");
      out_message.data = std::move(*bytes);
    }
    auto attributes = read_attributes(m);
    if (!attributes)
      return google_error(
          400, "Invalid value at '" + where + ".attributes': attribute values must be strings.");
    out_message.attributes = std::move(*attributes);
    out_message.ordering_key = string_at(m, "orderingKey");
    if (out_message.data.empty() && out_message.attributes.empty())
      return google_error(400,
                          "One or more messages in the publish request is empty. Each message "
                          "must contain either non-empty data, or at least one attribute.");
    messages.push_back(std::move(out_message));
  }
  std::lock_guard lock(mutex_);
  if (!topics_.contains(topic)) return not_found(topic);
  json::array ids;
  for (auto& id : publish_locked(topic, std::move(messages), out)) ids.emplace_back(id);
  return Response::json(200, json::object{{"messageIds", std::move(ids)}});
}

std::vector<std::string> PubSubService::publish_locked(const std::string& topic,
                                                       std::vector<OutgoingMessage> messages,
                                                       PendingReplies& out) {
  std::vector<Subscription*> targets;
  for (auto& [name, sub] : subscriptions_)
    if (sub.topic == topic) targets.push_back(&sub);
  std::vector<std::string> ids;
  std::string publish_time = rfc3339(unix_now_ns(), 3);
  for (auto& m : messages) {
    ids.push_back(std::to_string(++next_message_id_));
    for (Subscription* sub : targets) {
      Message copy{ids.back(), m.data, m.attributes, publish_time, m.ordering_key, 0, {}};
      sub->messages.emplace(++next_seq_, std::move(copy));
      ++sub->counts.published;
    }
  }
  auto now = Clock::now();
  for (Subscription* sub : targets) serve_waiters(*sub, now, out);
  return ids;
}

Response PubSubService::pull(const std::string& name, const Request& req, Reply* hold) {
  Response error;
  auto body = read_body(req, error);
  if (!body) return error;
  std::int64_t max = 0;
  if (const json::value* v = body->if_contains("maxMessages")) {
    auto n = json_int(*v);
    if (!n) return google_error(400, "Invalid value at 'max_messages' (TYPE_INT32).");
    max = *n;
  }
  if (max <= 0)
    return google_error(400, "The value for max_messages is too small. You passed " +
                                 std::to_string(max) +
                                 " in the request, but the minimum value is 1.");
  bool return_immediately = false;
  if (const json::value* v = body->if_contains("returnImmediately"); v && !v->is_null()) {
    if (!v->is_bool())
      return google_error(400, "Invalid value at 'return_immediately' (TYPE_BOOL).");
    return_immediately = v->as_bool();
  }
  auto limit = std::min(static_cast<std::size_t>(max), kMaxPullMessages);

  std::lock_guard lock(mutex_);
  auto it = subscriptions_.find(name);
  if (it == subscriptions_.end()) return not_found(name);
  Subscription& sub = it->second;
  auto now = Clock::now();
  json::array received = take_available(sub, limit, now);
  if (!received.empty() || return_immediately || !hold || ctx_.config.pull_hold_ms == 0)
    return pull_response(std::move(received));

  Waiter waiter{++next_seq_, limit, now + std::chrono::milliseconds(ctx_.config.pull_hold_ms),
                std::move(*hold)};
  *hold = nullptr;
  auto wake = std::min(waiter.hold_until, next_expiry(sub, now).value_or(waiter.hold_until));
  schedule_check(name, waiter.id, wake);
  sub.waiters.push_back(std::move(waiter));
  return pull_response({});  // unused: the waiter answers
}

json::array PubSubService::take_available(Subscription& sub, std::size_t max,
                                          Clock::time_point now) {
  json::array out;
  for (auto& [seq, m] : sub.messages) {
    if (out.size() >= max) break;
    if (m.lease && m.lease->deadline > now) continue;  // leased to another puller
    if (m.lease) {
      ++sub.counts.redelivered;
      sub.by_ack.erase(m.lease->ack_seq);  // the old ack id is dead from here on
    }
    std::uint64_t ack = ++next_seq_;
    m.lease = Lease{ack, now + std::chrono::seconds(sub.ack_deadline_s)};
    ++m.delivery_attempts;
    ++sub.counts.delivered;
    sub.by_ack[ack] = seq;

    json::object message{{"messageId", m.id}, {"publishTime", m.publish_time}};
    if (!m.data.empty()) message["data"] = base64_encode(m.data);  // proto3 omits empty bytes
    if (!m.attributes.empty()) message["attributes"] = m.attributes;
    if (!m.ordering_key.empty()) message["orderingKey"] = m.ordering_key;
    json::object item{{"ackId", ack_id(sub, ack)}, {"message", std::move(message)}};
    if (sub.dead_letter) item["deliveryAttempt"] = m.delivery_attempts;
    out.push_back(std::move(item));
  }
  return out;
}

void PubSubService::serve_waiters(Subscription& sub, Clock::time_point now, PendingReplies& out) {
  while (!sub.waiters.empty()) {
    Waiter& waiter = sub.waiters.front();
    json::array received = take_available(sub, waiter.max_messages, now);
    if (received.empty()) return;
    out.emplace_back(std::move(waiter.reply), pull_response(std::move(received)));
    sub.waiters.pop_front();
  }
}

std::optional<PubSubService::Clock::time_point> PubSubService::next_expiry(
    const Subscription& sub, Clock::time_point now) const {
  std::optional<Clock::time_point> soonest;
  for (const auto& [seq, m] : sub.messages)
    if (m.lease && m.lease->deadline > now && (!soonest || m.lease->deadline < *soonest))
      soonest = m.lease->deadline;
  return soonest;
}

void PubSubService::schedule_check(const std::string& sub, std::uint64_t waiter_id,
                                   Clock::time_point at) {
  auto delay = std::chrono::ceil<std::chrono::milliseconds>(at - Clock::now());
  if (delay.count() < 0) delay = std::chrono::milliseconds(0);
  ctx_.scheduler.run_after(delay, [this, sub, waiter_id] { check_waiter(sub, waiter_id); });
}

// A held pull's timer: answer it when messages became available (a lease ran
// out) or the hold is over; otherwise sleep until the next chance.
void PubSubService::check_waiter(const std::string& name, std::uint64_t waiter_id) {
  PendingReplies out;
  {
    std::lock_guard lock(mutex_);
    auto it = subscriptions_.find(name);
    if (it == subscriptions_.end()) return;
    Subscription& sub = it->second;
    auto waiter = std::find_if(sub.waiters.begin(), sub.waiters.end(),
                               [&](const Waiter& w) { return w.id == waiter_id; });
    if (waiter == sub.waiters.end()) return;  // already answered
    auto now = Clock::now();
    json::array received = take_available(sub, waiter->max_messages, now);
    if (!received.empty() || now >= waiter->hold_until) {
      out.emplace_back(std::move(waiter->reply), pull_response(std::move(received)));
      sub.waiters.erase(waiter);
    } else {
      auto wake = std::min(waiter->hold_until, next_expiry(sub, now).value_or(waiter->hold_until));
      schedule_check(name, waiter_id, wake);
    }
  }
  for (auto& [reply, r] : out) reply(std::move(r));
}

std::string PubSubService::ack_id(const Subscription& sub, std::uint64_t ack_seq) const {
  return base64url_encode(sub.name + "#" + std::to_string(ack_seq));
}

std::optional<std::uint64_t> PubSubService::ack_seq(const Subscription& sub,
                                                    std::string_view ack_id) const {
  auto text = base64url_decode(ack_id);
  std::string prefix = sub.name + "#";
  if (!text || !text->starts_with(prefix)) return std::nullopt;
  std::string_view digits = std::string_view(*text).substr(prefix.size());
  std::uint64_t seq = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty())
    return std::nullopt;
  return seq;
}

std::optional<std::vector<std::uint64_t>> PubSubService::ack_seqs(const Subscription& sub,
                                                                  const std::vector<std::string>& ids,
                                                                  Response& error) const {
  std::vector<std::uint64_t> seqs;
  for (const auto& id : ids) {
    auto seq = ack_seq(sub, id);
    if (!seq) {
      error = google_error(400, "You have passed an invalid ack ID to the service (ack_id=" + id + ").");
      return std::nullopt;
    }
    seqs.push_back(*seq);
  }
  return seqs;
}

std::optional<std::uint64_t> PubSubService::leased_message(Subscription& sub, std::uint64_t ack,
                                                           Clock::time_point now) {
  auto current = sub.by_ack.find(ack);
  auto message = current == sub.by_ack.end() ? sub.messages.end() : sub.messages.find(current->second);
  if (message == sub.messages.end() || !message->second.lease || message->second.lease->deadline <= now) {
    ++sub.counts.stale_acks;
    return std::nullopt;
  }
  return message->first;
}

Response PubSubService::acknowledge(const std::string& name, const Request& req) {
  Response error;
  auto body = read_body(req, error);
  if (!body) return error;
  auto ids = read_ack_ids(*body, error);
  if (!ids) return error;

  std::lock_guard lock(mutex_);
  auto it = subscriptions_.find(name);
  if (it == subscriptions_.end()) return not_found(name);
  Subscription& sub = it->second;
  auto seqs = ack_seqs(sub, *ids, error);
  if (!seqs) return error;
  auto now = Clock::now();
  for (std::uint64_t seq : *seqs) {
    // An ack after the deadline is ignored: the message will come again.
    auto message = leased_message(sub, seq, now);
    if (!message) continue;
    sub.messages.erase(*message);
    sub.by_ack.erase(seq);
    ++sub.counts.acked;
  }
  return empty_ok();
}

Response PubSubService::modify_deadline(const std::string& name, const Request& req,
                                        PendingReplies& out) {
  Response error;
  auto body = read_body(req, error);
  if (!body) return error;
  auto ids = read_ack_ids(*body, error);
  if (!ids) return error;
  std::int64_t seconds = 0;  // proto3 default: 0 is a nack
  if (const json::value* v = body->if_contains("ackDeadlineSeconds")) {
    auto n = json_int(*v);
    if (!n) return google_error(400, "Invalid value at 'ack_deadline_seconds' (TYPE_INT32).");
    seconds = *n;
  }
  if (seconds < 0 || seconds > kMaxAckDeadlineSeconds)
    return google_error(400, "Invalid ack deadline given: " + std::to_string(seconds) +
                                 " (it must be between 0 and 600 seconds).");

  std::lock_guard lock(mutex_);
  auto it = subscriptions_.find(name);
  if (it == subscriptions_.end()) return not_found(name);
  Subscription& sub = it->second;
  auto seqs = ack_seqs(sub, *ids, error);
  if (!seqs) return error;
  auto now = Clock::now();
  auto deadline = now + std::chrono::seconds(seconds);
  for (std::uint64_t seq : *seqs) {
    auto message = leased_message(sub, seq, now);
    if (!message) continue;
    sub.messages.at(*message).lease->deadline = deadline;
    ++sub.counts.deadline_changes;
  }
  if (seconds == 0) {
    serve_waiters(sub, now, out);  // nacked messages are available at once
  } else {
    // A shortened lease may now run out before a held pull's next check.
    for (const auto& waiter : sub.waiters)
      schedule_check(name, waiter.id, std::min(waiter.hold_until, deadline));
  }
  return empty_ok();
}

void PubSubService::add_notification(const std::string& bucket, const std::string& topic) {
  auto n = std::count_if(notifications_.begin(), notifications_.end(),
                         [&](const Notification& x) { return x.bucket == bucket; });
  notifications_.push_back(
      {bucket, topic,
       "projects/_/buckets/" + bucket + "/notificationConfigs/" + std::to_string(n + 1)});
}

void PubSubService::object_finalized(const FinalizedObject& object) {
  PendingReplies out;
  {
    std::lock_guard lock(mutex_);
    for (const auto& n : notifications_) {
      if (n.bucket != object.bucket) continue;
      if (!topics_.contains(n.topic)) {
        KLOG(warning) << "fakegcp: notification topic " << n.topic << " is gone; dropped "
                      << object.bucket << "/" << object.name;
        continue;
      }
      json::object attributes{{"bucketId", object.bucket},
                              {"objectId", object.name},
                              {"objectGeneration", object.generation},
                              {"eventType", "OBJECT_FINALIZE"},
                              {"eventTime", rfc3339(unix_now_ns(), 6)},
                              {"notificationConfig", n.config_name},
                              {"payloadFormat", "JSON_API_V1"}};
      std::vector<OutgoingMessage> one;
      one.push_back({json::serialize(object.resource), std::move(attributes), ""});
      publish_locked(n.topic, std::move(one), out);
    }
  }
  for (auto& [reply, r] : out) reply(std::move(r));
}

json::object PubSubService::counts_json(const Subscription& sub, Clock::time_point now) const {
  std::uint64_t leased = 0;
  for (const auto& [seq, m] : sub.messages)
    if (m.lease && m.lease->deadline > now) ++leased;
  return {{"subscription", sub.name},
          {"topic", sub.topic},
          {"published", sub.counts.published},
          {"delivered", sub.counts.delivered},
          {"redelivered", sub.counts.redelivered},
          {"acked", sub.counts.acked},
          {"outstanding", sub.messages.size()},
          {"leased", leased},
          {"stale_acks", sub.counts.stale_acks},
          {"deadline_changes", sub.counts.deadline_changes},
          {"waiting_pulls", sub.waiters.size()}};
}

Response PubSubService::control(const Request& req) {
  std::string_view path = req.path();
  bool get = req.method == "GET", post = req.method == "POST";
  Response error;
  PendingReplies out;
  Response response =
      google_error(404, "no such control endpoint: " + req.method + " " + std::string(path));

  if (path == kNotificationsPath && get) {
    std::lock_guard lock(mutex_);
    json::array list;
    for (const auto& n : notifications_)
      list.push_back(json::object{
          {"bucket", n.bucket}, {"topic", n.topic}, {"notificationConfig", n.config_name}});
    response = Response::json(200, list);
  } else if (path == kNotificationsPath && post) {
    auto body = read_body(req, error);
    if (!body) return error;
    std::string bucket = string_at(*body, "bucket"), topic = string_at(*body, "topic");
    if (bucket.empty() || !valid_topic_name(topic))
      return google_error(400, "want {\"bucket\": B, \"topic\": \"projects/P/topics/T\"}");
    std::lock_guard lock(mutex_);
    topics_.try_emplace(topic, json::object{{"name", topic}});
    add_notification(bucket, topic);
    response = Response::json(
        200, json::object{{"bucket", bucket},
                          {"topic", topic},
                          {"notificationConfig", notifications_.back().config_name}});
  } else if (path == std::string(kNotificationsPath) + "/event" && post) {
    // An arbitrary GCS event (OBJECT_DELETE, a finalize of a missing object...)
    // sent as the bucket's notification configs would send it.
    auto body = read_body(req, error);
    if (!body) return error;
    std::string bucket = string_at(*body, "bucket"), object = string_at(*body, "object");
    std::string event = string_at(*body, "eventType");
    std::string generation = string_at(*body, "generation");
    if (generation.empty()) generation = std::to_string(unix_now_ns() / 1000);
    if (bucket.empty() || object.empty() || event.empty())
      return google_error(400, "want {\"bucket\", \"object\", \"eventType\"}");
    json::object resource{{"kind", "storage#object"},
                          {"bucket", bucket},
                          {"name", object},
                          {"generation", generation}};
    if (const json::value* r = body->if_contains("resource"); r && r->is_object())
      resource = r->as_object();
    std::lock_guard lock(mutex_);
    json::array ids;
    for (const auto& n : notifications_) {
      if (n.bucket != bucket || !topics_.contains(n.topic)) continue;
      json::object attributes{{"bucketId", bucket},
                              {"objectId", object},
                              {"objectGeneration", generation},
                              {"eventType", event},
                              {"eventTime", rfc3339(unix_now_ns(), 6)},
                              {"notificationConfig", n.config_name},
                              {"payloadFormat", "JSON_API_V1"}};
      std::vector<OutgoingMessage> one;
      one.push_back({json::serialize(resource), std::move(attributes), ""});
      for (auto& id : publish_locked(n.topic, std::move(one), out)) ids.emplace_back(id);
    }
    response = Response::json(200, json::object{{"messageIds", std::move(ids)}});
  } else if (path == std::string(kControlPrefix) + "publish" && post) {
    auto body = read_body(req, error);
    if (!body) return error;
    std::string topic = string_at(*body, "topic");
    OutgoingMessage message;
    message.data = string_at(*body, "text");
    if (body->contains("data")) {
      auto bytes = base64_decode(string_at(*body, "data"));
      if (!bytes) return google_error(400, "data is not base64");
      message.data = std::move(*bytes);
    }
    auto attributes = read_attributes(*body);
    if (!attributes) return google_error(400, "attribute values must be strings");
    message.attributes = std::move(*attributes);
    message.ordering_key = string_at(*body, "orderingKey");
    std::lock_guard lock(mutex_);
    if (!topics_.contains(topic)) return not_found(topic);
    std::vector<OutgoingMessage> one;
    one.push_back(std::move(message));
    json::array ids;
    for (auto& id : publish_locked(topic, std::move(one), out)) ids.emplace_back(id);
    response = Response::json(200, json::object{{"messageIds", std::move(ids)}});
  } else if (path.starts_with(kControlPrefix)) {
    // P/S or P/S/expire-leases
    auto parts = split(path.substr(kControlPrefix.size()), '/');
    bool expire = parts.size() == 3 && parts[2] == "expire-leases" && post;
    if ((parts.size() == 2 && get) || expire) {
      std::string name =
          "projects/" + std::string(parts[0]) + "/subscriptions/" + std::string(parts[1]);
      std::lock_guard lock(mutex_);
      auto it = subscriptions_.find(name);
      if (it == subscriptions_.end()) return not_found(name);
      Subscription& sub = it->second;
      auto now = Clock::now();
      if (expire) {
        for (auto& [seq, m] : sub.messages)
          if (m.lease && m.lease->deadline > now) m.lease->deadline = now;
        serve_waiters(sub, now, out);
      }
      response = Response::json(200, counts_json(sub, now));
    }
  }
  for (auto& [reply, r] : out) reply(std::move(r));
  return response;
}

}  // namespace fakegcp
