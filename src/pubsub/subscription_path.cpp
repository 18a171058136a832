#include "kettle/pubsub/subscription_path.hpp"

#include <vector>

namespace kettle::pubsub {
namespace {

// Characters Pub/Sub allows in topic and subscription ids, plus ':' for
// domain-scoped project ids ("example.com:project"); nothing that would need
// escaping in a URL path.
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~' || c == '+' || c == '%' || c == ':';
}

std::vector<std::string_view> split_slashes(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    auto slash = text.find('/');
    parts.push_back(text.substr(0, slash));
    if (slash == std::string_view::npos) return parts;
    text.remove_prefix(slash + 1);
  }
}

}  // namespace

std::optional<SubscriptionPath> SubscriptionPath::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string_view why) -> std::optional<SubscriptionPath> {
    if (error) {
      *error = "subscription path '" + std::string(text) +
               "' must be PROJECT/TOPIC/SUBSCRIPTION: " + std::string(why);
    }
    return std::nullopt;
  };
  auto parts = split_slashes(text);
  if (parts.size() != 3) return fail("expected three '/'-separated parts");
  for (auto part : parts) {
    if (part.empty()) return fail("a part is empty");
    for (char c : part) {
      if (!is_name_char(c)) return fail("'" + std::string(1, c) + "' is not allowed in a name");
    }
  }
  return SubscriptionPath{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

std::string SubscriptionPath::subscription_name() const {
  return "projects/" + project + "/subscriptions/" + subscription;
}

std::string SubscriptionPath::topic_name() const {
  return "projects/" + project + "/topics/" + topic;
}

std::string SubscriptionPath::str() const { return project + "/" + topic + "/" + subscription; }

}  // namespace kettle::pubsub
