#include "kettle/pubsub/message.hpp"
#include "kettle/net/base64.hpp"

#include <array>
#include <boost/json.hpp>
#include <cstdint>

namespace kettle::pubsub {
namespace json = boost::json;

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0-63 for a base64 digit of either alphabet, -1 for anything else.
constexpr std::array<std::int8_t, 256> make_digit_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  table[static_cast<unsigned char>('-')] = 62;
  table[static_cast<unsigned char>('_')] = 63;
  return table;
}
constexpr auto kDigits = make_digit_table();

const json::string* string_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? &value->get_string() : nullptr;
}

std::string string_or_empty(const json::object& object, std::string_view key) {
  const auto* value = string_field(object, key);
  return value ? std::string(*value) : std::string();
}

json::array id_array(std::span<const std::string> ids) {
  json::array array;
  array.reserve(ids.size());
  for (const auto& id : ids) array.emplace_back(id);
  return array;
}

std::optional<Message> parse_message(const json::value& received) {
  if (!received.is_object()) return std::nullopt;
  const auto& outer = received.get_object();
  Message message;
  message.ack_id = string_or_empty(outer, "ackId");
  if (message.ack_id.empty()) return std::nullopt;
  const auto* inner_value = outer.if_contains("message");
  if (!inner_value || !inner_value->is_object()) return message;
  const auto& inner = inner_value->get_object();
  message.message_id = string_or_empty(inner, "messageId");
  message.publish_time = string_or_empty(inner, "publishTime");
  if (const auto* data = string_field(inner, "data")) {
    if (auto decoded = decode_base64(*data)) {
      message.data = std::move(*decoded);
    } else {
      message.data_malformed = true;
    }
  }
  if (const auto* attributes = inner.if_contains("attributes");
      attributes && attributes->is_object()) {
    for (const auto& [key, value] : attributes->get_object()) {
      if (value.is_string()) message.attributes.emplace(key, value.get_string());
    }
  }
  return message;
}

}  // namespace

GcsNotification GcsNotification::from(const Message& message) {
  auto get = [&](const char* key) {
    auto it = message.attributes.find(key);
    return it == message.attributes.end() ? std::string() : it->second;
  };
  return GcsNotification{get("bucketId"), get("objectId"), get("eventType"), get("payloadFormat")};
}

std::optional<std::string> decode_base64(std::string_view text) {
  std::size_t padded_length = text.size();
  for (int i = 0; i < 2 && !text.empty() && text.back() == '='; ++i) text.remove_suffix(1);
  bool had_padding = padded_length != text.size();
  if (text.size() % 4 == 1) return std::nullopt;
  if (had_padding && padded_length % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    auto digit = kDigits[static_cast<unsigned char>(c)];
    if (digit < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(digit);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xFF));
    }
  }
  return out;
}

std::string encode_base64(std::string_view bytes) { return net::base64_encode(bytes, net::Base64::standard); }

std::string pull_request_body(int max_messages, bool return_immediately) {
  json::object body;
  body["maxMessages"] = max_messages;
  // Deprecated by Google but still honoured, and the only way to drain what
  // is queued without waiting for the long poll to time out.
  body["returnImmediately"] = return_immediately;
  return json::serialize(body);
}

std::string acknowledge_request_body(std::span<const std::string> ack_ids) {
  json::object body;
  body["ackIds"] = id_array(ack_ids);
  return json::serialize(body);
}

std::string modify_ack_deadline_request_body(std::span<const std::string> ack_ids,
                                             int ack_deadline_seconds) {
  json::object body;
  body["ackIds"] = id_array(ack_ids);
  body["ackDeadlineSeconds"] = ack_deadline_seconds;
  return json::serialize(body);
}

std::string publish_request_body(std::span<const OutgoingMessage> messages) {
  json::array list;
  for (const auto& message : messages) {
    json::object entry;
    entry["data"] = encode_base64(message.data);
    if (!message.attributes.empty()) {
      json::object attributes;
      for (const auto& [key, value] : message.attributes) attributes[key] = value;
      entry["attributes"] = std::move(attributes);
    }
    list.emplace_back(std::move(entry));
  }
  json::object body;
  body["messages"] = std::move(list);
  return json::serialize(body);
}

std::vector<std::span<const std::string>> split_ack_ids(std::span<const std::string> ids,
                                                        std::size_t max_per_batch) {
  if (max_per_batch == 0) max_per_batch = 1;
  std::vector<std::span<const std::string>> batches;
  for (std::size_t begin = 0; begin < ids.size(); begin += max_per_batch) {
    batches.push_back(ids.subspan(begin, std::min(max_per_batch, ids.size() - begin)));
  }
  return batches;
}

std::optional<std::vector<Message>> parse_pull_response(std::string_view body, std::string& error) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) {
    error = "pull response is not a JSON object";
    return std::nullopt;
  }
  std::vector<Message> messages;
  const auto* received = doc.get_object().if_contains("receivedMessages");
  if (!received) return messages;
  if (!received->is_array()) {
    error = "pull response: receivedMessages is not an array";
    return std::nullopt;
  }
  for (const auto& entry : received->get_array()) {
    if (auto message = parse_message(entry)) messages.push_back(std::move(*message));
  }
  return messages;
}

std::optional<std::vector<std::string>> parse_publish_response(std::string_view body,
                                                               std::string& error) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  const json::value* ids = nullptr;
  if (!ec && doc.is_object()) ids = doc.get_object().if_contains("messageIds");
  if (!ids || !ids->is_array()) {
    error = "publish response has no messageIds array";
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& id : ids->get_array()) {
    if (id.is_string()) out.emplace_back(id.get_string());
  }
  return out;
}

}  // namespace kettle::pubsub
