#include "kettle/store/database.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "kettle/obs/log.hpp"
#include "sqlite_call.hpp"

namespace kettle::store {
namespace {

// SPEC §4: the reference schema, byte for byte, so either program opens the other's file.
constexpr const char* kSchema =
    "create table if not exists build(gcs_path primary key, started_json, finished_json, "
    "finished_time);"
    "create table if not exists file(path string primary key, data);"
    "create table if not exists build_junit_missing(build_id integer primary key);"
    "create index if not exists build_finished_time_idx on build(finished_time);";

// Writers of other processes (make-db while make-json reads) wait this long for the lock.
constexpr int kBusyTimeoutMs = 30'000;
// SPEC §2.3: a build whose started.json is older than this and has no finished.json is done.
constexpr double kStartedGiveUpSeconds = 5 * 24 * 60 * 60;
// for_each_junit_missing reads this many marks per page, then runs the callbacks.
constexpr int kJunitMissingPage = 1000;

constexpr const char* kManualTable = "incremental_manual";

using detail::exec;
using detail::step;
using detail::StmtPtr;

// Table names come only from IncrementalTable, but %g may yield '+' or '-'
// (1e+20), so they are always quoted.
std::string quoted(const IncrementalTable& table) { return "\"" + table.name() + "\""; }

// Binds text that outlives the statement's next step (callers reset before returning).
void bind_text(sqlite3_stmt* s, int i, std::string_view text) {
  sqlite3_bind_text64(s, i, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

void bind_optional_text(sqlite3_stmt* s, int i, const std::optional<std::string>& text) {
  if (text) {
    bind_text(s, i, *text);
  } else {
    sqlite3_bind_null(s, i);
  }
}

void bind_finished_time(sqlite3_stmt* s, int i, const rows::FinishedTime& t) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          sqlite3_bind_null(s, i);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          sqlite3_bind_int64(s, i, v);
        } else {
          sqlite3_bind_double(s, i, v);
        }
      },
      t);
}

// Text or blob column as bytes: the length comes from SQLite, so NULs survive.
std::string column_bytes(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  if (p == nullptr || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<size_t>(n));
}

std::optional<std::string> column_optional_text(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  const unsigned char* p = sqlite3_column_text(s, i);  // converts a stray blob/number to text
  int n = sqlite3_column_bytes(s, i);
  if (p == nullptr || n <= 0) return std::string();
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

StoredBuild read_build(sqlite3_stmt* s) {
  StoredBuild b;
  b.id = sqlite3_column_int64(s, 0);
  b.path = column_bytes(s, 1);
  b.started_json = column_optional_text(s, 2);
  b.finished_json = column_optional_text(s, 3);
  // A number, or text that starts with one (old reference rows); NULL: none.
  if (sqlite3_column_type(s, 4) != SQLITE_NULL) b.finished_time = sqlite3_column_double(s, 4);
  return b;
}

// A finite number written as text ("1.5e9", " 100 "), as a timestamp string may be.
std::optional<double> parse_number(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

// A column holding a number, or text that reads as one.
std::optional<double> column_number(sqlite3_stmt* s, int i) {
  switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
      return static_cast<double>(sqlite3_column_int64(s, i));
    case SQLITE_FLOAT:
      return sqlite3_column_double(s, i);
    case SQLITE_TEXT: {
      auto text = column_optional_text(s, i);
      return text ? parse_number(*text) : std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

std::string format_days(double days) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", days);  // C's %g is Python's %g for finite values
  std::string out(buf);
  for (char& c : out) {
    if (c == '.') c = '_';
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- IncrementalTable

IncrementalTable IncrementalTable::for_days(std::optional<double> days) {
  if (!days || *days == 0) return IncrementalTable("build_emitted");
  if (!std::isfinite(*days) || *days < 0) {
    throw std::invalid_argument("days must be a finite number >= 0, not " + std::to_string(*days));
  }
  return IncrementalTable("build_emitted_" + format_days(*days));
}

IncrementalTable IncrementalTable::manual() { return IncrementalTable(kManualTable); }

// ---------------------------------------------------------------- statements

// Hot statements, prepared once per connection and reused (reset + clear bindings).
struct Database::Statements {
  StmtPtr find_build;
  StmtPtr is_present;
  StmtPtr same_build;
  StmtPtr replace_build;
  StmtPtr mark_junit_missing;
  StmtPtr put_file;
  StmtPtr junit_missing_page;
  StmtPtr clear_junit_missing;
  StmtPtr is_junit_missing;
  StmtPtr drop_orphan_marks;
  StmtPtr files_of;
  StmtPtr table_exists;
  StmtPtr get_listing_cursor;
  StmtPtr put_listing_cursor;
};

namespace {

// Runs one statement: the cached one, or a fresh copy when the cached one is
// still being stepped by an outer caller (a callback that queries again).
// Resets and clears bindings on scope exit so bound pointers never dangle.
class Use {
 public:
  Use(sqlite3* db, sqlite3_stmt* cached) : stmt_(cached) {
    if (sqlite3_stmt_busy(cached)) {
      sqlite3_stmt* copy = nullptr;
      int rc = sqlite3_prepare_v2(db, sqlite3_sql(cached), -1, &copy, nullptr);
      own_.reset(copy);
      if (rc != SQLITE_OK) {
        throw StoreError(std::string("cannot prepare ") + sqlite3_sql(cached) + ": " +
                         sqlite3_errmsg(db));
      }
      stmt_ = copy;
    }
  }
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
  StmtPtr own_;
};

// Opens a write transaction when none is open, so multi-statement writes are
// atomic in autocommit mode too; inside the caller's transaction it does nothing.
class WriteScope {
 public:
  explicit WriteScope(Database& db) : db_(db), owns_(sqlite3_get_autocommit(db.handle()) != 0) {
    if (owns_) db_.begin();
  }
  ~WriteScope() {
    if (owns_ && !done_) {
      try {
        db_.rollback();
      } catch (const StoreError& e) {
        KLOG(error) << e.what();
      }
    }
  }
  WriteScope(const WriteScope&) = delete;
  WriteScope& operator=(const WriteScope&) = delete;
  void commit() {
    if (owns_) db_.commit();
    done_ = true;
  }

 private:
  Database& db_;
  bool owns_;
  bool done_ = false;
};

}  // namespace

// ---------------------------------------------------------------- errors and steps

namespace {

bool is_not_a_database(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT;
}

}  // namespace

// ---------------------------------------------------------------- open / close

Database::Database(const std::string& path, bool create) : path_(path) {
  std::error_code ec;
  if (!create && !std::filesystem::exists(path, ec)) {
    throw StoreError("database file " + path +
                     " does not exist (run make-db first, or check --db / KETTLE_DB)");
  }
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw StoreError("cannot open database file " + path + ": " + msg +
                     " (check the path and its permissions)");
  }
  sqlite3_extended_result_codes(db_, 1);
  try {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // The first read of the file: a non-database fails here with NOTADB.
    use_incremental_vacuum_if_new();
    exec(path_, db_, "PRAGMA journal_mode=WAL");
    exec(path_, db_, "PRAGMA synchronous=NORMAL");
    exec(path_, db_, kSchema);
    stmts_ = std::make_unique<Statements>();
    ensure_listing_cursor_table();
    auto& s = *stmts_;
    s.find_build.reset(
        prepare("select rowid, gcs_path, started_json, finished_json, finished_time from build where gcs_path=?"));
    // json_valid guards json_extract, which raises an SQL error on malformed text.
    s.is_present.reset(prepare(
        "select finished_json is not null, "
        "case when json_valid(started_json) then json_extract(started_json, '$.timestamp') end "
        "from build where gcs_path=?"));
    // IS, not =: a NULL started/finished equals a NULL one (SPEC §4 "byte-equal").
    s.same_build.reset(prepare(
        "select 1 from build where gcs_path=? and started_json IS ? and finished_json IS ?"));
    s.replace_build.reset(prepare("insert or replace into build values(?,?,?,?)"));
    s.mark_junit_missing.reset(prepare("insert or ignore into build_junit_missing values(?)"));
    s.put_file.reset(prepare("insert or replace into file values(?,?)"));
    s.junit_missing_page.reset(
        prepare("select j.build_id, b.gcs_path from build_junit_missing j join build b on b.rowid "
                "= j.build_id "
                "where j.build_id > ? order by j.build_id limit ?"));
    s.clear_junit_missing.reset(prepare("delete from build_junit_missing where build_id=?"));
    s.is_junit_missing.reset(prepare("select 1 from build_junit_missing where build_id=?"));
    s.drop_orphan_marks.reset(
        prepare("delete from build_junit_missing where build_id not in (select rowid from build)"));
    s.files_of.reset(
        prepare("select path, data from file where path between ? and ? order by path"));
    s.table_exists.reset(prepare("select 1 from sqlite_master where type='table' and name=?"));
  } catch (const StoreError& e) {
    int code = sqlite3_extended_errcode(db_);
    close();
    if (is_not_a_database(code)) {
      throw StoreError("database file " + path + " is not a usable SQLite database (" + e.what() +
                       "); move it aside or restore a backup, then run make-db to rebuild it");
    }
    throw;
  } catch (...) {
    close();
    throw;
  }
}

Database::~Database() { close(); }

void Database::use_incremental_vacuum_if_new() {
  // Only a file without pages: auto_vacuum is fixed once the first table
  // exists, and an existing file (the reference's) is never converted here.
  if (detail::query_int(path_, db_, "PRAGMA page_count") == 0)
    exec(path_, db_, "PRAGMA auto_vacuum=INCREMENTAL");
}

void Database::close() {
  stmts_.reset();  // statements first: close_v2 would otherwise keep the handle alive
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

sqlite3_stmt* Database::prepare(const std::string& sql) {
  return detail::prepare(path_, db_, sql).release();
}

void Database::begin() { exec(path_, db_, "begin immediate"); }

void Database::commit() { exec(path_, db_, "commit"); }

void Database::rollback() {
  // Nothing to undo (SQLite may already have rolled back after an error).
  if (sqlite3_get_autocommit(db_)) return;
  exec(path_, db_, "rollback");
}

// ---------------------------------------------------------------- collection

std::optional<StoredBuild> Database::find_build(std::string_view path) {
  Use q(db_, stmts_->find_build.get());
  bind_text(q.get(), 1, path);
  if (!step(path_, db_, q.get())) return std::nullopt;
  return read_build(q.get());
}

bool Database::is_present(std::string_view path, int64_t now_seconds) {
  Use q(db_, stmts_->is_present.get());
  bind_text(q.get(), 1, path);
  if (!step(path_, db_, q.get())) return false;
  if (sqlite3_column_int(q.get(), 0) != 0) return true;  // has finished.json
  // An unusable started timestamp counts as recent: the build is fetched again.
  auto started = column_number(q.get(), 1);
  return started && static_cast<double>(now_seconds) - *started > kStartedGiveUpSeconds;
}

void Database::for_each_present_under(std::string_view prefix, int64_t now_seconds,
                                      const std::function<void(std::string_view path)>& fn) {
  StmtPtr q(prepare(
      "select gcs_path, finished_json is not null, "
      "case when finished_json is null and json_valid(started_json) then json_extract(started_json, '$.timestamp') end "
      "from build where gcs_path between ? and ?"));
  const std::string low = std::string(prefix) + '\x01';
  const std::string high = std::string(prefix) + '\x7f';
  bind_text(q.get(), 1, low);
  bind_text(q.get(), 2, high);
  while (step(path_, db_, q.get())) {
    bool present = sqlite3_column_int(q.get(), 1) != 0;
    if (!present) {
      auto started = column_number(q.get(), 2);
      present = started && static_cast<double>(now_seconds) - *started > kStartedGiveUpSeconds;
    }
    if (present) {
      auto* text = reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 0));
      fn(std::string_view(text ? text : "", static_cast<size_t>(sqlite3_column_bytes(q.get(), 0))));
    }
  }
}

void Database::for_each_finished_under(std::string_view prefix, double finished_since,
                                       const std::function<void(std::string_view path)>& fn) {
  // "+gcs_path": the range must not pick the primary key, which would read
  // every build under the prefix; the finished_time index reads the recent ones.
  StmtPtr q(prepare(
      "select gcs_path from build where finished_time >= ? and finished_json is not null "
      "and +gcs_path between ? and ?"));
  const std::string low = std::string(prefix) + '\x01';
  const std::string high = std::string(prefix) + '\x7f';
  sqlite3_bind_double(q.get(), 1, finished_since);
  bind_text(q.get(), 2, low);
  bind_text(q.get(), 3, high);
  while (step(path_, db_, q.get())) {
    auto* text = reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 0));
    fn(std::string_view(text ? text : "", static_cast<size_t>(sqlite3_column_bytes(q.get(), 0))));
  }
}

bool Database::upsert_build(std::string_view path, const std::optional<std::string>& started_json,
                            const std::optional<std::string>& finished_json,
                            const rows::FinishedTime& finished_time) {
  {
    Use same(db_, stmts_->same_build.get());
    bind_text(same.get(), 1, path);
    bind_optional_text(same.get(), 2, started_json);
    bind_optional_text(same.get(), 3, finished_json);
    if (step(path_, db_, same.get())) return false;  // unchanged: no write, no new JUnit fetch
  }
  WriteScope tx(*this);
  {
    Use ins(db_, stmts_->replace_build.get());
    bind_text(ins.get(), 1, path);
    bind_optional_text(ins.get(), 2, started_json);
    bind_optional_text(ins.get(), 3, finished_json);
    bind_finished_time(ins.get(), 4, finished_time);
    step(path_, db_, ins.get());
  }
  {
    Use mark(db_, stmts_->mark_junit_missing.get());
    sqlite3_bind_int64(mark.get(), 1, sqlite3_last_insert_rowid(db_));
    step(path_, db_, mark.get());
  }
  tx.commit();
  return true;
}

void Database::put_file(std::string_view path, std::string_view zlib_data) {
  Use q(db_, stmts_->put_file.get());
  bind_text(q.get(), 1, path);
  // A blob, as the reference stores zlib bytes; "" keeps empty data a blob, not NULL.
  sqlite3_bind_blob64(q.get(), 2, zlib_data.empty() ? "" : zlib_data.data(), zlib_data.size(),
                      SQLITE_STATIC);
  step(path_, db_, q.get());
}

void Database::for_each_junit_missing(
    const std::function<bool(int64_t id, const std::string& path)>& fn) {
  {
    // Marks of replaced rows point nowhere; the reference drops them here too.
    Use cleanup(db_, stmts_->drop_orphan_marks.get());
    step(path_, db_, cleanup.get());
  }
  // Paged by id, with no statement open during callbacks: they may clear marks,
  // store files and commit without disturbing the scan.
  int64_t after = std::numeric_limits<int64_t>::min();
  std::vector<std::pair<int64_t, std::string>> page;
  for (;;) {
    page.clear();
    {
      Use q(db_, stmts_->junit_missing_page.get());
      sqlite3_bind_int64(q.get(), 1, after);
      sqlite3_bind_int(q.get(), 2, kJunitMissingPage);
      while (step(path_, db_, q.get()))
        page.emplace_back(sqlite3_column_int64(q.get(), 0), column_bytes(q.get(), 1));
    }
    for (const auto& [id, path] : page) {
      if (!fn(id, path)) return;
    }
    if (page.size() < static_cast<size_t>(kJunitMissingPage)) return;
    after = page.back().first;
  }
}

void Database::clear_junit_missing(int64_t build_id) {
  Use q(db_, stmts_->clear_junit_missing.get());
  sqlite3_bind_int64(q.get(), 1, build_id);
  step(path_, db_, q.get());
}

bool Database::junit_missing(int64_t build_id) {
  Use q(db_, stmts_->is_junit_missing.get());
  sqlite3_bind_int64(q.get(), 1, build_id);
  return step(path_, db_, q.get());
}

// ---------------------------------------------------------------- emission

void Database::ensure_incremental(const IncrementalTable& table) {
  std::string sql =
      "create table if not exists " + quoted(table) + "(build_id integer primary key, gen)";
  exec(path_, db_, sql.c_str());
}

void Database::for_each_unemitted(const IncrementalTable& table,
                                  std::optional<double> min_finished_time,
                                  const std::function<bool(StoredBuild&&)>& fn) {
  for_each_unemitted_in({EmitWindow{table, min_finished_time}},
                        [&fn](StoredBuild&& b, uint32_t) { return fn(std::move(b)); });
}

void Database::for_each_unemitted_in(const std::vector<EmitWindow>& windows,
                                     const std::function<bool(StoredBuild&&, uint32_t wanted)>& fn) {
  if (windows.empty()) return;
  if (windows.size() > kMaxEmitWindows) {
    throw std::invalid_argument("at most " + std::to_string(kMaxEmitWindows) + " emission windows, not " +
                                std::to_string(windows.size()));
  }
  for (size_t i = 0; i < windows.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (windows[i].table.name() == windows[j].table.name())
        throw std::invalid_argument("emission window table " + windows[i].table.name() + " given twice");
    }
    ensure_incremental(windows[i].table);
  }
  // Parameter 1 is the widest window; window i uses parameter i + 2.
  // NULL finished_time fails ">=" and is never selected (SPEC §3.2). Old reference
  // rows with TEXT finished_time sort after every number, so they pass any window.
  // The index on finished_time gives (finished_time, rowid) order without a sort;
  // rowid is named so that ties come out the same for one window or several.
  std::string wanted;
  std::string any;
  for (size_t i = 0; i < windows.size(); ++i) {
    const std::string test = "(finished_time >= ?" + std::to_string(i + 2) +
                             " and rowid not in (select build_id from " + quoted(windows[i].table) + "))";
    wanted += ", " + test;
    any += (i ? " or " : "") + test;
  }
  StmtPtr q(prepare("select rowid, gcs_path, started_json, finished_json, finished_time" + wanted +
                    " from build where finished_time >= ?1 and (" + any + ") order by finished_time, rowid"));
  double widest = windows[0].min_finished_time.value_or(0);
  for (size_t i = 0; i < windows.size(); ++i) {
    const double min = windows[i].min_finished_time.value_or(0);
    widest = std::min(widest, min);
    sqlite3_bind_double(q.get(), static_cast<int>(i + 2), min);
  }
  sqlite3_bind_double(q.get(), 1, widest);
  while (step(path_, db_, q.get())) {
    uint32_t mask = 0;
    for (size_t i = 0; i < windows.size(); ++i) {
      if (sqlite3_column_int(q.get(), static_cast<int>(i + 5)) != 0) mask |= uint32_t{1} << i;
    }
    if (!fn(read_build(q.get()), mask)) return;
  }
}

void Database::for_each_build_in(const IncrementalTable& table,
                                 const std::vector<std::string>& paths,
                                 const std::function<bool(StoredBuild&&)>& fn) {
  ensure_incremental(table);
  // The wanted paths go to a connection-private temp table: no limit on how
  // many, and the main database is not written.
  exec(path_, db_, "create temp table if not exists kettle_wanted_path(path text primary key)");
  exec(path_, db_, "delete from temp.kettle_wanted_path");
  {
    StmtPtr ins(prepare("insert or ignore into temp.kettle_wanted_path values(?)"));
    for (const auto& p : paths) {
      bind_text(ins.get(), 1, p);
      step(path_, db_, ins.get());
      sqlite3_reset(ins.get());
    }
  }
  StmtPtr q(
      prepare("select rowid, gcs_path, started_json, finished_json, finished_time from build "
              "where gcs_path in (select path from temp.kettle_wanted_path) "
              "and rowid not in (select build_id from " +
              quoted(table) + ") order by finished_time"));
  while (step(path_, db_, q.get())) {
    if (!fn(read_build(q.get()))) break;
  }
  q.reset();
  exec(path_, db_, "delete from temp.kettle_wanted_path");
}

void Database::for_each_file_of(std::string_view build_path,
                                const std::function<bool(StoredFile&&)>& fn) {
  // SPEC D7: the slash keeps build 1 from also getting the files of build 10.
  std::string low = std::string(build_path) + "/";
  std::string high = low + "\x7f";
  Use q(db_, stmts_->files_of.get());
  bind_text(q.get(), 1, low);
  bind_text(q.get(), 2, high);
  while (step(path_, db_, q.get())) {
    StoredFile f;
    f.path = column_bytes(q.get(), 0);
    f.zlib_data = column_bytes(q.get(), 1);
    if (!fn(std::move(f))) return;
  }
}

bool Database::table_exists(const IncrementalTable& table) {
  Use q(db_, stmts_->table_exists.get());
  bind_text(q.get(), 1, table.name());
  return step(path_, db_, q.get());
}

std::optional<double> Database::oldest_emitted(const IncrementalTable& table) {
  if (!table_exists(table)) return std::nullopt;  // asking must not create it
  // CAST reads old reference TEXT values as numbers; text that is not a number
  // becomes 0, the oldest possible, so --assert-oldest asks for a rebuild.
  StmtPtr q(prepare(
      "select min(cast(finished_time as real)) from build where rowid in (select build_id from " +
      quoted(table) + ")"));
  if (!step(path_, db_, q.get()) || sqlite3_column_type(q.get(), 0) == SQLITE_NULL)
    return std::nullopt;
  return sqlite3_column_double(q.get(), 0);
}

void Database::reset_emitted(const IncrementalTable& table) {
  std::string sql = "drop table if exists " + quoted(table);
  exec(path_, db_, sql.c_str());
}

int64_t Database::insert_emitted(const IncrementalTable& table, const std::vector<int64_t>& ids) {
  WriteScope tx(*this);
  ensure_incremental(table);
  int64_t gen = 0;
  {
    StmtPtr q(prepare("select max(gen) from " + quoted(table)));
    if (step(path_, db_, q.get()) && sqlite3_column_type(q.get(), 0) != SQLITE_NULL) {
      gen = sqlite3_column_int64(q.get(), 0) + 1;
    }
  }
  StmtPtr ins(prepare("insert or replace into " + quoted(table) + " values(?,?)"));
  for (int64_t id : ids) {
    sqlite3_bind_int64(ins.get(), 1, id);
    sqlite3_bind_int64(ins.get(), 2, gen);
    step(path_, db_, ins.get());
    sqlite3_reset(ins.get());
  }
  tx.commit();
  return gen;
}

// ---------------------------------------------------------------- listing state

// A side table of make-db's own (the reference ignores tables it does not
// know): one row per listed prefix, read by primary key.
void Database::ensure_listing_cursor_table() {
  exec(path_, db_,
       "create table if not exists listing_cursor(prefix text primary key, cursor text not null, "
       "full_listed_at integer not null, names integer not null, names_from_cursor integer not null, "
       "kept text not null)");
  auto& s = *stmts_;
  s.get_listing_cursor.reset(prepare(
      "select prefix, cursor, full_listed_at, names, names_from_cursor, kept from listing_cursor where prefix=?"));
  s.put_listing_cursor.reset(prepare("insert or replace into listing_cursor values(?,?,?,?,?,?)"));
}

namespace {

ListingCursor read_listing_cursor(sqlite3_stmt* s) {
  ListingCursor row;
  row.prefix = column_bytes(s, 0);
  row.cursor = column_bytes(s, 1);
  row.full_listed_at = sqlite3_column_int64(s, 2);
  row.names = sqlite3_column_int64(s, 3);
  row.names_from_cursor = sqlite3_column_int64(s, 4);
  // Kept names, one a line (they are build ids: no line breaks).
  const std::string kept = column_bytes(s, 5);
  for (size_t at = 0; at < kept.size();) {
    size_t end = kept.find('\n', at);
    if (end == std::string::npos) end = kept.size();
    if (end > at) row.kept.push_back(kept.substr(at, end - at));
    at = end + 1;
  }
  return row;
}

}  // namespace

std::optional<ListingCursor> Database::listing_cursor(std::string_view prefix) {
  Use q(db_, stmts_->get_listing_cursor.get());
  bind_text(q.get(), 1, prefix);
  if (!step(path_, db_, q.get())) return std::nullopt;
  return read_listing_cursor(q.get());
}

void Database::for_each_listing_cursor_under(std::string_view under,
                                             const std::function<void(const ListingCursor&)>& fn) {
  StmtPtr q(prepare(
      "select prefix, cursor, full_listed_at, names, names_from_cursor, kept from listing_cursor "
      "where prefix > ? and prefix < ? order by prefix"));
  const std::string low(under);
  const std::string high = low + '\xff';
  bind_text(q.get(), 1, low);
  bind_text(q.get(), 2, high);
  while (step(path_, db_, q.get())) fn(read_listing_cursor(q.get()));
}

void Database::put_listing_cursor(const ListingCursor& row) {
  Use q(db_, stmts_->put_listing_cursor.get());
  bind_text(q.get(), 1, row.prefix);
  bind_text(q.get(), 2, row.cursor);
  sqlite3_bind_int64(q.get(), 3, row.full_listed_at);
  sqlite3_bind_int64(q.get(), 4, row.names);
  sqlite3_bind_int64(q.get(), 5, row.names_from_cursor);
  std::string kept;
  for (const auto& name : row.kept) kept.append(name).append(1, '\n');
  bind_text(q.get(), 6, kept);
  step(path_, db_, q.get());
}

}  // namespace kettle::store
