#include "sqlite_call.hpp"

namespace kettle::store::detail {

void throw_error(const std::string& path, const std::string& what, int code,
                 const std::string& message) {
  std::string text = "database " + path + ": " + what + ": " + message;
  if ((code & 0xff) == SQLITE_FULL) {
    // The statement's transaction is rolled back: nothing half-written.
    throw DiskFullError(
        text + " (the file system holding " + path +
        " is full; the unfinished transaction was rolled back, so nothing is half-written: free "
        "space, e.g. 'kettle prune --junit-older-than DURATION' or a larger volume, then retry)");
  }
  throw StoreError(text);
}

bool step(const std::string& path, sqlite3* db, sqlite3_stmt* s) {
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const char* sql = sqlite3_sql(s);
  throw_error(path, sql ? sql : "", sqlite3_extended_errcode(db), sqlite3_errmsg(db));
}

void exec(const std::string& path, sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    throw_error(path, sql, sqlite3_extended_errcode(db), msg);
  }
}

StmtPtr prepare(const std::string& path, sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr);
  StmtPtr owned(s);
  if (rc != SQLITE_OK) throw_error(path, sql, sqlite3_extended_errcode(db), sqlite3_errmsg(db));
  return owned;
}

long long query_int(const std::string& path, sqlite3* db, const char* sql) {
  StmtPtr q = prepare(path, db, sql);
  return step(path, db, q.get()) ? sqlite3_column_int64(q.get(), 0) : 0;
}

}  // namespace kettle::store::detail
