// The pure half of a BigQuery load job: the job resource, the resumable
// upload's chunk bookkeeping (Content-Range, 308 Range answers), and job
// status parsing. No I/O.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kettle/bigquery/table_ref.hpp"

namespace kettle::bigquery {

enum class WriteDisposition {
  truncate,  // WRITE_TRUNCATE: the file replaces the table's rows (--replace)
  append,    // WRITE_APPEND
};

// {"projectId", "datasetId", "tableId"}: how BigQuery's resources name a table.
boost::json::object table_reference(const TableRef& table);

struct LoadOptions {
  // Fields as in schema.json; empty: the table's own schema.
  boost::json::array schema{};
  WriteDisposition write_disposition = WriteDisposition::append;
  int max_bad_records = 0;
  // Empty: a fresh one (make_load_job_id). A fixed id makes a retried load
  // fail as a duplicate instead of loading twice.
  std::string job_id{};
  // Called after each chunk the server kept and each job status answer
  // (liveness: a long load is not a stall).
  std::function<void()> on_progress{};
};

// One entry of a job's status.errorResult / status.errors.
struct JobError {
  std::string reason;
  std::string location;
  std::string message;
  std::string str() const;  // "reason at location: message"
};

// A load job as BigQuery reported it.
struct LoadResult {
  std::string job_id;
  std::string location;                  // where the job runs ("US"); needed to poll it
  bool done = false;                     // status.state == "DONE"
  std::optional<JobError> error_result;  // set: the job failed
  std::vector<JobError> errors;          // every error, skipped bad records included
  std::int64_t output_rows = 0;          // statistics.load.outputRows
  std::int64_t bad_records = 0;          // statistics.load.badRecords
  bool ok() const { return done && !error_result; }
  // One line for logs: the failure and the first few errors, or the counts.
  std::string summary() const;
};

// "kettle_load_<table>_<UTC yyyymmddHHMMSS>_<random hex>", only characters
// BigQuery allows in a job id.
std::string make_load_job_id(const TableRef& table);

// The job resource that starts the upload: NEWLINE_DELIMITED_JSON (gzip or
// not: BigQuery detects compression itself) into `table`.
std::string load_job_body(const TableRef& table, const LoadOptions& options,
                          std::string_view job_id);

// A job resource (the upload's last answer, or jobs.get). nullopt when the
// body is not a job resource, with the reason in `error`.
std::optional<LoadResult> parse_job(std::string_view body, std::string& error);

// The resumable-upload protocol moves bytes in multiples of 256 KiB.
inline constexpr std::size_t kUploadQuantum = std::size_t{256} << 10;
// `requested` rounded down to a multiple of kUploadQuantum, at least one.
std::size_t upload_chunk_bytes(std::size_t requested);

// Which bytes of a file of `total` bytes to send next, given what the server
// said it holds. Starts at byte 0.
class UploadProgress {
 public:
  UploadProgress(std::uint64_t total, std::size_t chunk_bytes);

  struct Chunk {
    std::uint64_t offset = 0;
    std::size_t size = 0;
    std::string content_range;  // "bytes a-b/total", or "bytes */0" for an empty file
  };
  // The chunk starting at the first byte the server does not hold.
  Chunk next_chunk() const;
  // The header of a status query: "bytes */total".
  std::string status_query_range() const;

  // A 308 answer: `range` is its Range header ("bytes=0-N": N+1 bytes held;
  // absent: none). The next chunk starts there, even if that is before what
  // was sent. False when it makes no sense (malformed, not from byte 0, or
  // beyond the file).
  bool on_incomplete(std::optional<std::string_view> range);

  std::uint64_t offset() const { return offset_; }
  std::uint64_t total() const { return total_; }

 private:
  std::uint64_t total_;
  std::size_t chunk_bytes_;
  std::uint64_t offset_ = 0;
};

}  // namespace kettle::bigquery
