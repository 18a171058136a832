// The SQLite build database (SPEC §4), file-compatible with the reference.
//
// WAL mode, busy timeout, prepared statements. Every multi-row query streams
// through a callback: memory never grows with the database.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kettle/rows/build_json.hpp"
#include "kettle/store/listing_cursor.hpp"

namespace kettle::store {

// A database failure, naming the file and what SQLite said.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// SQLITE_FULL: the file system (or a size limit) has no room left. The
// transaction that hit it is rolled back, so nothing is half-written; a later
// run can retry once space is freed.
class DiskFullError : public StoreError {
 public:
  using StoreError::StoreError;
};

// The name of an emitted-builds table. Only the generated forms exist, so no
// user text ever reaches SQL.
class IncrementalTable {
 public:
  // build_emitted (no days, or 0) / build_emitted_<%g of days, '.' -> '_'>.
  static IncrementalTable for_days(std::optional<double> days);
  // incremental_manual: scratch table for explicit paths.
  static IncrementalTable manual();
  const std::string& name() const { return name_; }

 private:
  explicit IncrementalTable(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

struct StoredBuild {
  int64_t id = 0;  // rowid
  std::string path;
  std::optional<std::string> started_json;
  std::optional<std::string> finished_json;
  std::optional<double> finished_time;  // seconds since the epoch; nullopt when unknown
};

// One window of an emission scan (SPEC §3.2): the builds finished at or
// after min_finished_time (0 when nullopt) that `table` does not hold yet.
struct EmitWindow {
  IncrementalTable table;
  std::optional<double> min_finished_time;
};

struct StoredFile {
  std::string path;
  std::string zlib_data;
};

class Database {
 public:
  // Opens (creating when allowed) and ensures the schema. Throws StoreError
  // for a missing file when !create, a corrupt file, or a non-database.
  // A new file gets auto_vacuum=INCREMENTAL, so pruning can return its space
  // (store/prune.hpp).
  explicit Database(const std::string& path, bool create = true);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }

  // Explicit transactions for batching writes.
  void begin();
  void commit();
  void rollback();

  // --- collection (SPEC §2, §4) ---
  // The row of one build, if any.
  std::optional<StoredBuild> find_build(std::string_view path);
  // SPEC §2.3: has finished.json, or started.json older than 5 days (relative to now_seconds).
  bool is_present(std::string_view path, int64_t now_seconds);
  // Every build path under `prefix` that is present by the rule of
  // is_present, in one streaming query over the primary key (PR pass, SPEC §2.1).
  void for_each_present_under(std::string_view prefix, int64_t now_seconds,
                              const std::function<void(std::string_view path)>& fn);
  // The same, limited to builds with finished.json and a finished_time of at
  // least `finished_since`, read through the finished_time index: as many
  // rows as finished since then, whatever the history.
  void for_each_finished_under(std::string_view prefix, double finished_since,
                               const std::function<void(std::string_view path)>& fn);
  // SPEC §4 upsert. Returns true when a row was written (then marked JUnit-missing).
  bool upsert_build(std::string_view path, const std::optional<std::string>& started_json,
                    const std::optional<std::string>& finished_json, const rows::FinishedTime& finished_time);
  void put_file(std::string_view path, std::string_view zlib_data);
  // Builds marked as missing JUnit, with their paths. Stop early by returning false.
  // Read in pages with no query open during the callback, so it may write and commit.
  void for_each_junit_missing(const std::function<bool(int64_t id, const std::string& path)>& fn);
  void clear_junit_missing(int64_t build_id);
  // Whether the build is marked as missing JUnit (one primary-key lookup).
  bool junit_missing(int64_t build_id);

  // --- emission (SPEC §3.2) ---
  // Builds not in `table` with finished_time >= min_finished_time (0 when nullopt),
  // in finished_time order. Stop early by returning false. Streams one query:
  // the callback may read (for_each_file_of) but should not write the build table.
  void for_each_unemitted(const IncrementalTable& table, std::optional<double> min_finished_time,
                          const std::function<bool(StoredBuild&&)>& fn);
  // The builds that at least one of `windows` (at most 32, distinct tables)
  // wants, in one streaming query, in the order for_each_unemitted gives each
  // window (finished_time, then rowid); `wanted` has bit i set when
  // windows[i] wants the build. Same callback rules as for_each_unemitted.
  static constexpr size_t kMaxEmitWindows = 32;
  void for_each_unemitted_in(const std::vector<EmitWindow>& windows,
                             const std::function<bool(StoredBuild&&, uint32_t wanted)>& fn);
  // Exactly these paths (those not in `table`), in finished_time order.
  void for_each_build_in(const IncrementalTable& table, const std::vector<std::string>& paths,
                         const std::function<bool(StoredBuild&&)>& fn);
  // JUnit rows of a build: path between "<build>/" and "<build>/\x7f" (SPEC D7), in path order.
  void for_each_file_of(std::string_view build_path, const std::function<bool(StoredFile&&)>& fn);
  // min(finished_time) of the builds recorded in `table`; nullopt when empty or
  // missing (the table is not created). Old TEXT values are read as numbers; text
  // that is not a number counts as 0, so --assert-oldest asks for a rebuild.
  std::optional<double> oldest_emitted(const IncrementalTable& table);
  void reset_emitted(const IncrementalTable& table);
  // Records ids with a new generation number (max(gen)+1, or 0) and returns it,
  // in one transaction (its own, unless the caller has one open).
  int64_t insert_emitted(const IncrementalTable& table, const std::vector<int64_t>& ids);

  // --- listing state (make-db's incremental listing, table listing_cursor) ---
  // One prefix's row, by primary key.
  std::optional<ListingCursor> listing_cursor(std::string_view prefix);
  // The rows of the prefixes strictly below `under`, in prefix order (one streaming query).
  void for_each_listing_cursor_under(std::string_view under, const std::function<void(const ListingCursor&)>& fn);
  void put_listing_cursor(const ListingCursor& row);

  sqlite3* handle() { return db_; }

 private:
  void use_incremental_vacuum_if_new();
  void ensure_listing_cursor_table();
  void ensure_incremental(const IncrementalTable& table);
  bool table_exists(const IncrementalTable& table);
  void close();
  sqlite3_stmt* prepare(const std::string& sql);

  std::string path_;
  sqlite3* db_ = nullptr;
  struct Statements;
  std::unique_ptr<Statements> stmts_;
};

}  // namespace kettle::store
