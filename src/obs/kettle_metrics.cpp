#include "kettle/obs/kettle_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "kettle/obs/filesystem.hpp"

#ifndef KETTLE_VERSION
#define KETTLE_VERSION "unknown"
#endif

namespace kettle::obs {

KettleMetrics::KettleMetrics(Registry& r)
    : builds_collected(r.counter("kettle_builds_collected_total",
                                 "Builds (started.json, finished.json) written to the database.", {"stage"})),
      collect_errors(r.counter("kettle_collect_errors_total",
                               "Reads given up after retries, by what: listing (jobs unseen), pointer, build, junit "
                               "(retried by a later run); task: a collection task that failed.",
                               {"stage", "what"})),
      junit_files(r.counter("kettle_junit_files_total", "JUnit files downloaded and stored.", {"stage"})),
      junit_bytes(r.counter("kettle_junit_bytes_total", "Bytes of JUnit XML downloaded, before stripping.",
                            {"stage"})),
      rows_emitted(r.counter("kettle_rows_emitted_total", "BigQuery rows written by make-json.")),
      http_requests(r.counter("kettle_http_requests_total",
                              "HTTP attempts (retries included) by API, status code (none: no response) and outcome.",
                              {"api", "code", "outcome"})),
      http_retries(r.counter("kettle_http_retries_total", "HTTP attempts made after a backoff.", {"api"})),
      http_duration(r.histogram("kettle_http_request_duration_seconds",
                                "Duration of one HTTP attempt, connect to last body byte.", {"api"},
                                latency_buckets())),
      http_in_flight(r.gauge("kettle_http_requests_in_flight", "HTTP attempts on the wire now.", {"api"})),
      http_body_budget(r.gauge("kettle_http_body_budget_bytes",
                               "Response body bytes held in memory (in_use) against the process-wide budget "
                               "(limit).",
                               {"state"})),
      http_body_budget_waiting(r.gauge("kettle_http_body_budget_waiting",
                                       "HTTP attempts waiting for room in the response body budget.")),
      pubsub_pulled(r.counter("kettle_pubsub_messages_pulled_total", "Pub/Sub messages pulled.")),
      pubsub_acked(r.counter("kettle_pubsub_messages_acked_total",
                             "Pub/Sub messages acknowledged, by why: irrelevant, collected, missing_finished.",
                             {"outcome"})),
      pubsub_nacked(r.counter("kettle_pubsub_messages_nacked_total",
                              "Pub/Sub messages left for redelivery because their build could not be collected.")),
      junit_held_builds(r.gauge("kettle_junit_held_builds",
                                "Finished builds whose stream row waits for their JUnit (at most --junit-hold).")),
      junit_hold_expired(r.counter("kettle_junit_hold_expired_total",
                                   "Finished builds whose row went without tests: their JUnit was still missing "
                                   "after --junit-hold (stream) or two days after they finished (update's load).")),
      bigquery_rows_inserted(r.counter("kettle_bigquery_rows_inserted_total",
                                       "Rows BigQuery accepted through insertAll, per table.", {"table"})),
      bigquery_rows_failed(r.counter("kettle_bigquery_rows_failed_total",
                                     "Rows not inserted: rejected (recorded, not retried) or retried (sent again).",
                                     {"table", "reason"})),
      bigquery_load_jobs(r.counter("kettle_bigquery_load_jobs_total", "BigQuery load jobs by outcome, per table.",
                                   {"table", "outcome"})),
      bigquery_rows_loaded(r.counter("kettle_bigquery_rows_loaded_total",
                                     "Rows BigQuery load jobs wrote, per table.", {"table"})),
      bigquery_last_insert(r.gauge("kettle_last_bigquery_insert_timestamp_seconds",
                                   "When rows last reached the table (insertAll or load job), per table.",
                                   {"table"})),
      db_size(r.gauge("kettle_db_size_bytes", "Size of the SQLite database file and its WAL.")),
      db_filesystem_free(r.gauge("kettle_db_filesystem_free_bytes",
                                 "Bytes free to kettle on the database's filesystem (statvfs f_bavail).")),
      db_filesystem_size(r.gauge("kettle_db_filesystem_size_bytes", "Size of the database's filesystem in bytes.")),
      collection_paused(r.gauge("kettle_collection_paused",
                                "1 while update skips collection and loads because the database's file system has "
                                "less than --min-free available, else 0.")),
      pruned_builds(r.counter("kettle_junit_pruned_builds_total",
                              "Builds whose stored JUnit retention dropped (prune, update --retain-junit).")),
      pruned_junit_bytes(r.counter("kettle_junit_pruned_bytes_total",
                                   "Stored (compressed) JUnit bytes retention dropped.")),
      db_freelist_bytes(r.gauge("kettle_db_freelist_bytes",
                                "Free pages in the database file after the last prune, reused by later writes.")),
      stage_last_progress(r.gauge("kettle_stage_last_progress_timestamp_seconds",
                                  "When the stage last made progress.", {"stage"})),
      stage_busy(r.gauge("kettle_stage_busy", "1 while the stage has work, else 0.", {"stage"})),
      build_info(r.gauge("kettle_build_info", "Always 1; labels name the build.", {"version"})),
      io_backend(r.gauge("kettle_io_backend_info",
                         "Always 1; labels name the I/O backend (io_uring or syscalls) of a file path.",
                         {"path", "backend"})) {
  build_info.with({KETTLE_VERSION}).set(1);
  rows_emitted.get();
  http_body_budget_waiting.get();
  collection_paused.get();
  pruned_builds.get();
  pruned_junit_bytes.get();
  pubsub_pulled.get();
  pubsub_nacked.get();
  junit_held_builds.get();
  junit_hold_expired.get();
  // Every label value these counters take, so increase() counts from the
  // first event instead of missing it.
  for (const char* stage : {"collect", "stream"}) {
    builds_collected.with({stage});
    junit_files.with({stage});
    junit_bytes.with({stage});
  }
  for (const char* what : {"listing", "pointer", "build", "junit", "task"}) collect_errors.with({"collect", what});
  for (const char* what : {"build", "junit"}) collect_errors.with({"stream", what});
  for (const char* outcome : {"irrelevant", "collected", "missing_finished"}) pubsub_acked.with({outcome});
}

void KettleMetrics::declare_table(const std::string& table) {
  bigquery_rows_inserted.with({table});
  bigquery_rows_loaded.with({table});
  for (const char* reason : {"rejected", "retried"}) bigquery_rows_failed.with({table, reason});
  for (const char* outcome : {"succeeded", "failed"}) bigquery_load_jobs.with({table, outcome});
}

namespace {

double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  if (!(statm >> pages_total >> pages_resident)) return 0;
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

Registry& make_registry() {
  static Registry r;
  // The standard process metrics every Prometheus client exports.
  auto& rss = r.gauge("process_resident_memory_bytes", "Resident memory size in bytes.").get();
  auto& cpu = r.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.").get();
  r.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.")
      .get()
      .set_to_current_time();
  r.on_collect([&rss, &cpu] {
    rss.set(resident_bytes());
    double now = cpu_seconds();
    if (now > cpu.value()) cpu.inc(now - cpu.value());  // scrapes may overlap: never step back
  });
  return r;
}

}  // namespace

Registry& registry() {
  static Registry& r = make_registry();
  return r;
}

KettleMetrics& metrics() {
  static KettleMetrics m(registry());
  return m;
}

void watch_database_size(std::string db_path) {
  Gauge& size = metrics().db_size.get();
  Gauge& fs_free = metrics().db_filesystem_free.get();
  Gauge& fs_size = metrics().db_filesystem_size.get();
  registry().on_collect([&size, &fs_free, &fs_size, path = std::move(db_path)] {
    std::error_code ec;
    double bytes = 0;
    for (const auto& p : {path, path + "-wal"}) {
      auto n = std::filesystem::file_size(p, ec);
      if (!ec) bytes += static_cast<double>(n);
    }
    size.set(bytes);
    if (auto space = filesystem_space(path)) {
      fs_free.set(static_cast<double>(space->free_bytes));
      fs_size.set(static_cast<double>(space->size_bytes));
    }
  });
}

const char* version() { return KETTLE_VERSION; }

}  // namespace kettle::obs
