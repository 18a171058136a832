// Every knob of the fake in one place, with its default beside the name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace fakegcp {

struct ServerConfig {
  std::filesystem::path root;  // objects live in root/<bucket>/<name>; empty: no such buckets
  // Generated buckets: {bucket, spec text} (synthetic_store.hpp); they shadow
  // a directory of the same name under root.
  std::vector<std::pair<std::string, std::string>> synthetic;
  std::string host = "127.0.0.1";     // loopback only: the fake is never exposed
  unsigned short port = 0;            // 0 = let the kernel pick one
  unsigned threads = 2;               // io threads running the one io_context
  std::string tls_cert;               // PEM chain; with tls_key serves https
  std::string tls_key;                // PEM private key
  std::string sa_public_key;          // PEM public key (or certificate) verifying JWT assertions
  unsigned token_ttl_seconds = 3600;  // lifetime of issued access tokens
  bool require_auth = false;          // GCS calls need a live bearer token
  std::string faults_file;            // JSON fault rules loaded at start
  unsigned latency_ms = 0;            // delay added before every request (benchmarks)
  std::uint64_t seed = 1;             // fault probability rolls are reproducible
  std::string project_id = "fake-project";  // metadata server's project
  std::size_t body_limit = 256u << 20;      // largest accepted request body
  std::size_t header_limit = 64u << 10;     // largest accepted request header block

  // OAuth refresh_token grant (authorized_user credentials): each value, when
  // set, must be sent exactly; when empty, any non-empty value is accepted.
  std::string oauth_client_id;
  std::string oauth_client_secret;
  std::string refresh_token;

  // Pub/Sub
  unsigned pull_hold_ms = 5000;      // how long a pull without returnImmediately waits
  unsigned min_ack_deadline_s = 10;  // Google's floor; tests lower it to see redelivery fast
  std::vector<std::string> topics;   // created at start: "projects/P/topics/T"
  // Created at start: {"projects/P/subscriptions/S", "projects/P/topics/T"}.
  std::vector<std::pair<std::string, std::string>> subscriptions;
  // GCS OBJECT_FINALIZE notifications: {bucket, "projects/P/topics/T"}; the
  // topic is created when missing.
  std::vector<std::pair<std::string, std::string>> notifications;

  // BigQuery
  unsigned bq_job_delay_ms = 200;     // a load job runs this long before it is DONE
  std::vector<std::string> datasets;  // created at start: "PROJECT:DATASET"
};

}  // namespace fakegcp
