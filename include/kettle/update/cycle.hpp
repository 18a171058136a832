// `kettle update` (SPEC §6): collect, rebuild or extend the tables with load
// jobs, then stream until the stop hour; forever, or one cycle with --once.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace kettle::update {

struct UpdateOptions {
  std::string db_path = "build.db";
  std::string buckets_path = "buckets.yaml";
  std::string buckets_url;                // refreshed into buckets_path each cycle when set
  std::string dataset = "kubernetes-public:k8s_infra_kettle";
  std::string subscription;               // PROJECT/TOPIC/SUBSCRIPTION (SUBSCRIPTION_PATH)
  bool prod = false;                      // DEPLOYMENT=prod: day/week/all, else one staging table
  int64_t build_limit = 0;                // BUILD_LIMIT
  std::string schema_path = "schema.json";
  std::string work_dir = ".";             // where the NDJSON files go
  bool once = false;                      // one cycle, without the stream phase
  int stop_at = 1;                        // the stream phase ends when this local hour begins
  size_t threads = 32;
  int max_bad_records = 1000;
  int idle_seconds = 600;                 // pause between cycles when there is nothing to stream
  double request_timeout = 0;             // seconds per HTTP attempt (--request-timeout); 0: defaults
};

// 0 when every step of the last cycle succeeded.
int run_update(const UpdateOptions& options, std::atomic<bool>& stop);

}  // namespace kettle::update
