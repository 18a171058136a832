#include "kettle/store/prune.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <limits>
#include <thread>

#include "kettle/store/database.hpp"
#include "kettle/store/headroom.hpp"
#include "sqlite_call.hpp"

namespace kettle::store {
namespace {

using detail::exec;
using detail::query_int;
using detail::step;
using detail::StmtPtr;

constexpr double kSecondsPerDay = 24 * 60 * 60;
constexpr const char* kWindowPrefix = "build_emitted_";

int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// D of build_emitted_<D>: IncrementalTable::for_days writes %g of D with '.' as '_'.
std::optional<double> window_days(const std::string& suffix) {
  std::string text = suffix;
  for (char& c : text) {
    if (c == '_') c = '.';
  }
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double days = std::strtod(text.c_str(), &end);
  if (*end != '\0' || !std::isfinite(days) || days < 0) return std::nullopt;
  return days;
}

std::string format_days(double days) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", days);
  return buf;
}

uint64_t file_bytes(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

std::string utc_time(int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// The batch loop of one prune, on its own connection.
class Pruner {
 public:
  Pruner(Database& db, const PruneOptions& opt, int64_t cutoff)
      : db_(db), opt_(opt), cutoff_(cutoff) {
    sqlite3* h = db_.handle();
    const std::string& path = db_.path();
    // Debian's SQLite zeroes every freed page (secure_delete), which would
    // write each deleted byte again; JUnit is not secret.
    exec(path, h, "PRAGMA secure_delete=FAST");
    exec(path, h, "create table if not exists build_junit_pruned(build_id integer primary key)");
    const bool all_table = query_int(path, h,
                                     "select count(*) from sqlite_master where type='table' and "
                                     "name='build_emitted'") > 0;
    // Nothing is recorded as emitted yet, so nothing may go.
    nothing_eligible_ = opt.require_all_table && !all_table;
    // Keyset paging over the finished_time index: each transaction starts
    // where the last one ended, so a prune reads the old range once.
    candidates_ = detail::prepare(
        path, h,
        std::string(
            "select b.rowid, b.gcs_path, b.finished_time from build b "
            "where b.finished_time < ?1 and b.finished_time >= ?2 and (b.finished_time > ?2 or "
            "b.rowid > ?3) "
            "and not exists (select 1 from build_junit_pruned p where p.build_id = b.rowid) ") +
            (all_table ? "and exists (select 1 from build_emitted e where e.build_id = b.rowid) "
                       : "") +
            "order by b.finished_time, b.rowid limit ?4");
    // [<build>/, <build>0): everything under the build directory ('0' follows '/').
    file_bytes_ = detail::prepare(path, h,
                                  "select count(*), coalesce(sum(length(data)), 0) from file "
                                  "where path >= ?1 and path < ?2");
    delete_files_ = detail::prepare(path, h, "delete from file where path >= ?1 and path < ?2");
    clear_mark_ = detail::prepare(path, h, "delete from build_junit_missing where build_id = ?1");
    record_ = detail::prepare(path, h, "insert or ignore into build_junit_pruned values(?1)");
  }

  // Runs transactions until no candidate is left or a stop is asked for.
  void run(PruneResult& result) {
    while (!nothing_eligible_) {
      if (stop_requested()) {
        result.interrupted = true;
        return;
      }
      const auto start = std::chrono::steady_clock::now();
      size_t done = transaction(result, start);
      ++result.transactions;
      if (done == 0) return;
      pause_after(start);
    }
  }

  bool stop_requested() const { return opt_.should_stop && opt_.should_stop(); }

  // Leaves the lock free as long as it was held, so writers waiting in their
  // busy handler get it.
  void pause_after(std::chrono::steady_clock::time_point start) const {
    auto held = std::chrono::steady_clock::now() - start;
    std::this_thread::sleep_for(
        std::max<std::chrono::steady_clock::duration>(held, opt_.limits.pause_min));
  }

 private:
  // One write transaction: candidates read inside it, so a build a concurrent
  // writer replaces meanwhile is never pruned by its old row.
  size_t transaction(PruneResult& result, std::chrono::steady_clock::time_point start) {
    sqlite3* h = db_.handle();
    const std::string& path = db_.path();
    db_.begin();
    size_t done = 0;
    try {
      struct Candidate {
        int64_t id;
        std::string path;
        double finished_time;
      };
      std::vector<Candidate> batch;
      {
        sqlite3_stmt* q = candidates_.get();
        sqlite3_bind_double(q, 1, static_cast<double>(cutoff_));
        sqlite3_bind_double(q, 2, after_time_);
        sqlite3_bind_int64(q, 3, after_id_);
        sqlite3_bind_int64(q, 4, static_cast<sqlite3_int64>(opt_.limits.builds_per_transaction));
        while (step(path, h, q)) {
          auto* text = static_cast<const char*>(sqlite3_column_blob(q, 1));
          batch.push_back(
              {sqlite3_column_int64(q, 0),
               std::string(text ? text : "", static_cast<size_t>(sqlite3_column_bytes(q, 1))),
               sqlite3_column_double(q, 2)});
        }
        sqlite3_reset(q);
      }
      for (const auto& c : batch) {
        prune_build(c.id, c.path, result);
        // The next transaction starts after the last build done.
        after_time_ = c.finished_time;
        after_id_ = c.id;
        ++done;
        if (std::chrono::steady_clock::now() - start >= opt_.limits.transaction_time) break;
      }
      db_.commit();
    } catch (...) {
      db_.rollback();
      throw;
    }
    return done;
  }

  void prune_build(int64_t id, const std::string& build, PruneResult& result) {
    sqlite3* h = db_.handle();
    const std::string& path = db_.path();
    const std::string low = build + "/";
    const std::string high = build + "0";
    auto bind_range = [&](sqlite3_stmt* s) {
      sqlite3_bind_text64(s, 1, low.data(), low.size(), SQLITE_STATIC, SQLITE_UTF8);
      sqlite3_bind_text64(s, 2, high.data(), high.size(), SQLITE_STATIC, SQLITE_UTF8);
    };
    bind_range(file_bytes_.get());
    if (step(path, h, file_bytes_.get())) {
      result.files += static_cast<uint64_t>(sqlite3_column_int64(file_bytes_.get(), 0));
      result.junit_bytes += static_cast<uint64_t>(sqlite3_column_int64(file_bytes_.get(), 1));
    }
    sqlite3_reset(file_bytes_.get());
    bind_range(delete_files_.get());
    step(path, h, delete_files_.get());
    sqlite3_reset(delete_files_.get());
    sqlite3_bind_int64(clear_mark_.get(), 1, id);
    step(path, h, clear_mark_.get());
    result.marks_cleared += static_cast<uint64_t>(sqlite3_changes(h));
    sqlite3_reset(clear_mark_.get());
    sqlite3_bind_int64(record_.get(), 1, id);
    step(path, h, record_.get());
    sqlite3_reset(record_.get());
    ++result.builds;
  }

  Database& db_;
  const PruneOptions& opt_;
  int64_t cutoff_;
  bool nothing_eligible_ = false;
  double after_time_ = -std::numeric_limits<double>::infinity();
  int64_t after_id_ = std::numeric_limits<int64_t>::min();
  StmtPtr candidates_, file_bytes_, delete_files_, clear_mark_, record_;
};

// PRAGMA incremental_vacuum in steps, each its own short transaction.
void vacuum(Database& db, const PruneOptions& opt, Pruner& pacing, PruneResult& result) {
  const std::string sql =
      "PRAGMA incremental_vacuum(" + std::to_string(opt.limits.vacuum_pages_per_step) + ")";
  while (query_int(db.path(), db.handle(), "PRAGMA freelist_count") > 0) {
    if (pacing.stop_requested()) {
      result.interrupted = true;
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    exec(db.path(), db.handle(), sql.c_str());
    pacing.pause_after(start);
  }
}

}  // namespace

std::vector<WindowTable> window_tables(Database& db) {
  StmtPtr q = detail::prepare(
      db.path(), db.handle(),
      "select name from sqlite_master where type='table' and substr(name, 1, 14) = ?1 "
      "order by name");
  sqlite3_bind_text(q.get(), 1, kWindowPrefix, -1, SQLITE_STATIC);
  std::vector<WindowTable> out;
  while (step(db.path(), db.handle(), q.get())) {
    auto* text = reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 0));
    std::string name = text ? text : "";
    auto days = window_days(name.substr(std::string(kWindowPrefix).size()));
    if (!days) {
      throw CutoffError(
          "table " + name + " in " + db.path() +
          " looks like a make-json --days window, but its window cannot be read; pruning would "
          "risk rows it emits. Drop the table if nothing uses it.");
    }
    out.push_back({name, *days});
  }
  return out;
}

void check_cutoff(Database& db, std::chrono::seconds older_than) {
  for (const auto& w : window_tables(db)) {
    if (static_cast<double>(older_than.count()) <= w.days * kSecondsPerDay) {
      throw CutoffError("the retention period (" + format_period(older_than) +
                        ") must be longer than every make-json --days window in use, and table " +
                        w.name + " in " + db.path() + " holds a " + format_days(w.days) +
                        "-day window: use more than " + format_days(w.days) + "d");
    }
  }
}

PruneResult prune_junit(const std::string& db_path, const PruneOptions& opt) {
  Database db(db_path, /*create=*/false);
  check_cutoff(db, opt.older_than);
  PruneResult result;
  result.cutoff = (opt.now ? opt.now() : system_now()) - opt.older_than.count();
  sqlite3* h = db.handle();
  result.incremental_vacuum = query_int(db_path, h, "PRAGMA auto_vacuum") == 2;
  result.page_size = static_cast<uint64_t>(query_int(db_path, h, "PRAGMA page_size"));
  result.pages_before = static_cast<uint64_t>(query_int(db_path, h, "PRAGMA page_count"));
  result.file_bytes_before = file_bytes(db_path);

  Pruner pruner(db, opt, result.cutoff);
  pruner.run(result);
  if (result.incremental_vacuum && !result.interrupted) vacuum(db, opt, pruner, result);
  // Moves the WAL into the file where no reader prevents it, so the file
  // shrinks now rather than at the next automatic checkpoint.
  exec(db_path, h, "PRAGMA wal_checkpoint(PASSIVE)");
  result.pages_after = static_cast<uint64_t>(query_int(db_path, h, "PRAGMA page_count"));
  result.freelist_pages = static_cast<uint64_t>(query_int(db_path, h, "PRAGMA freelist_count"));
  result.file_bytes_after = file_bytes(db_path);
  return result;
}

std::string format_period(std::chrono::seconds period) {
  int64_t left = period.count();
  std::string out;
  for (const auto& [unit, seconds] : {std::pair{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}}) {
    if (left >= seconds) {
      out += std::to_string(left / seconds) + unit;
      left %= seconds;
    }
  }
  return out.empty() ? "0s" : out;
}

std::string describe(const PruneResult& r) {
  std::string text = "pruned the JUnit of " + std::to_string(r.builds) +
                     " builds finished before " + utc_time(r.cutoff) + ": " +
                     std::to_string(r.files) + " files, " + human_bytes(r.junit_bytes) +
                     " stored, " + std::to_string(r.marks_cleared) + " missing-JUnit marks cleared";
  const uint64_t freelist_bytes = r.freelist_pages * r.page_size;
  if (r.incremental_vacuum) {
    text += "; database file " + human_bytes(r.file_bytes_before) + " -> " +
            human_bytes(r.file_bytes_after);
  } else {
    text += "; database file " + human_bytes(r.file_bytes_after) +
            " (auto_vacuum off: freed pages are reused, the file "
            "does not shrink)";
  }
  text += ", " + std::to_string(r.freelist_pages) + " free pages (" + human_bytes(freelist_bytes) +
          ") for reuse";
  if (r.interrupted) text += " (interrupted: the next prune goes on)";
  return text;
}

}  // namespace kettle::store
