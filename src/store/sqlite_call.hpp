// Checked SQLite calls shared by the store's sources (not a public header).
// Every failure throws a StoreError naming the file, the statement and what
// SQLite said; SQLITE_FULL throws DiskFullError with what to do about it.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "kettle/store/database.hpp"

namespace kettle::store::detail {

struct Finalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, Finalize>;

// Throws the error `code` (a result code, extended or not) means.
[[noreturn]] void throw_error(const std::string& path, const std::string& what, int code,
                              const std::string& message);

// Steps once: true on a row, false when done; any error throws naming the statement.
bool step(const std::string& path, sqlite3* db, sqlite3_stmt* s);
// Runs SQL text (one or more statements) to completion.
void exec(const std::string& path, sqlite3* db, const char* sql);
StmtPtr prepare(const std::string& path, sqlite3* db, const std::string& sql);
// One integer from a pragma or query (0 when it returns no row).
long long query_int(const std::string& path, sqlite3* db, const char* sql);

}  // namespace kettle::store::detail
