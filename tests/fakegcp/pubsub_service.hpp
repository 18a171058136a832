// Pub/Sub REST v1 (topics, subscriptions, publish, pull with long polling,
// acknowledge, modifyAckDeadline with redelivery after the deadline), GCS
// OBJECT_FINALIZE notifications, and its control endpoints:
//   POST /_fake/notifications              {"bucket","topic"}; GET lists them
//   POST /_fake/notifications/event {"bucket","object","eventType"[,"generation","resource"]} POST
//   /_fake/pubsub/publish             {"topic","data"(base64)|"text","attributes"} GET
//   /_fake/pubsub/P/S                 counts of subscription projects/P/subscriptions/S POST
//   /_fake/pubsub/P/S/expire-leases   every lease runs out now (redelivery without waiting)
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "gcs_service.hpp"
#include "service.hpp"

namespace fakegcp {

class PubSubService : public Service {
 public:
  using Clock = std::chrono::steady_clock;

  // Creates the topics, subscriptions and notification configs the config
  // names; throws std::runtime_error naming a bad one.
  explicit PubSubService(ServiceContext& ctx);

  std::optional<std::string_view> classify(const Request& req) const override;
  Response handle(const Request& req) override;
  void handle_async(const Request& req, Reply reply) override;
  bool is_control(const Request& req) const override;
  void shutdown() override;

  // Publishes OBJECT_FINALIZE to the topics configured for the object's bucket.
  void object_finalized(const FinalizedObject& object);

 private:
  struct Lease {
    std::uint64_t ack_seq = 0;
    Clock::time_point deadline;
  };
  struct Message {
    std::string id;
    std::string data;  // decoded bytes
    boost::json::object attributes;
    std::string publish_time;
    std::string ordering_key;
    unsigned delivery_attempts = 0;
    std::optional<Lease> lease;  // set once delivered; an expired lease means available
  };
  struct Waiter {  // a held pull
    std::uint64_t id = 0;
    std::size_t max_messages = 0;
    Clock::time_point hold_until;
    Reply reply;
  };
  struct Counts {
    std::uint64_t published = 0, delivered = 0, redelivered = 0, acked = 0, stale_acks = 0,
                  deadline_changes = 0;
  };
  struct Subscription {
    std::string name;
    std::string topic;
    boost::json::object resource;  // as created, with defaults filled in
    int ack_deadline_s = 10;
    bool dead_letter = false;                   // Google reports deliveryAttempt only then
    std::map<std::uint64_t, Message> messages;  // by arrival, unacked
    std::unordered_map<std::uint64_t, std::uint64_t> by_ack;  // current ack seq -> message seq
    std::deque<Waiter> waiters;
    Counts counts;
  };
  struct Notification {
    std::string bucket, topic, config_name;
  };
  struct OutgoingMessage {
    std::string data;
    boost::json::object attributes;
    std::string ordering_key;
  };
  // Replies decided under the lock and sent after it is released.
  using PendingReplies = std::vector<std::pair<Reply, Response>>;

  Response api(const Request& req, Reply* hold);
  Response control(const Request& req);
  Response create_topic(const std::string& name, const Request& req);
  Response create_subscription(const std::string& name, const Request& req);
  Response publish(const std::string& topic, const Request& req, PendingReplies& out);
  Response pull(const std::string& sub, const Request& req, Reply* hold);
  Response acknowledge(const std::string& sub, const Request& req);
  Response modify_deadline(const std::string& sub, const Request& req, PendingReplies& out);
  Response topic_subscriptions(const std::string& topic);
  Response delete_subscription(const std::string& sub, PendingReplies& out);

  // Callers hold mutex_.
  std::vector<std::string> publish_locked(const std::string& topic,
                                          std::vector<OutgoingMessage> messages,
                                          PendingReplies& out);
  boost::json::array take_available(Subscription& sub, std::size_t max, Clock::time_point now);
  void serve_waiters(Subscription& sub, Clock::time_point now, PendingReplies& out);
  std::optional<Clock::time_point> next_expiry(const Subscription& sub,
                                               Clock::time_point now) const;
  void schedule_check(const std::string& sub, std::uint64_t waiter_id, Clock::time_point at);
  void check_waiter(const std::string& sub, std::uint64_t waiter_id);
  std::string ack_id(const Subscription& sub, std::uint64_t ack_seq) const;
  std::optional<std::uint64_t> ack_seq(const Subscription& sub, std::string_view ack_id) const;
  // The ack seqs of `ids`; nullopt with a 400 in `error` for an id not issued by `sub`.
  std::optional<std::vector<std::uint64_t>> ack_seqs(const Subscription& sub, const std::vector<std::string>& ids,
                                                     Response& error) const;
  // The seq of the message an ack seq still leases; nullopt (counted as a
  // stale ack) when the ack id is old or its lease has expired.
  std::optional<std::uint64_t> leased_message(Subscription& sub, std::uint64_t ack, Clock::time_point now);
  void add_notification(const std::string& bucket, const std::string& topic);
  boost::json::object counts_json(const Subscription& sub, Clock::time_point now) const;

  ServiceContext& ctx_;
  std::mutex mutex_;                                   // everything below
  std::map<std::string, boost::json::object> topics_;  // full name -> resource
  std::map<std::string, Subscription> subscriptions_;  // full name -> state
  std::vector<Notification> notifications_;
  std::uint64_t next_message_id_ = 0;
  std::uint64_t next_seq_ = 0;  // message copies, ack ids and waiters alike
};

}  // namespace fakegcp
