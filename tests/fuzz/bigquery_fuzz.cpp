// BigQuery answers from any bytes: insertAll responses (per-row outcomes),
// job resources (load jobs, jobs.get) and a resumable upload's Range header.
#include "check.hpp"
#include "kettle/bigquery/insert.hpp"
#include "kettle/bigquery/load.hpp"

using namespace kettle;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body = fuzz::as_text(data, size);

  for (const std::size_t rows : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{500}}) {
    std::string error;
    const auto outcomes = bigquery::parse_insert_all_response(body, rows, error);
    if (!outcomes) {
      FUZZ_CHECK(!error.empty());
      continue;
    }
    FUZZ_CHECK(outcomes->size() == rows);
    for (const auto& outcome : *outcomes)
      FUZZ_CHECK(outcome.status != bigquery::RowStatus::accepted || outcome.reason.empty());
  }

  std::string error;
  if (const auto job = bigquery::parse_job(body, error)) {
    (void)job->summary();
    FUZZ_CHECK(!job->ok() || job->done);
  } else {
    FUZZ_CHECK(!error.empty());
  }

  (void)bigquery::is_json_object(body);

  // A 308 answer's Range header: the next chunk stays inside the file.
  for (const std::uint64_t total : {std::uint64_t{0}, std::uint64_t{1000}, std::uint64_t{1} << 40}) {
    bigquery::UploadProgress progress(total, bigquery::kUploadQuantum);
    if (progress.on_incomplete(body)) {
      FUZZ_CHECK(progress.offset() <= total);
      const auto chunk = progress.next_chunk();
      FUZZ_CHECK(chunk.offset == progress.offset());
      FUZZ_CHECK(chunk.offset + chunk.size <= total);
    }
  }
  return 0;
}
