// `kettle make-json`: rows of builds not yet emitted, as NDJSON (SPEC §3.2).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kettle/emit/load_hold.hpp"

namespace kettle::emit {

struct MakeJsonOptions {
  std::string db_path = "build.db";
  std::optional<double> days;           // window and table build_emitted_<days>
  bool reset_emitted = false;
  std::optional<double> assert_oldest;  // days; emit nothing, only check
  std::string buckets_path = "buckets.yaml";
  std::optional<std::string> output;    // nullopt: standard output
  bool gzip = false;
  std::vector<std::string> paths;       // explicit builds (table incremental_manual)
  unsigned threads = 0;                 // row workers; 0 = all cores
  size_t max_row_bytes = 100'000'000;   // larger rows are skipped (SPEC §3.2)
  std::function<bool()> should_stop;    // polled between builds (SIGTERM)
  std::function<int64_t()> now;         // seconds since the epoch; the clock by default
  // `update`'s load (the scan of several outputs only): rows of builds whose
  // JUnit is missing are left out, unmarked, while load_hold.hpp says hold.
  // nullopt, as in make-json: every row, exactly as the reference emits it.
  std::optional<LoadHoldConfig> junit_hold;
};

struct MakeJsonResult {
  int exit_code = 0;
  uint64_t rows = 0;          // lines written
  uint64_t skipped = 0;       // builds without a row (errors, too large)
  uint64_t held = 0;          // builds left out to wait for their JUnit (MakeJsonOptions::junit_hold)
  std::optional<int64_t> gen; // generation recorded, when rows were emitted
};

// Throws store::StoreError, config::ConfigError, OutputError on failures that
// stop the command (nothing is marked emitted then).
MakeJsonResult run_make_json(const MakeJsonOptions& options);

// One output of a scan: what MakeJsonOptions says of one output.
struct MakeJsonOutput {
  std::optional<double> days;         // window and table build_emitted_<days>
  bool reset_emitted = false;
  std::optional<std::string> output;  // nullopt: standard output
  bool gzip = false;
};

// Several make-json runs in one pass over the DB: each build is read and its
// row built once, then written to every output whose window holds it and
// whose table does not. Each output, its file and its table end exactly as a
// run of make-json with that output's options would leave them, run at the
// same `now` (outputs with reset_emitted drop their tables first). `options`
// gives the DB, buckets, workers, row limit, stop and clock; its per-output
// fields (days, reset_emitted, output, gzip, paths, assert_oldest) are not
// used; its junit_hold leaves out the rows of builds waiting for their JUnit. The outputs' tables must differ. Results are in the order of
// `outputs`. A failure marks nothing in any table.
std::vector<MakeJsonResult> run_make_json(const MakeJsonOptions& options, const std::vector<MakeJsonOutput>& outputs);

}  // namespace kettle::emit
