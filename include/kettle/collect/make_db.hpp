// `kettle make-db`: collect builds from GCS into the database (SPEC §2).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "kettle/net/config.hpp"

namespace kettle::collect {

struct MakeDbOptions {
  std::string db_path = "build.db";
  std::string buckets_path = "buckets.yaml";
  bool junit = false;       // also download JUnit for builds missing it
  bool skip_gcs = false;    // skip build collection (JUnit pass only)
  size_t threads = 32;      // HTTP requests in flight
  int64_t build_limit = 0;  // builds per job, 0 = unlimited (D18)
  size_t commit_every = 200;
  net::Config http;         // deadlines, retries; max_in_flight comes from threads
  std::function<int64_t()> now;  // seconds since the epoch; the clock by default
  // Polled a few times a second; true stops listing and lets the builds in
  // flight finish, as SIGTERM does (for callers that handle signals themselves).
  std::function<bool()> should_stop;
};

struct MakeDbResult {
  uint64_t builds_fetched = 0;   // builds whose started/finished were read
  uint64_t builds_written = 0;   // rows inserted or replaced
  uint64_t junit_builds = 0;     // builds whose JUnit was stored
  uint64_t junit_files = 0;
  uint64_t errors = 0;           // builds or listings given up after retries
  uint64_t listing_errors = 0;   // of those, listings: what exists is unknown (exit 1)
  bool interrupted = false;      // stopped by SIGTERM/SIGINT
};

// Throws config::ConfigError, store::StoreError on problems that stop the run.
// A build that cannot be fetched is logged and counted, and the run goes on
// (a later run picks it up).
MakeDbResult run_make_db(const MakeDbOptions& options);

}  // namespace kettle::collect
