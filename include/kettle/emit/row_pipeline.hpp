// Builds rows on a worker pool and hands them back in input order.
//
// A producer thread reads builds (and their JUnit blobs) from the database,
// workers decompress, parse and serialize, and the caller's thread consumes
// the lines in the order the builds were read. A fixed window of builds in
// flight bounds memory whatever the size of the database.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kettle/config/buckets.hpp"
#include "kettle/store/database.hpp"

namespace kettle::emit {

struct BuildWork {
  store::StoredBuild build;
  std::vector<store::StoredFile> files;  // zlib JUnit blobs, in path order
  uint32_t outputs = 1;                  // the producer's mark, handed back in BuiltRow
};

struct BuiltRow {
  int64_t build_id = 0;
  uint32_t outputs = 1;  // BuildWork::outputs
  std::string path;
  std::string line;   // the NDJSON line without newline; empty when error is set
  std::string error;  // why the build has no row
};

// Called with each build to process; returns false to stop early.
using BuildSink = std::function<bool(BuildWork&&)>;

struct PipelineConfig {
  unsigned threads = 0;           // workers; 0 = hardware concurrency
  size_t builds_per_thread = 16;  // in-flight window = threads * this
};

// Runs `produce` on its own thread and `consume` on this one, in order.
// Exceptions from either side stop the pipeline and are rethrown here.
void run_row_pipeline(const std::function<void(const BuildSink&)>& produce, const config::Buckets& buckets,
                      const PipelineConfig& config, const std::function<void(BuiltRow&&)>& consume);

// A build with its JUnit blobs, read from `db`: the input of one row.
BuildWork read_build_work(store::Database& db, store::StoredBuild&& build);

// Feeds `sink` the builds not yet emitted into `table` (finished at or after
// `min_finished_time` when set), in finished order, until it returns false:
// the one read loop behind make-json and the stream's inserts.
void feed_unemitted(store::Database& db, const store::IncrementalTable& table,
                    std::optional<double> min_finished_time, const BuildSink& sink);

}  // namespace kettle::emit
