// BigQuery REST v2: datasets, tables, tabledata.insertAll (schema checks,
// skipInvalidRows, insertId de-duplication, size limits), tabledata.list, and
// NEWLINE_DELIMITED_JSON load jobs through resumable or multipart uploads
// (gzip or plain data) that finish after --bq-job-delay-ms. Control endpoints:
//   GET /_fake/bigquery                 every table: row count and counters
//   GET /_fake/bigquery/P/D/T           the table's rows as inserted (JSON array)
//   GET /_fake/bigquery/P/D/T/stats     insertAll requests/rows/duplicates, loads, ...
// Rows live in memory for the fake's lifetime.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "bigquery_schema.hpp"
#include "service.hpp"

namespace fakegcp {

struct BqRoute;

class BigQueryService : public Service {
 public:
  using Clock = std::chrono::steady_clock;

  // Creates the datasets the config names; throws std::runtime_error on a bad one.
  explicit BigQueryService(ServiceContext& ctx);

  std::optional<std::string_view> classify(const Request& req) const override;
  Response handle(const Request& req) override;
  bool is_control(const Request& req) const override;

 private:
  struct Table {
    std::string project, dataset, id;
    boost::json::object resource;  // as created: schema, description, labels...
    Schema schema;
    // Serialized JSON objects: a load's lines as sent, insertAll rows as
    // re-serialized; compact, since benchmarks load large tables.
    std::vector<std::string> rows;
    std::uint64_t bytes = 0;
    std::int64_t created_ns = 0, modified_ns = 0;
    std::uint64_t streamed_rows = 0, streamed_bytes = 0;
    std::int64_t oldest_stream_ns = 0;
    std::unordered_set<std::string> insert_ids;  // best-effort de-duplication
  };
  struct Dataset {
    std::string project, id;
    boost::json::object resource;
    std::map<std::string, Table> tables;
  };
  // Per "P:D.T", kept across table deletion so tests see what happened.
  struct TableCounts {
    std::uint64_t insert_requests = 0, rows_received = 0, rows_inserted = 0, duplicates = 0,
                  invalid_rows = 0, rejected_requests = 0, load_jobs = 0, rows_loaded = 0,
                  truncations = 0;
    // The bytes of the last load job into the table, as uploaded (before
    // gunzip): their count and SHA-256, so tests can compare uploads.
    std::uint64_t last_load_bytes = 0;
    std::string last_load_sha256;
  };
  struct Job {
    std::string project, id, location;
    boost::json::object configuration;
    std::string state = "RUNNING";
    std::string data;  // the uploaded bytes, until the job runs
    std::uint64_t input_bytes = 0;
    std::int64_t created_ns = 0, ended_ns = 0;
    Clock::time_point run_at;
    boost::json::object status;      // once DONE: errorResult, errors
    boost::json::object load_stats;  // once DONE
  };
  struct Upload {  // a resumable upload session
    std::string project;
    boost::json::object job;  // the job resource sent when the session began
    std::string data;
    std::optional<std::string> job_key;  // set once complete
  };

  Response api(const BqRoute& route, const Request& req);
  Response control(const Request& req);
  Response create_dataset(const BqRoute& route, const Request& req);
  Response delete_dataset(const BqRoute& route, const Request& req);
  Response list_datasets(const BqRoute& route);
  Response create_table(const BqRoute& route, const Request& req);
  Response list_tables(const BqRoute& route);
  Response insert_all(const BqRoute& route, const Request& req);
  Response list_rows(const BqRoute& route, const Request& req);
  Response start_upload(const BqRoute& route, const Request& req);
  Response continue_upload(const Request& req);
  Response multipart_upload(const BqRoute& route, const Request& req);
  Response get_job(const BqRoute& route, const Request& req);

  // Callers hold mutex_.
  void settle_jobs(Clock::time_point now);
  void run_load(Job& job);
  // Accepts a checked load job; its key ("P:JOBID") goes to key_out.
  Response insert_job(const std::string& project, const boost::json::object& resource,
                      std::string data, std::string* key_out);
  Dataset* find_dataset(const std::string& project, const std::string& dataset);
  Table* find_table(const std::string& project, const std::string& dataset,
                    const std::string& table);
  boost::json::object table_resource(const Table& table) const;
  boost::json::object job_resource(const Job& job) const;
  boost::json::object counts_json(const std::string& key) const;

  ServiceContext& ctx_;
  std::mutex mutex_;                           // everything below
  std::map<std::string, Dataset> datasets_;    // "P:D"
  std::map<std::string, TableCounts> counts_;  // "P:D.T"
  std::map<std::string, Job> jobs_;            // "P:JOBID"
  std::deque<std::string> pending_jobs_;       // in submission order
  std::map<std::string, Upload> uploads_;      // by upload id
  std::uint64_t next_id_ = 0;
};

}  // namespace fakegcp
