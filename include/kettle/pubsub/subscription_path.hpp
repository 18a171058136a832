// The --poll / SUBSCRIPTION_PATH form "project/topic/subscription" and the
// resource names Pub/Sub's REST API wants.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kettle::pubsub {

struct SubscriptionPath {
  std::string project;
  std::string topic;
  std::string subscription;

  // Exactly three non-empty segments of name characters (letters, digits and
  // - _ . ~ + % :, the last for domain-scoped projects). nullopt otherwise,
  // with the reason (naming `text`) in `error` when given.
  static std::optional<SubscriptionPath> parse(std::string_view text, std::string* error = nullptr);

  std::string subscription_name() const;  // projects/P/subscriptions/S
  std::string topic_name() const;         // projects/P/topics/T
  std::string str() const;                // P/T/S, as parsed
};

}  // namespace kettle::pubsub
