// The update cycle's emission in prod: day (1 day), week (7) and all (30) as
// three make-json runs, one after another (as the reference runs them), and
// as one scan with three outputs. Each way runs on its own copy of the DB,
// twice: a first cycle (day table stale: day and week rebuilt) and a next
// cycle after NEW% of the builds (the newest) arrived. The outputs
// (decompressed) and the emitted tables of the two ways are compared.
//
//   ninja -C build bench/cycle_emit_bench
//   build/bench/cycle_emit_bench DB BUCKETS [--threads N] [--new PERCENT] [--dir DIR]
#include <sqlite3.h>
#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kettle/emit/make_json.hpp"
#include "kettle/store/database.hpp"

namespace fs = std::filesystem;
using kettle::emit::MakeJsonOptions;
using kettle::emit::MakeJsonOutput;

namespace {

std::vector<MakeJsonOutput> cycle_outputs(const fs::path& dir, bool stale) {
  return {{1.0, stale, (dir / "build_day.json.gz").string(), true},
          {7.0, stale, (dir / "build_week.json.gz").string(), true},
          {30.0, false, (dir / "build_all.json.gz").string(), true}};
}

std::string gunzip_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string gz = bytes.str();
  z_stream z{};
  inflateInit2(&z, 15 + 16);
  std::string out;
  std::vector<char> buf(1 << 20);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - z.avail_out);
  }
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : "(not gzip)";
}

// "id:gen" lines of an incremental table.
std::string table_text(const fs::path& db_path, const std::string& table) {
  kettle::store::Database db(db_path.string(), false);
  sqlite3_stmt* q = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db.handle(),
                         ("select build_id, gen from " + table + " order by build_id").c_str(), -1,
                         &q, nullptr) == SQLITE_OK) {
    while (sqlite3_step(q) == SQLITE_ROW)
      out += std::to_string(sqlite3_column_int64(q, 0)) + ":" +
             std::to_string(sqlite3_column_int64(q, 1)) + "\n";
  }
  sqlite3_finalize(q);
  return out;
}

void exec(const fs::path& db_path, const std::string& sql) {
  kettle::store::Database db(db_path.string(), false);
  char* err = nullptr;
  if (sqlite3_exec(db.handle(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql.c_str(), err ? err : "?");
    std::exit(1);
  }
}

// CPU seconds of every thread of this process so far (the machine may be shared).
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Timing {
  double seconds = 0;
  double cpu = 0;
  uint64_t rows = 0;  // lines written, all outputs
};

// Times fn, which returns the rows it wrote.
template <class Fn>
Timing timed(Fn fn) {
  Timing t;
  const double cpu = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  t.rows = fn();
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t.cpu = cpu_seconds() - cpu;
  return t;
}

Timing separate_runs(const MakeJsonOptions& base, const fs::path& dir, bool stale) {
  return timed([&] {
    uint64_t rows = 0;
    for (const auto& out : cycle_outputs(dir, stale)) {
      MakeJsonOptions one = base;
      one.db_path = (dir / "build.db").string();
      one.days = out.days;
      one.reset_emitted = out.reset_emitted;
      one.output = out.output;
      one.gzip = out.gzip;
      rows += kettle::emit::run_make_json(one).rows;
    }
    return rows;
  });
}

Timing one_scan(const MakeJsonOptions& base, const fs::path& dir, bool stale) {
  return timed([&] {
    MakeJsonOptions all = base;
    all.db_path = (dir / "build.db").string();
    uint64_t rows = 0;
    for (const auto& r : kettle::emit::run_make_json(all, cycle_outputs(dir, stale)))
      rows += r.rows;
    return rows;
  });
}

void print(const char* cycle, const char* way, const Timing& t, const char* same) {
  std::printf("%-12s %-11s %9.2f %9.2f %8llu %10s\n", cycle, way, t.seconds, t.cpu,
              static_cast<unsigned long long>(t.rows), same);
}

bool same_results(const fs::path& a, const fs::path& b) {
  bool same = true;
  for (const char* file : {"build_day.json.gz", "build_week.json.gz", "build_all.json.gz"})
    same = same && gunzip_file(a / file) == gunzip_file(b / file);
  for (const char* table : {"build_emitted_1", "build_emitted_7", "build_emitted_30"})
    same = same && table_text(a / "build.db", table) == table_text(b / "build.db", table);
  return same;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DB BUCKETS [--threads N] [--new PERCENT] [--dir DIR]\n",
                 argv[0]);
    return 2;
  }
  const fs::path db = argv[1];
  MakeJsonOptions base;
  base.buckets_path = argv[2];
  // One clock for every run: the windows must not move between the two ways.
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  base.now = [now] { return now; };
  double new_percent = 1;
  fs::path dir = fs::temp_directory_path() / "kettle-cycle-emit";
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") base.threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
    if (flag == "--new") new_percent = std::atof(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
  }
  const fs::path separate = dir / "separate";
  const fs::path scan = dir / "scan";
  for (const auto& d : {separate, scan}) {
    fs::remove_all(d);
    fs::create_directories(d);
    fs::copy_file(db, d / "build.db");
  }

  std::printf("%-12s %-11s %9s %9s %8s %10s\n", "cycle", "way", "seconds", "cpu_s", "rows",
              "identical");
  // First cycle: nothing emitted yet, so the day table is stale.
  const Timing s1 = separate_runs(base, separate, true);
  const Timing o1 = one_scan(base, scan, true);
  const bool same1 = same_results(separate, scan);
  print("first", "three runs", s1, "");
  print("first", "one scan", o1, same1 ? "yes" : "NO");

  // Next cycle: the newest NEW% of the builds are new to every table.
  for (const auto& d : {separate, scan}) {
    for (const char* table : {"build_emitted_1", "build_emitted_7", "build_emitted_30"}) {
      exec(d / "build.db",
           std::string("delete from ") + table +
               " where build_id in (select rowid from build where finished_time is not null"
               " order by finished_time desc limit (select cast(count(*) * " +
               std::to_string(new_percent / 100) + " as integer) from build))");
    }
  }
  const Timing s2 = separate_runs(base, separate, false);
  const Timing o2 = one_scan(base, scan, false);
  const bool same2 = same_results(separate, scan);
  char label[32];
  std::snprintf(label, sizeof label, "next (+%g%%)", new_percent);
  print(label, "three runs", s2, "");
  print(label, "one scan", o2, same2 ? "yes" : "NO");
  fs::remove_all(dir);
  return same1 && same2 ? 0 : 1;
}
