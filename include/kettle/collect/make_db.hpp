// `kettle make-db`: collect builds from GCS into the database (SPEC §2).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "kettle/app/core.hpp"
#include "kettle/collect/listing_plan.hpp"

namespace kettle::collect {

struct MakeDbOptions {
  std::string buckets_path = "buckets.yaml";
  bool junit = false;       // also download JUnit for builds missing it
  bool skip_gcs = false;    // skip build collection (JUnit pass only)
  int64_t build_limit = 0;  // builds per job, 0 = unlimited (D18)
  bool full_listing = false;  // list every prefix in full (no listing from a cursor)
  ListingConfig listing;      // incremental listing: safety net, recent ids
  size_t commit_every = 200;
  std::function<int64_t()> now;  // seconds since the epoch; the clock by default
};

struct MakeDbResult {
  uint64_t builds_fetched = 0;   // builds whose started/finished were read
  uint64_t builds_written = 0;   // rows inserted or replaced
  uint64_t pointers_skipped = 0; // PR pointers not read: their build is present
  uint64_t junit_builds = 0;     // builds whose JUnit was stored
  uint64_t junit_files = 0;
  uint64_t errors = 0;           // builds or listings given up after retries
  uint64_t listings_read = 0;    // listings that answered
  uint64_t listings_from_cursor = 0;  // of which started at a cursor (incremental)
  uint64_t listings_absent = 0;  // listings answered 4xx: bucket or prefix absent (SPEC §2), a warning
  uint64_t listing_errors = 0;   // listings failed after retries: what exists is unknown
  uint64_t task_failures = 0;    // collection tasks that died (an exception)
  bool interrupted = false;      // stopped by SIGTERM/SIGINT
};

// 0 unless a task died, or (when not stopped by a signal) a listing failed
// after retries or every listing answered "absent" (nothing could be read). Builds that failed alone are
// retried by the next run, and work cut short by a stop is not a failure.
int exit_code(const MakeDbResult& result);

// Throws config::ConfigError, store::StoreError on problems that stop the run.
boost::asio::awaitable<MakeDbResult> make_db(app::Core& core, MakeDbOptions options);

}  // namespace kettle::collect
