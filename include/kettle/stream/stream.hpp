// `kettle stream` (SPEC §5): Pub/Sub notifications of finished builds ->
// database -> BigQuery tables, until the stop hour, a `stop` file, or SIGTERM.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kettle/cloud/context.hpp"
#include "kettle/net/config.hpp"

namespace kettle::stream {

struct StreamOptions {
  std::string db_path = "build.db";
  std::string buckets_path = "buckets.yaml";
  std::string poll;                        // PROJECT/TOPIC/SUBSCRIPTION
  std::string dataset;                     // PROJECT:DATASET
  std::vector<std::string> tables;         // NAME:DAYS
  std::optional<int> stop_at;              // local hour
  std::string schema_path = "schema.json"; // for tables created here (D17); skipped when absent
  std::string stop_file = "stop";          // its existence ends the loop
  int ack_extension_seconds = 180;
  int retry_delay_seconds = 10;            // redelivery delay of messages whose build failed
  // Keep pulling while messages come, this long (the reference: 7 s); short,
  // so a build reaches BigQuery within seconds under a steady flow.
  int pull_burst_seconds = 1;
  size_t rows_per_insert_round = 2000;     // rows built and sent at once per table
};

// HTTP settings for streaming: short retry budgets, because an unacknowledged
// message comes back anyway and one slow build must not delay the others.
net::Config stream_http_config();

// Returns the exit code; `stop` is set by signals.
boost::asio::awaitable<int> run_stream(cloud::Context& cloud, StreamOptions options, std::atomic<bool>& stop);

}  // namespace kettle::stream
