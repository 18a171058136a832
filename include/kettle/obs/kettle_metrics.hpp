// Every metric kettle exports, in one place (names, labels, help text live in
// kettle_metrics.cpp). Components update them through obs::metrics().
#pragma once

#include <string>

#include "kettle/obs/metrics.hpp"

namespace kettle::obs {

struct KettleMetrics {
  explicit KettleMetrics(Registry& registry);

  Family<Counter>& builds_collected;    // {stage}
  Family<Counter>& collect_errors;      // {stage, what}
  Family<Counter>& junit_files;         // {stage}
  Family<Counter>& junit_bytes;         // {stage}
  Family<Counter>& rows_emitted;        // make-json rows written
  Family<Counter>& http_requests;       // {api, code, outcome}, one per attempt
  Family<Counter>& http_retries;        // {api}
  Family<Histogram>& http_duration;     // {api}
  Family<Gauge>& http_in_flight;        // {api}
  Family<Gauge>& http_body_budget;      // {state}: in_use, limit
  Family<Gauge>& http_body_budget_waiting;
  Family<Counter>& pubsub_pulled;
  Family<Counter>& pubsub_acked;        // {outcome}
  Family<Counter>& pubsub_nacked;       // left for redelivery
  Family<Gauge>& junit_held_builds;     // stream rows waiting for their build's JUnit
  Family<Counter>& junit_hold_expired;  // rows sent or loaded without tests after the wait
  Family<Counter>& bigquery_rows_inserted;  // {table}
  Family<Counter>& bigquery_rows_failed;    // {table, reason}
  Family<Counter>& bigquery_load_jobs;      // {table, outcome}
  Family<Counter>& bigquery_rows_loaded;    // {table}
  Family<Gauge>& bigquery_last_insert;      // {table}
  Family<Gauge>& db_size;
  Family<Gauge>& db_filesystem_free;   // statvfs of the DB's filesystem
  Family<Gauge>& db_filesystem_size;
  Family<Gauge>& collection_paused;    // 1 while update skips collection for lack of disk space
  Family<Counter>& pruned_builds;      // builds whose JUnit retention dropped
  Family<Counter>& pruned_junit_bytes;
  Family<Gauge>& db_freelist_bytes;    // free pages in the file after the last prune
  Family<Gauge>& stage_last_progress;  // {stage}
  Family<Gauge>& stage_busy;           // {stage}
  Family<Gauge>& build_info;           // {version}
  Family<Gauge>& io_backend;           // {path, backend}: 1 once the path chose its backend

  // Exports at 0 the counters of a table (rows inserted, failed, loaded;
  // load jobs by outcome) so that rate() and increase() see its first
  // event. Counters whose labels are known in advance (stages, outcomes)
  // are exported at 0 from the start.
  void declare_table(const std::string& table);
};

// The process's registry and kettle's metrics in it.
Registry& registry();
KettleMetrics& metrics();

// Reports, at each scrape, the size of this SQLite database (with its WAL)
// and the free and total bytes of the filesystem it is on.
void watch_database_size(std::string db_path);

// The version kettle was built as (meson's project version).
const char* version();

}  // namespace kettle::obs
