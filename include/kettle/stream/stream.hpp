// `kettle stream` (SPEC §5): Pub/Sub notifications of finished builds ->
// database -> BigQuery tables, until the stop hour, a `stop` file, or SIGTERM.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kettle/app/core.hpp"
#include "kettle/net/retry.hpp"
#include "kettle/stream/junit_hold.hpp"

namespace kettle::stream {

struct StreamOptions {
  std::string buckets_path = "buckets.yaml";
  std::string poll;                        // PROJECT/TOPIC/SUBSCRIPTION
  std::string dataset;                     // PROJECT:DATASET
  std::vector<std::string> tables;         // NAME:DAYS
  std::optional<int> stop_at;              // local hour
  std::string stop_file = "stop";          // its existence ends the loop
  std::function<bool()> end_early;         // polled each iteration; true ends the loop (update's disk pause)
  int ack_extension_seconds = 180;
  int retry_delay_seconds = 10;            // redelivery delay of messages whose build failed
  // Keep pulling while messages come, this long (the reference: 7 s); short,
  // so a build reaches BigQuery within seconds under a steady flow.
  int pull_burst_seconds = 1;
  size_t rows_per_insert_round = 2000;     // rows built and sent at once per table
  // How long a finished build's row waits for its JUnit (--junit-hold), and
  // the memory that takes; defaults and reasons in junit_hold.hpp.
  JunitHoldConfig junit_hold;
};

// Retries while streaming: short budgets, because an unacknowledged message
// comes back anyway and one slow build must not delay the others.
net::RetryConfig stream_retry();

// Returns the exit code. Tables are created with the core's schema (D17).
boost::asio::awaitable<int> run_stream(app::Core& core, StreamOptions options);

}  // namespace kettle::stream
