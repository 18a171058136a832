// Pub/Sub pull and publish responses, base64 payloads, and GCS notification
// attributes through the stream's filter (SPEC §5, D8), from any bytes.
#include "check.hpp"
#include "kettle/config/buckets.hpp"
#include "kettle/pubsub/message.hpp"
#include "kettle/stream/classify.hpp"

using namespace kettle;

namespace {

// Entries with and without exclude_jobs, so notifications reach the regexes.
const config::Buckets& buckets() {
  static const config::Buckets parsed = config::Buckets::parse(
      "gs://kubernetes-jenkins/logs/:\n"
      "  prefix: ''\n"
      "  exclude_jobs:\n"
      "    - ^ci-excluded$\n"
      "    - flaky.*\\d\n"
      "gs://kubernetes-jenkins/pr-logs/:\n"
      "  prefix: 'pr:'\n",
      "buckets.yaml");
  return parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = fuzz::as_text(data, size);

  std::string error;
  if (const auto messages = pubsub::parse_pull_response(body, error)) {
    FUZZ_CHECK(messages->size() <= size);
    for (const auto& message : *messages) {
      FUZZ_CHECK(!message.ack_id.empty());
      FUZZ_CHECK(!message.data_malformed || message.data.empty());
      const auto notification = pubsub::GcsNotification::from(message);
      const auto classified = stream::classify(message, buckets());
      if (classified.relevant) {
        FUZZ_CHECK(notification.is_finalize());
        FUZZ_CHECK(classified.build_path + "/finished.json" ==
                   "gs://" + notification.bucket_id + "/" + notification.object_id);
      }
    }
  } else {
    FUZZ_CHECK(!error.empty());
  }
  error.clear();
  if (!pubsub::parse_publish_response(body, error)) FUZZ_CHECK(!error.empty());

  // Payloads: what decodes, re-encodes and decodes to the same bytes; any
  // bytes survive a round trip.
  if (const auto decoded = pubsub::decode_base64(body))
    FUZZ_CHECK(pubsub::decode_base64(pubsub::encode_base64(*decoded)) == decoded);
  FUZZ_CHECK(pubsub::decode_base64(pubsub::encode_base64(body)) == body);
  return 0;
}
