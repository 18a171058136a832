// Retention: drop the stored JUnit (the `file` rows) of builds that finished
// long ago, so the database stops growing.
//
// A build is pruned when
//   - its finished_time is a number older than the cutoff (now - older_than),
//   - and, when the table build_emitted exists (make-json without --days, as
//     staging runs), it is recorded there.
// The cutoff must be longer than every --days window in use (the D of each
// build_emitted_<D> table): windowed runs never select such a build again,
// so no row they emit changes. incremental_manual (explicit paths) is ignored.
//
// The build row stays, so make-db never collects the build again; its
// build_junit_missing mark is cleared, so its JUnit is not fetched again
// either; and its id goes to build_junit_pruned, so the next prune skips it
// without reading its row. Work is done in short write transactions with a
// pause after each, so a concurrent writer (stream) never waits long.
//
// Freed pages go to SQLite's freelist and are reused by later writes: the file
// stops growing. A database in auto_vacuum=INCREMENTAL mode (every new one)
// also gives them back to the file system (PRAGMA incremental_vacuum).
//
// A later `make-json --reset-emitted` without --days, or make-json with
// explicit paths, emits pruned builds again, without their tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kettle::store {

class Database;

// Limits of one prune, documented where they are chosen.
struct PruneLimits {
  // A write transaction ends after this many builds or this long, whichever
  // comes first; a writer waiting on the lock (busy_timeout 30 s) waits at
  // most about that long.
  size_t builds_per_transaction = 500;
  std::chrono::milliseconds transaction_time{250};
  // After each transaction the lock is left free for as long as it was held
  // (at least pause_min), so waiting writers get it.
  std::chrono::milliseconds pause_min{5};
  // Pages PRAGMA incremental_vacuum returns per transaction (16 MiB at 4 KiB).
  int vacuum_pages_per_step = 4096;
};

struct PruneOptions {
  std::chrono::seconds older_than{0};  // the cutoff is now - older_than
  std::function<int64_t()> now;        // seconds since the epoch; the clock by default
  std::function<bool()> should_stop;   // polled between transactions
  // Prune only builds recorded in build_emitted, and nothing while it does not
  // exist yet: update's staging cycle, whose table is built from it.
  bool require_all_table = false;
  PruneLimits limits{};
};

struct PruneResult {
  int64_t cutoff = 0;          // builds that finished before this (epoch seconds) were pruned
  uint64_t builds = 0;         // builds pruned now (JUnit dropped, marks cleared)
  uint64_t files = 0;          // file rows deleted
  uint64_t junit_bytes = 0;    // their stored (zlib) bytes
  uint64_t marks_cleared = 0;  // build_junit_missing marks removed
  uint64_t transactions = 0;
  bool incremental_vacuum = false;  // auto_vacuum=INCREMENTAL: pages returned to the file system
  uint64_t page_size = 0;
  uint64_t pages_before = 0, pages_after = 0;
  uint64_t freelist_pages = 0;  // free pages left in the file, reused by later writes
  uint64_t file_bytes_before = 0, file_bytes_after = 0;  // the database file (without its WAL)
  bool interrupted = false;  // stopped by should_stop; the next prune goes on
};

// A --days window in use: the table build_emitted_<D> and its D.
struct WindowTable {
  std::string name;
  double days = 0;
};

// The cutoff is not longer than a window in use, or a window table's name
// cannot be read. A configuration error: the message names the table.
class CutoffError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Every build_emitted_<D> table. Throws CutoffError for one whose D cannot be read.
std::vector<WindowTable> window_tables(Database& db);
// Throws CutoffError unless older_than is longer than every window in use.
void check_cutoff(Database& db, std::chrono::seconds older_than);

// Prunes `db_path` (which must exist). Throws CutoffError, StoreError
// (DiskFullError when even the deletion finds no room).
PruneResult prune_junit(const std::string& db_path, const PruneOptions& options);

// A retention period as flags take it: "90d", "1d12h", "72h", "90s".
std::string format_period(std::chrono::seconds period);

// One log line's worth: what was dropped, the file size, the freelist.
std::string describe(const PruneResult& result);

}  // namespace kettle::store
