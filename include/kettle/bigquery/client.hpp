// The BigQuery REST v2 API: tables (get, insert, ensure), streaming inserts
// (tabledata.insertAll with split-and-retry, SPEC D16), and load jobs through
// the resumable upload protocol.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kettle/auth/credentials.hpp"
#include "kettle/bigquery/insert.hpp"
#include "kettle/bigquery/load.hpp"
#include "kettle/bigquery/table_ref.hpp"
#include "kettle/net/error.hpp"
#include "kettle/net/http_client.hpp"
#include "kettle/net/url.hpp"

namespace kettle::bigquery {

struct ClientConfig {
  std::string base_url = "https://bigquery.googleapis.com";
  InsertLimits insert{};  // per insertAll request (500 rows, 9 MB)
  // Answers we parse: insertAll lists errors per row, a job resource every
  // bad record (up to max_bad_records of them).
  std::size_t response_body_limit = std::size_t{32} << 20;
  // Upload chunk size, rounded down to a multiple of 256 KiB (the protocol's
  // unit); the file is read one chunk at a time, through io_uring when the
  // probe allows it (io::backend_for("upload_read")), else with pread.
  std::size_t upload_chunk_bytes = std::size_t{8} << 20;
  // Where pread runs when io_uring is unavailable; unset: on the network
  // thread. A blocking read there would stall every other request (8 MiB
  // from a cold disk).
  std::optional<boost::asio::any_io_executor> file_executor{};
  // The answer to the last chunk comes once the job exists, which may take a while.
  net::Duration upload_chunk_headers_timeout = std::chrono::seconds(120);
  net::Duration upload_chunk_total_timeout = std::chrono::minutes(5);
  // Chunk sends in a row that fail (each followed by a status query and a
  // resume) before the load gives up.
  int max_upload_recoveries = 5;
  // Job polling: the wait starts here and doubles up to the maximum.
  net::Duration poll_initial_interval = std::chrono::milliseconds(500);
  net::Duration poll_max_interval = std::chrono::seconds(5);
  // From the start of the upload to the job's DONE.
  net::Duration load_deadline = std::chrono::hours(1);
};

// The endpoint from the environment: BIGQUERY_EMULATOR_HOST (plain HTTP, no
// credentials), else KETTLE_BIGQUERY_ENDPOINT, else Google's. `emulator`
// tells whether to skip auth.
using Endpoint = net::Endpoint;
Endpoint endpoint_from_env();

struct TableInfo {
  std::int64_t num_rows = 0;
  std::int64_t num_bytes = 0;
  std::int64_t last_modified_ms = 0;  // milliseconds since the epoch
};

// What insert_all did with each row, in input order.
struct InsertReport {
  std::vector<RowOutcome> rows;
  // Set when a request failed beyond the HTTP layer's retries (transient
  // errors that persisted, 403/404, malformed answers): its rows and all
  // after it are pending.
  std::optional<net::Error> error;
  std::size_t requests = 0;  // insertAll requests sent, splits included
  std::size_t count(RowStatus status) const;
};

// Failures are net::Errors naming the URL: transport errors and retryable
// statuses that outlasted the HTTP layer's retries, other unexpected statuses
// (kind http_status, with Google's error message), and answers that are not
// the JSON expected (kind protocol). Used from the HttpClient's thread. Pass
// TableRef/LoadOptions as named variables: g++ 12 miscompiles braced
// temporaries inside a co_await expression.
class Client {
 public:
  // `credentials` may be null (emulator: no Authorization header).
  Client(net::HttpClient& http, std::shared_ptr<auth::Credentials> credentials,
         ClientConfig config = {});

  // nullopt when the table does not exist (404).
  boost::asio::awaitable<net::Result<std::optional<TableInfo>>> get_table(TableRef table);
  // Creates the table with `schema` (schema.json's field array); true when
  // created, false when it already existed (409).
  boost::asio::awaitable<net::Result<bool>> insert_table(TableRef table, boost::json::array schema);
  // get_table, then insert_table when missing.
  boost::asio::awaitable<net::Result<void>> ensure_table(TableRef table, boost::json::array schema);

  // Streams `rows` (skipInvalidRows) in batches within config.insert. A
  // request refused as a whole (400, 413) is split in halves and retried; a
  // single row refused that way is rejected with the server's words. Rows
  // whose JSON is not an object are rejected without sending. `rows` must
  // stay alive until the call completes.
  boost::asio::awaitable<InsertReport> insert_all(TableRef table, std::span<const InsertRow> rows);

  // Loads the NDJSON file (gzip or not) at `file_path` with a load job and
  // waits for it to finish (config.load_deadline). A job that ran and failed
  // is a LoadResult with error_result, not an Error.
  boost::asio::awaitable<net::Result<LoadResult>> load(TableRef table, std::string file_path,
                                                       LoadOptions options);

  const ClientConfig& config() const { return config_; }

 private:
  struct Upload;
  boost::asio::awaitable<net::Result<net::Response>> send(net::Request request);
  boost::asio::awaitable<net::Result<void>> insert_rows(std::string url,
                                                        std::span<const InsertRow> rows,
                                                        std::size_t first_index,
                                                        InsertReport& report);
  boost::asio::awaitable<net::Result<std::string>> start_upload(const TableRef& table,
                                                                const LoadOptions& options,
                                                                std::uint64_t total);
  boost::asio::awaitable<net::Result<LoadResult>> upload_file(Upload& upload);
  boost::asio::awaitable<net::Result<LoadResult>> wait_for_job(
      const TableRef& table, LoadResult job, std::chrono::steady_clock::time_point deadline,
      std::function<void()> on_progress);
  std::string url(const std::string& target) const;

  net::HttpClient& http_;
  std::shared_ptr<auth::Credentials> credentials_;
  ClientConfig config_;
};

}  // namespace kettle::bigquery
