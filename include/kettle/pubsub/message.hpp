// Pub/Sub messages as plain values, and the pure halves of the REST calls:
// request bodies, pull-response parsing, ack-id batching, GCS notification
// attributes. No I/O here, so all of it is testable without a server.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kettle::pubsub {

// One received message.
struct Message {
  std::string ack_id;
  std::string message_id;
  std::string data;             // the payload, base64-decoded
  bool data_malformed = false;  // the payload was not base64 (data left empty)
  std::map<std::string, std::string> attributes;
  std::string publish_time;  // RFC 3339, as Pub/Sub sent it
};

// A message to publish (tests and the demo feed the fake this way).
struct OutgoingMessage {
  std::string data;  // raw bytes; encoded on the wire
  std::map<std::string, std::string> attributes;
};

// The attributes GCS puts on its Pub/Sub notifications; each is empty when
// the message lacks it.
struct GcsNotification {
  std::string bucket_id;       // bucketId
  std::string object_id;       // objectId: the object name
  std::string event_type;      // eventType, e.g. OBJECT_FINALIZE
  std::string payload_format;  // payloadFormat: JSON_API_V1 or NONE

  static GcsNotification from(const Message& message);
  bool is_finalize() const { return event_type == "OBJECT_FINALIZE"; }
};

// Standard base64 (RFC 4648 §4); the URL-safe alphabet and missing padding are
// accepted too. nullopt for anything else (stray characters, bad length).
std::optional<std::string> decode_base64(std::string_view text);
std::string encode_base64(std::string_view bytes);

// Exact request bodies (compact JSON).
std::string pull_request_body(int max_messages, bool return_immediately);
std::string acknowledge_request_body(std::span<const std::string> ack_ids);
std::string modify_ack_deadline_request_body(std::span<const std::string> ack_ids,
                                             int ack_deadline_seconds);
std::string publish_request_body(std::span<const OutgoingMessage> messages);

// `ids` cut into consecutive runs of at most `max_per_batch` (>= 1) ids.
std::vector<std::span<const std::string>> split_ack_ids(std::span<const std::string> ids,
                                                        std::size_t max_per_batch);

// The messages of a pull response ("{}" when there are none). Messages
// without an ackId are skipped: they cannot be acknowledged. nullopt when the
// body is not a JSON object of that shape, with the reason in `error`.
std::optional<std::vector<Message>> parse_pull_response(std::string_view body, std::string& error);
// The messageIds of a publish response; nullopt and `error` as above.
std::optional<std::vector<std::string>> parse_publish_response(std::string_view body,
                                                               std::string& error);

}  // namespace kettle::pubsub
