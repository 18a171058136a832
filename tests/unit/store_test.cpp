// The build database (SPEC §2.3, §3.2, §4, D7, D13) and its zlib blobs.
#include <sqlite3.h>
#include <stdlib.h>
#include <zlib.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "kettle/store/database.hpp"
#include "temp_dir.hpp"
#include "kettle/store/zlib_codec.hpp"

namespace fs = std::filesystem;
using kettle::store::Database;
using kettle::store::IncrementalTable;
using kettle::store::StoredBuild;
using kettle::store::StoredFile;
using kettle::store::StoreError;
using kettle::store::zlib_compress;
using kettle::store::zlib_decompress;
using Ids = std::vector<int64_t>;
using Strings = std::vector<std::string>;

namespace {

// The reference's schema exactly as model.py executes it.
const char* const kReferenceSchema[] = {
    ("create table if not exists build(gcs_path primary key, started_json, finished_json, "
     "finished_time)"),
    "create table if not exists file(path string primary key, data)",
    "create table if not exists build_junit_missing(build_id integer primary key)",
    "create index if not exists build_finished_time_idx on build(finished_time)",
};

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kDay = 86'400;

using kettle::test::TempDir;

// Plain sqlite3 calls, as the Python reference (or any other tool) would make them.
struct RawDb {
  sqlite3* db = nullptr;
  explicit RawDb(const std::string& path) {
    BOOST_REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db); }

  void exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << msg);
  }

  // Every column of every row as text ("NULL" for SQL NULL); blobs as raw bytes.
  std::vector<Strings> query(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    BOOST_REQUIRE_MESSAGE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK,
                          sqlite3_errmsg(db));
    std::vector<Strings> rows;
    while (sqlite3_step(s) == SQLITE_ROW) {
      Strings row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        if (sqlite3_column_type(s, i) == SQLITE_NULL) {
          row.push_back("NULL");
          continue;
        }
        const void* p = sqlite3_column_blob(s, i);
        row.emplace_back(static_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(s, i)));
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(s);
    return rows;
  }

  void insert_file(const std::string& path, const std::string& blob) {
    sqlite3_stmt* s = nullptr;
    BOOST_REQUIRE(sqlite3_prepare_v2(db, "insert or replace into file values (?,?)", -1, &s,
                                     nullptr) == SQLITE_OK);
    sqlite3_bind_text(s, 1, path.data(), static_cast<int>(path.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 2, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    BOOST_REQUIRE(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_finalize(s);
  }
};

// zlib.compress(data) of the reference: a one-shot RFC 1950 stream, level 6.
std::string reference_compress(const std::string& data) {
  uLongf n = compressBound(data.size());
  std::string out(n, '\0');
  BOOST_REQUIRE(compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                          reinterpret_cast<const Bytef*>(data.data()), data.size(), 6) == Z_OK);
  out.resize(n);
  return out;
}

// zlib.decompress(blob) of the reference, for data of a known size.
std::string reference_uncompress(const std::string& blob, size_t size) {
  std::string out(size + 1, '\0');
  uLongf n = out.size();
  BOOST_REQUIRE(uncompress(reinterpret_cast<Bytef*>(out.data()), &n,
                           reinterpret_cast<const Bytef*>(blob.data()), blob.size()) == Z_OK);
  out.resize(n);
  return out;
}

std::string started(int64_t ts) { return "{\"timestamp\": " + std::to_string(ts) + "}"; }
std::string finished(int64_t ts) {
  return "{\"result\": \"SUCCESS\", \"timestamp\": " + std::to_string(ts) + "}";
}

// A finished build: started 100 s before `ts`, finished_time = ts.
int64_t add_finished(Database& db, const std::string& path, int64_t ts) {
  db.upsert_build(path, started(ts - 100), finished(ts), kettle::rows::FinishedTime{ts});
  return db.find_build(path)->id;
}

Strings unemitted_paths(Database& db, const IncrementalTable& table,
                        std::optional<double> min = std::nullopt) {
  Strings out;
  db.for_each_unemitted(table, min, [&](StoredBuild&& b) {
    out.push_back(b.path);
    return true;
  });
  return out;
}

Strings paths_in(Database& db, const IncrementalTable& table, const Strings& wanted) {
  Strings out;
  db.for_each_build_in(table, wanted, [&](StoredBuild&& b) {
    out.push_back(b.path);
    return true;
  });
  return out;
}

std::vector<StoredFile> files_of(Database& db, const std::string& build) {
  std::vector<StoredFile> out;
  db.for_each_file_of(build, [&](StoredFile&& f) {
    out.push_back(std::move(f));
    return true;
  });
  return out;
}

std::vector<std::pair<int64_t, std::string>> junit_missing(Database& db) {
  std::vector<std::pair<int64_t, std::string>> out;
  db.for_each_junit_missing([&](int64_t id, const std::string& path) {
    out.emplace_back(id, path);
    return true;
  });
  return out;
}

bool has_table(Database& db, const std::string& name) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db.handle(), "select 1 from sqlite_master where type='table' and name=?", -1,
                     &s, nullptr);
  sqlite3_bind_text(s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  bool found = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return found;
}

const std::string kJunit = "<testsuite><testcase name=\"a\" time=\"1\"/></testsuite>";

}  // namespace

// ---------------------------------------------------------------- zlib

BOOST_AUTO_TEST_SUITE(zlib_codec)

BOOST_AUTO_TEST_CASE(round_trips_binary_and_empty_data) {
  std::string binary("a\0b\0\xff\x01", 6);
  for (const std::string& data : {std::string(), kJunit, binary, std::string(3'000'000, 'x')}) {
    auto back = zlib_decompress(zlib_compress(data));
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(*back == data);
  }
}

BOOST_AUTO_TEST_CASE(is_an_rfc1950_stream_readable_by_plain_zlib) {
  std::string blob = zlib_compress(kJunit);
  BOOST_TEST((static_cast<unsigned char>(blob[0]) & 0x0f) == 8);  // CM = deflate
  BOOST_TEST(
      ((static_cast<unsigned char>(blob[0]) << 8) | static_cast<unsigned char>(blob[1])) % 31 == 0);
  BOOST_TEST(reference_uncompress(blob, kJunit.size()) == kJunit);
  BOOST_TEST(*zlib_decompress(reference_compress(kJunit)) == kJunit);
}

BOOST_AUTO_TEST_CASE(garbage_and_truncated_streams_are_rejected) {
  BOOST_TEST(!zlib_decompress("").has_value());
  BOOST_TEST(!zlib_decompress("this is not zlib").has_value());
  BOOST_TEST(!zlib_decompress(std::string(100, '\0')).has_value());
  std::string blob = zlib_compress(std::string(10'000, 'y') + kJunit);
  for (size_t cut : {size_t{1}, size_t{2}, blob.size() / 2, blob.size() - 4, blob.size() - 1}) {
    BOOST_TEST(!zlib_decompress(blob.substr(0, cut)).has_value(), "cut at " << cut);
  }
  std::string corrupt = blob;
  corrupt[blob.size() - 2] ^= 0x55;  // the Adler-32 check fails
  BOOST_TEST(!zlib_decompress(corrupt).has_value());
  // Bytes after a complete stream are ignored, as Python's zlib.decompress does.
  BOOST_TEST(*zlib_decompress(zlib_compress("abc") + "trailing") == "abc");
}

BOOST_AUTO_TEST_CASE(max_size_bounds_the_output) {
  std::string blob = zlib_compress(std::string(1'000'000, 'z'));
  BOOST_TEST(!zlib_decompress(blob, 999'999).has_value());
  BOOST_TEST(zlib_decompress(blob, 1'000'000).value().size() == 1'000'000u);
  BOOST_TEST(zlib_decompress(zlib_compress(""), 0).value().empty());
  BOOST_TEST(!zlib_decompress(zlib_compress("a"), 0).has_value());
}

BOOST_AUTO_TEST_CASE(invalid_level_is_an_error) {
  BOOST_CHECK_THROW(zlib_compress("x", 10), std::invalid_argument);
  BOOST_TEST(*zlib_decompress(zlib_compress("x", 0)) == "x");
  BOOST_TEST(*zlib_decompress(zlib_compress("x", 9)) == "x");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- table names

BOOST_AUTO_TEST_CASE(incremental_table_names_follow_python_percent_g) {
  BOOST_TEST(IncrementalTable::for_days(std::nullopt).name() == "build_emitted");
  BOOST_TEST(IncrementalTable::for_days(0).name() == "build_emitted");
  BOOST_TEST(IncrementalTable::for_days(1).name() == "build_emitted_1");
  BOOST_TEST(IncrementalTable::for_days(0.5).name() == "build_emitted_0_5");
  BOOST_TEST(IncrementalTable::for_days(7).name() == "build_emitted_7");
  BOOST_TEST(IncrementalTable::for_days(1.5).name() == "build_emitted_1_5");
  BOOST_TEST(IncrementalTable::for_days(30).name() == "build_emitted_30");
  BOOST_TEST(IncrementalTable::for_days(1e-5).name() == "build_emitted_1e-05");
  BOOST_TEST(IncrementalTable::manual().name() == "incremental_manual");
  BOOST_CHECK_THROW(IncrementalTable::for_days(-1), std::invalid_argument);
  BOOST_CHECK_THROW(IncrementalTable::for_days(std::numeric_limits<double>::infinity()),
                    std::invalid_argument);
  BOOST_CHECK_THROW(IncrementalTable::for_days(std::numeric_limits<double>::quiet_NaN()),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(unusual_table_names_still_work_in_sql) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  int64_t id = add_finished(db, "gs://b/logs/j/1", 100);
  auto table = IncrementalTable::for_days(1e20);  // build_emitted_1e+20
  BOOST_TEST(db.insert_emitted(table, {id}) == 0);
  BOOST_TEST(unemitted_paths(db, table).empty());
  BOOST_TEST(db.oldest_emitted(table).value() == 100.0);
  db.reset_emitted(table);
  BOOST_TEST(!has_table(db, table.name()));
}

// ---------------------------------------------------------------- opening

BOOST_AUTO_TEST_SUITE(opening)

BOOST_AUTO_TEST_CASE(creates_exactly_the_reference_schema_in_wal_mode) {
  TempDir tmp;
  { Database db(tmp.file("ours.db")); }
  {
    RawDb ref(tmp.file("ref.db"));
    for (const char* sql : kReferenceSchema) ref.exec(sql);
  }
  // The reference's tables exactly; make-db's listing state in a table of its own.
  const std::string master =
      "select type, name, tbl_name, sql from sqlite_master where tbl_name != 'listing_cursor' order by name";
  BOOST_TEST(RawDb(tmp.file("ours.db")).query(master) == RawDb(tmp.file("ref.db")).query(master));
  BOOST_TEST(RawDb(tmp.file("ours.db")).query("select name from sqlite_master where type = 'table' and name = "
                                               "'listing_cursor'").size() == 1u);
  Database db(tmp.file("ours.db"), /*create=*/false);
  RawDb raw(tmp.file("ours.db"));
  BOOST_TEST(raw.query("PRAGMA journal_mode").at(0).at(0) == "wal");
}

BOOST_AUTO_TEST_CASE(missing_file_without_create_is_an_error_and_is_not_created) {
  TempDir tmp;
  std::string path = tmp.file("nope.db");
  try {
    Database db(path, /*create=*/false);
    BOOST_FAIL("opened a missing database");
  } catch (const StoreError& e) {
    BOOST_TEST(std::string(e.what()).find(path) != std::string::npos);
    BOOST_TEST(std::string(e.what()).find("does not exist") != std::string::npos);
  }
  BOOST_TEST(!fs::exists(path));
}

BOOST_AUTO_TEST_CASE(garbage_file_is_a_clear_error_and_left_untouched) {
  TempDir tmp;
  std::string path = tmp.file("garbage.db");
  std::string garbage(8192, 'x');
  std::ofstream(path, std::ios::binary) << garbage;
  for (bool create : {true, false}) {
    try {
      Database db(path, create);
      BOOST_FAIL("opened a garbage file");
    } catch (const StoreError& e) {
      std::string msg = e.what();
      BOOST_TEST(msg.find(path) != std::string::npos, msg);
      BOOST_TEST(msg.find("not a usable SQLite database") != std::string::npos, msg);
      BOOST_TEST(msg.find("make-db") != std::string::npos, msg);
    }
  }
  std::ifstream in(path, std::ios::binary);
  BOOST_TEST(std::string(std::istreambuf_iterator<char>(in), {}) == garbage);
}

BOOST_AUTO_TEST_CASE(truncated_database_is_a_clear_error) {
  TempDir tmp;
  std::string path = tmp.file("build.db");
  {
    RawDb raw(path);
    raw.exec(
        "create table build(gcs_path primary key, started_json, finished_json, finished_time)");
    raw.exec("insert into build values('gs://b/j/1', '{}', null, null)");
  }
  fs::resize_file(path, 1000);
  try {
    Database db(path, /*create=*/false);
    BOOST_FAIL("opened a truncated database");
  } catch (const StoreError& e) {
    BOOST_TEST(std::string(e.what()).find(path) != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(later_sql_errors_name_the_statement) {
  TempDir tmp;
  std::string path = tmp.file("build.db");
  Database db(path);
  RawDb(path).exec("drop table file");
  try {
    db.put_file("gs://b/j/1/artifacts/junit.xml", zlib_compress(kJunit));
    BOOST_FAIL("wrote into a dropped table");
  } catch (const StoreError& e) {
    std::string msg = e.what();
    BOOST_TEST(msg.find("insert or replace into file") != std::string::npos, msg);
    BOOST_TEST(msg.find("no such table") != std::string::npos, msg);
    BOOST_TEST(msg.find(path) != std::string::npos, msg);
  }
  // The connection stays usable for everything else.
  add_finished(db, "gs://b/j/1", 100);
  BOOST_TEST(db.find_build("gs://b/j/1").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- reference compatibility

BOOST_AUTO_TEST_SUITE(reference_compatibility)

BOOST_AUTO_TEST_CASE(reads_a_database_written_by_the_reference) {
  TempDir tmp;
  std::string path = tmp.file("build.db");
  const std::string junit1 = kJunit;
  const std::string junit10 = "<testsuite><testcase name=\"ten\"/></testsuite>";
  {
    RawDb ref(path);  // rollback journal, as Python's sqlite3 leaves it
    for (const char* sql : kReferenceSchema) ref.exec(sql);
    ref.exec("create table if not exists build_emitted_1(build_id integer primary key, gen)");
    ref.exec(
        "insert into build values"
        "('gs://b/logs/j/1', '{\"timestamp\": 100}', '{\"result\": \"SUCCESS\", \"timestamp\": "
        "200}', 200),"
        // The old reference kept a string timestamp as TEXT.
        "('gs://b/logs/j/2', '{\"timestamp\": 150}', '{\"timestamp\": \"300\"}', '300'),"
        "('gs://b/logs/j/3', '{\"timestamp\": 50}', NULL, NULL),"
        "('gs://b/logs/j/4', '{\"timestamp\": 240}', '{\"timestamp\": 250}', 250),"
        "('gs://b/logs/j/5', '{\"timestamp\": 110}', '{\"timestamp\": \"120\"}', '120'),"
        "('gs://b/logs/j/10', '{\"timestamp\": 160}', '{\"timestamp\": 170}', 170)");
    ref.exec("insert into build_emitted_1 values (4, 0), (5, 1)");
    ref.exec("insert into build_junit_missing values (3)");
    ref.insert_file("gs://b/logs/j/1/artifacts/junit_01.xml", reference_compress(junit1));
    ref.insert_file("gs://b/logs/j/10/artifacts/junit_01.xml", reference_compress(junit10));
  }

  Database db(path, /*create=*/false);
  auto day = IncrementalTable::for_days(1);
  // Numbers in order; the TEXT finished_time sorts after them, NULL is never selected.
  BOOST_TEST(unemitted_paths(db, day) ==
             (Strings{"gs://b/logs/j/10", "gs://b/logs/j/1", "gs://b/logs/j/2"}));
  // As in the reference, a TEXT finished_time passes every window.
  BOOST_TEST(unemitted_paths(db, day, 210.0) == Strings{"gs://b/logs/j/2"});

  auto one = db.find_build("gs://b/logs/j/1").value();
  BOOST_TEST(one.id == 1);
  BOOST_TEST(one.started_json.value() == "{\"timestamp\": 100}");
  BOOST_TEST(one.finished_json.value() == "{\"result\": \"SUCCESS\", \"timestamp\": 200}");
  BOOST_TEST(!db.find_build("gs://b/logs/j/3")->finished_json.has_value());

  auto files = files_of(db, "gs://b/logs/j/1");
  BOOST_REQUIRE(files.size() == 1u);
  BOOST_TEST(files[0].path == "gs://b/logs/j/1/artifacts/junit_01.xml");
  BOOST_TEST(zlib_decompress(files[0].zlib_data).value() == junit1);

  // Oldest of builds 4 (250) and 5 ('120' as TEXT).
  BOOST_TEST(db.oldest_emitted(day).value() == 120.0);
  BOOST_TEST(db.insert_emitted(day, {1}) == 2);  // continues after gen 1
  BOOST_TEST(unemitted_paths(db, day) == (Strings{"gs://b/logs/j/10", "gs://b/logs/j/2"}));

  BOOST_TEST(junit_missing(db) ==
             (std::vector<std::pair<int64_t, std::string>>{{3, "gs://b/logs/j/3"}}));
  BOOST_TEST(db.is_present("gs://b/logs/j/1", kNow));
  BOOST_TEST(db.is_present("gs://b/logs/j/3", kNow));  // started long ago, never finished
  BOOST_TEST(!db.is_present("gs://b/logs/j/3", 60));
}

BOOST_AUTO_TEST_CASE(writes_a_database_the_reference_reads) {
  TempDir tmp;
  std::string path = tmp.file("build.db");
  std::string junit = kJunit + std::string("\n<!-- \xc3\xa9 -->");
  {
    Database db(path);
    db.upsert_build("gs://b/logs/j/7", started(100), finished(200),
                    kettle::rows::FinishedTime{int64_t{200}});
    db.upsert_build("gs://b/logs/j/8", started(100), finished(201),
                    kettle::rows::FinishedTime{201.5});
    db.upsert_build("gs://b/logs/j/9", started(100), std::nullopt, kettle::rows::FinishedTime{});
    db.put_file("gs://b/logs/j/7/artifacts/junit_01.xml", zlib_compress(junit));
    db.insert_emitted(IncrementalTable::for_days(std::nullopt), {1});
    db.insert_emitted(IncrementalTable::for_days(std::nullopt), {2});
  }
  RawDb ref(path);
  auto builds = ref.query(
      "select rowid, gcs_path, started_json, finished_json, finished_time, typeof(finished_time) "
      "from build order by rowid");
  BOOST_REQUIRE(builds.size() == 3u);
  BOOST_TEST(builds[0] ==
             (Strings{"1", "gs://b/logs/j/7", started(100), finished(200), "200", "integer"}));
  BOOST_TEST(builds[1][5] == "real");
  BOOST_TEST(builds[2] == (Strings{"3", "gs://b/logs/j/9", started(100), "NULL", "NULL", "null"}));

  auto files = ref.query("select path, data, typeof(data) from file");
  BOOST_REQUIRE(files.size() == 1u);
  BOOST_TEST(files[0][0] == "gs://b/logs/j/7/artifacts/junit_01.xml");
  BOOST_TEST(files[0][2] == "blob");
  BOOST_TEST(reference_uncompress(files[0][1], junit.size()) == junit);

  BOOST_TEST(ref.query("select build_id from build_junit_missing order by build_id") ==
             (std::vector<Strings>{{"1"}, {"2"}, {"3"}}));
  BOOST_TEST(ref.query("select build_id, gen from build_emitted order by build_id") ==
             (std::vector<Strings>{{"1", "0"}, {"2", "1"}}));
  // The reference's own emission query works on our file.
  BOOST_TEST(ref.query("select rowid from build where finished_time >= 0 and rowid not in "
                       "(select build_id from build_emitted) order by finished_time")
                 .empty());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- collection

BOOST_AUTO_TEST_SUITE(collection)

BOOST_AUTO_TEST_CASE(upsert_writes_only_changes) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  auto table = IncrementalTable::for_days(std::nullopt);
  const std::string p = "gs://b/logs/j/1";

  BOOST_TEST(db.upsert_build(p, started(100), std::nullopt, kettle::rows::FinishedTime{}));
  int64_t first = db.find_build(p)->id;
  BOOST_TEST(junit_missing(db) == (std::vector<std::pair<int64_t, std::string>>{{first, p}}));
  BOOST_TEST(db.junit_missing(first));
  db.clear_junit_missing(first);
  BOOST_TEST(!db.junit_missing(first));

  // Identical, NULL finished included: nothing is written, nothing is marked.
  BOOST_TEST(!db.upsert_build(p, started(100), std::nullopt, kettle::rows::FinishedTime{}));
  BOOST_TEST(db.find_build(p)->id == first);
  BOOST_TEST(junit_missing(db).empty());

  BOOST_TEST(
      db.upsert_build(p, started(100), finished(200), kettle::rows::FinishedTime{int64_t{200}}));
  int64_t second = db.find_build(p)->id;
  BOOST_TEST(second != first);
  BOOST_TEST(db.find_build(p)->finished_json.value() == finished(200));
  BOOST_TEST(junit_missing(db).size() == 1u);
  BOOST_TEST(junit_missing(db).at(0).first == second);
  db.insert_emitted(table, {second});
  BOOST_TEST(unemitted_paths(db, table).empty());

  BOOST_TEST(
      !db.upsert_build(p, started(100), finished(200), kettle::rows::FinishedTime{int64_t{200}}));
  // A byte-different finished.json replaces the row: it is emitted again.
  BOOST_TEST(
      db.upsert_build(p, started(100), finished(201), kettle::rows::FinishedTime{int64_t{201}}));
  int64_t third = db.find_build(p)->id;
  BOOST_TEST(third != second);
  BOOST_TEST(unemitted_paths(db, table) == Strings{p});
  RawDb raw(db.path());
  BOOST_TEST(raw.query("select count(*) from build").at(0).at(0) == "1");
}

BOOST_AUTO_TEST_CASE(present_paths_under_a_prefix_follow_the_same_rule) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  auto none = kettle::rows::FinishedTime{};
  const int64_t old = kNow - 6 * kDay;
  const int64_t fresh = kNow - kDay;
  db.upsert_build("gs://pr/logs/pull/1/j/finished", started(fresh), finished(fresh + 10), int64_t{fresh + 10});
  db.upsert_build("gs://pr/logs/pull/1/j/old", started(old), std::nullopt, none);
  db.upsert_build("gs://pr/logs/pull/1/j/fresh", started(fresh), std::nullopt, none);
  db.upsert_build("gs://pr/logs/pull/1/j/word", "{\"timestamp\": \"yesterday\"}", std::nullopt, none);
  db.upsert_build("gs://pr/logs-other/j/finished", started(fresh), finished(fresh), int64_t{fresh});
  db.upsert_build("gs://elsewhere/j/finished", started(fresh), finished(fresh), int64_t{fresh});
  std::vector<std::string> seen;
  db.for_each_present_under("gs://pr/logs", kNow, [&](std::string_view p) { seen.emplace_back(p); });
  std::sort(seen.begin(), seen.end());
  // Prefix as the reference's range: "gs://pr/logs-other" is under "gs://pr/logs" too.
  BOOST_TEST(seen == (std::vector<std::string>{"gs://pr/logs-other/j/finished", "gs://pr/logs/pull/1/j/finished",
                                               "gs://pr/logs/pull/1/j/old"}),
             boost::test_tools::per_element());
  for (const auto& p : seen) BOOST_TEST(db.is_present(p, kNow));
}

BOOST_AUTO_TEST_CASE(finished_builds_under_a_prefix_since_a_time) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  auto none = kettle::rows::FinishedTime{};
  db.upsert_build("gs://pr/logs/pull/1/j/recent", started(kNow - 100), finished(kNow), int64_t{kNow});
  db.upsert_build("gs://pr/logs/pull/1/j/old", started(kNow - 9 * kDay), finished(kNow - 8 * kDay),
                  int64_t{kNow - 8 * kDay});
  db.upsert_build("gs://pr/logs/pull/1/j/running", started(kNow), std::nullopt, none);
  db.upsert_build("gs://pr/logs/pull/1/j/old-started", started(kNow - 9 * kDay), std::nullopt, none);
  db.upsert_build("gs://elsewhere/j/recent", started(kNow), finished(kNow), int64_t{kNow});
  // A reference row with a TEXT finished_time sorts after every number: always in.
  RawDb(tmp.file("build.db"))
      .exec("insert into build values ('gs://pr/logs/pull/2/j/text', '{}', '{\"timestamp\": \"1\"}', '1')");
  std::vector<std::string> seen;
  db.for_each_finished_under("gs://pr/logs", static_cast<double>(kNow - kDay),
                             [&](std::string_view p) { seen.emplace_back(p); });
  std::sort(seen.begin(), seen.end());
  BOOST_TEST(seen == (std::vector<std::string>{"gs://pr/logs/pull/1/j/recent", "gs://pr/logs/pull/2/j/text"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(is_present_follows_spec_2_3) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  auto none = kettle::rows::FinishedTime{};
  const int64_t old = kNow - 6 * kDay;
  const int64_t fresh = kNow - kDay;
  db.upsert_build("gs://b/j/finished", started(fresh), finished(fresh + 10), int64_t{fresh + 10});
  db.upsert_build("gs://b/j/old", started(old), std::nullopt, none);
  db.upsert_build("gs://b/j/fresh", started(fresh), std::nullopt, none);
  db.upsert_build("gs://b/j/old-float", "{\"timestamp\": " + std::to_string(old) + ".75}",
                  std::nullopt, none);
  db.upsert_build("gs://b/j/old-string", "{\"timestamp\": \"" + std::to_string(old) + "\"}",
                  std::nullopt, none);
  db.upsert_build("gs://b/j/word", "{\"timestamp\": \"yesterday\"}", std::nullopt, none);
  db.upsert_build("gs://b/j/no-ts", "{\"node\": \"n1\"}", std::nullopt, none);
  db.upsert_build("gs://b/j/malformed", "{\"timestamp\": 1", std::nullopt, none);
  db.upsert_build("gs://b/j/finished-only", std::nullopt, finished(fresh), int64_t{fresh});

  BOOST_TEST(db.is_present("gs://b/j/finished", kNow));
  BOOST_TEST(db.is_present("gs://b/j/finished-only", kNow));
  BOOST_TEST(db.is_present("gs://b/j/old", kNow));
  BOOST_TEST(db.is_present("gs://b/j/old-float", kNow));
  BOOST_TEST(db.is_present("gs://b/j/old-string", kNow));
  BOOST_TEST(!db.is_present("gs://b/j/fresh", kNow));
  BOOST_TEST(!db.is_present("gs://b/j/word", kNow));
  BOOST_TEST(!db.is_present("gs://b/j/no-ts", kNow));
  BOOST_TEST(!db.is_present("gs://b/j/malformed", kNow));
  BOOST_TEST(!db.is_present("gs://b/j/none", kNow));
  BOOST_TEST(!db.is_present("gs://b/j/old", old + kDay));  // relative to the given now
}

BOOST_AUTO_TEST_CASE(junit_missing_marks_can_be_cleared_while_scanning) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  const int n = 2500;  // more than one page
  db.begin();
  for (int i = 0; i < n; ++i) add_finished(db, "gs://b/j/" + std::to_string(i), 1000 + i);
  db.commit();

  int seen = 0;
  int64_t last = 0;
  db.for_each_junit_missing([&](int64_t id, const std::string& path) {
    BOOST_TEST(id > last);
    last = id;
    BOOST_TEST(db.find_build(path)->id == id);
    db.put_file(path + "/artifacts/junit_01.xml", zlib_compress(kJunit));
    db.clear_junit_missing(id);
    ++seen;
    return true;
  });
  BOOST_TEST(seen == n);
  BOOST_TEST(junit_missing(db).empty());

  // A replaced build leaves a mark on its old rowid: that one is dropped.
  db.upsert_build("gs://b/j/x", started(1), std::nullopt, kettle::rows::FinishedTime{});
  add_finished(db, "gs://b/j/x", 1);
  add_finished(db, "gs://b/j/y", 2);
  BOOST_TEST(junit_missing(db) == (std::vector<std::pair<int64_t, std::string>>{
                                      {db.find_build("gs://b/j/x")->id, "gs://b/j/x"},
                                      {db.find_build("gs://b/j/y")->id, "gs://b/j/y"}}));
  BOOST_TEST(RawDb(db.path()).query("select count(*) from build_junit_missing").at(0).at(0) == "2");
  int calls = 0;
  db.for_each_junit_missing([&](int64_t, const std::string&) { return ++calls < 1; });
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(files_of_a_build_exclude_longer_build_numbers) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  db.put_file("gs://b/j/1/artifacts/junit_b.xml", zlib_compress("b"));
  db.put_file("gs://b/j/10/artifacts/junit.xml", zlib_compress("ten"));
  db.put_file("gs://b/j/1/artifacts/junit_a.xml", zlib_compress("a"));
  db.put_file("gs://b/j/100/artifacts/junit.xml", zlib_compress("hundred"));
  db.put_file("gs://b/j/1", zlib_compress("not under the build"));

  auto one = files_of(db, "gs://b/j/1");
  BOOST_REQUIRE(one.size() == 2u);
  BOOST_TEST(one[0].path == "gs://b/j/1/artifacts/junit_a.xml");
  BOOST_TEST(one[1].path == "gs://b/j/1/artifacts/junit_b.xml");
  BOOST_TEST(*zlib_decompress(one[0].zlib_data) == "a");
  auto ten = files_of(db, "gs://b/j/10");
  BOOST_REQUIRE(ten.size() == 1u);
  BOOST_TEST(*zlib_decompress(ten[0].zlib_data) == "ten");
  BOOST_TEST(files_of(db, "gs://b/j/2").empty());
}

BOOST_AUTO_TEST_CASE(file_data_is_binary_safe_and_replaced_by_path) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  std::string blob("\0\x01\x02\0zz", 6);
  db.put_file("gs://b/j/1/artifacts/junit.xml", blob);
  BOOST_TEST(files_of(db, "gs://b/j/1").at(0).zlib_data == blob);
  db.put_file("gs://b/j/1/artifacts/junit.xml", "");
  auto files = files_of(db, "gs://b/j/1");
  BOOST_REQUIRE(files.size() == 1u);
  BOOST_TEST(files[0].zlib_data.empty());
}

BOOST_AUTO_TEST_CASE(explicit_transactions_commit_and_roll_back) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  auto table = IncrementalTable::for_days(std::nullopt);

  db.begin();
  add_finished(db, "gs://b/j/1", 100);
  db.put_file("gs://b/j/1/artifacts/junit.xml", zlib_compress(kJunit));
  db.rollback();
  BOOST_TEST(!db.find_build("gs://b/j/1").has_value());
  BOOST_TEST(files_of(db, "gs://b/j/1").empty());
  BOOST_TEST(junit_missing(db).empty());

  db.begin();
  int64_t id = add_finished(db, "gs://b/j/1", 100);
  BOOST_TEST(db.insert_emitted(table, {id}) == 0);
  db.commit();
  BOOST_TEST(db.oldest_emitted(table).value() == 100.0);

  db.begin();
  BOOST_TEST(db.insert_emitted(table, {id}) == 1);
  db.rollback();
  BOOST_TEST(db.insert_emitted(table, {id}) == 1);  // the rolled-back gen is free again

  db.rollback();  // no transaction open: nothing to do
  BOOST_CHECK_THROW(db.commit(), StoreError);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- emission

BOOST_AUTO_TEST_SUITE(emission)

BOOST_AUTO_TEST_CASE(unemitted_builds_come_in_finished_time_order_within_the_window) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  auto table = IncrementalTable::for_days(std::nullopt);
  add_finished(db, "gs://b/j/300", 300);
  add_finished(db, "gs://b/j/100", 100);
  db.upsert_build("gs://b/j/running", started(50), std::nullopt, kettle::rows::FinishedTime{});
  db.upsert_build("gs://b/j/150.5", started(50), "{\"timestamp\": 150.5}",
                  kettle::rows::FinishedTime{150.5});
  add_finished(db, "gs://b/j/200", 200);

  BOOST_TEST(unemitted_paths(db, table) ==
             (Strings{"gs://b/j/100", "gs://b/j/150.5", "gs://b/j/200", "gs://b/j/300"}));
  BOOST_TEST(unemitted_paths(db, table, 150.0) ==
             (Strings{"gs://b/j/150.5", "gs://b/j/200", "gs://b/j/300"}));
  BOOST_TEST(unemitted_paths(db, table, 200.0) == (Strings{"gs://b/j/200", "gs://b/j/300"}));
  BOOST_TEST(unemitted_paths(db, table, 300.5).empty());

  int calls = 0;
  db.for_each_unemitted(table, std::nullopt, [&](StoredBuild&&) { return ++calls < 2; });
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(one_scan_of_several_windows_marks_which_windows_want_each_build) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  const auto wide = IncrementalTable::for_days(30.0);
  const auto narrow = IncrementalTable::for_days(1.0);
  const int64_t a = add_finished(db, "gs://b/j/a", 100);
  add_finished(db, "gs://b/j/b", 200);
  const int64_t c = add_finished(db, "gs://b/j/c", 200);  // a tie: rowid order
  add_finished(db, "gs://b/j/d", 300);
  add_finished(db, "gs://b/j/e", 120);  // before the narrow window
  db.insert_emitted(wide, {a, c});
  db.insert_emitted(narrow, {c});
  std::vector<std::pair<std::string, uint32_t>> seen;
  db.for_each_unemitted_in({{wide, 50.0}, {narrow, 150.0}}, [&](StoredBuild&& b, uint32_t wanted) {
    seen.emplace_back(b.path, wanted);
    return true;
  });
  // a: only the wide window (the narrow one starts later); c: in both tables already.
  const std::vector<std::pair<std::string, uint32_t>> expected{
      {"gs://b/j/e", 1}, {"gs://b/j/b", 3}, {"gs://b/j/d", 3}};
  BOOST_TEST((seen == expected));
  seen.clear();
  db.for_each_unemitted_in({{narrow, 150.0}, {wide, std::nullopt}}, [&](StoredBuild&& b, uint32_t wanted) {
    seen.emplace_back(b.path, wanted);
    return true;
  });
  const std::vector<std::pair<std::string, uint32_t>> swapped{
      {"gs://b/j/e", 2}, {"gs://b/j/b", 3}, {"gs://b/j/d", 3}};
  BOOST_TEST((seen == swapped));
  BOOST_CHECK_THROW(db.for_each_unemitted_in({{wide, 1.0}, {wide, 2.0}}, [](StoredBuild&&, uint32_t) { return true; }),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(callbacks_may_query_files_while_streaming) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  for (int i = 1; i <= 3; ++i) {
    std::string p = "gs://b/j/" + std::to_string(i);
    add_finished(db, p, i * 10);
    db.put_file(p + "/artifacts/junit_01.xml", zlib_compress("x" + std::to_string(i)));
    db.put_file(p + "/artifacts/junit_02.xml", zlib_compress("y" + std::to_string(i)));
  }
  Strings seen;
  db.for_each_unemitted(IncrementalTable::for_days(std::nullopt), std::nullopt,
                        [&](StoredBuild&& b) {
                          BOOST_TEST(db.find_build(b.path)->id == b.id);
                          // A nested scan of the same cached statement gets its own copy.
                          db.for_each_file_of(b.path, [&](StoredFile&& outer) {
                            auto inner = files_of(db, b.path);
                            BOOST_TEST(inner.size() == 2u);
                            seen.push_back(*zlib_decompress(outer.zlib_data));
                            return true;
                          });
                          return true;
                        });
  BOOST_TEST(seen == (Strings{"x1", "y1", "x2", "y2", "x3", "y3"}));
}

BOOST_AUTO_TEST_CASE(explicit_paths_skip_unknown_and_emitted_builds) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  auto manual = IncrementalTable::manual();
  add_finished(db, "gs://b/j/300", 300);
  add_finished(db, "gs://b/j/100", 100);
  int64_t emitted = add_finished(db, "gs://b/j/200", 200);
  db.upsert_build("gs://b/j/running", started(50), std::nullopt, kettle::rows::FinishedTime{});
  db.insert_emitted(manual, {emitted});

  Strings wanted{"gs://b/j/300", "gs://b/j/missing", "gs://b/j/200",
                 "gs://b/j/100", "gs://b/j/running", "gs://b/j/100"};
  // As the reference orders them: NULL finished_time first.
  BOOST_TEST(paths_in(db, manual, wanted) ==
             (Strings{"gs://b/j/running", "gs://b/j/100", "gs://b/j/300"}));
  BOOST_TEST(paths_in(db, manual, {"gs://b/j/300"}) ==
             Strings{"gs://b/j/300"});  // earlier list forgotten
  BOOST_TEST(paths_in(db, manual, {}).empty());
}

BOOST_AUTO_TEST_CASE(explicit_paths_beyond_the_sql_variable_limit) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  const int n = 40'000;
  Strings wanted;
  db.begin();
  for (int i = 0; i < n; ++i) {
    std::string p = "gs://b/j/" + std::to_string(i);
    add_finished(db, p, 2 * n - i);  // later builds finished earlier
    if (i % 2 == 0) wanted.push_back(p);
  }
  db.commit();
  Strings got = paths_in(db, IncrementalTable::manual(), wanted);
  BOOST_REQUIRE(got.size() == wanted.size());
  BOOST_TEST(got.front() == wanted.back());
  BOOST_TEST(got.back() == wanted.front());
}

BOOST_AUTO_TEST_CASE(generations_count_up_and_reset_is_per_table) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  auto all = IncrementalTable::for_days(std::nullopt);
  auto day = IncrementalTable::for_days(1);
  int64_t a = add_finished(db, "gs://b/j/1", 100);
  int64_t b = add_finished(db, "gs://b/j/2", 200);

  BOOST_TEST(!db.oldest_emitted(day).has_value());
  BOOST_TEST(!has_table(db, day.name()));  // asking does not create it
  BOOST_TEST(db.insert_emitted(all, {a}) == 0);
  BOOST_TEST(db.insert_emitted(all, {b}) == 1);
  BOOST_TEST(db.insert_emitted(all, {}) == 2);
  BOOST_TEST(db.insert_emitted(day, {b}) == 0);
  BOOST_TEST(db.oldest_emitted(all).value() == 100.0);
  BOOST_TEST(db.oldest_emitted(day).value() == 200.0);
  BOOST_TEST(unemitted_paths(db, all).empty());
  BOOST_TEST(unemitted_paths(db, day) == Strings{"gs://b/j/1"});

  db.reset_emitted(day);
  BOOST_TEST(!db.oldest_emitted(day).has_value());
  BOOST_TEST(unemitted_paths(db, day) == (Strings{"gs://b/j/1", "gs://b/j/2"}));
  BOOST_TEST(db.insert_emitted(day, {a}) == 0);
  BOOST_TEST(unemitted_paths(db, all).empty());  // untouched
  BOOST_TEST(db.oldest_emitted(all).value() == 100.0);
  db.reset_emitted(day);
  db.reset_emitted(day);  // dropping a missing table is fine
}

BOOST_AUTO_TEST_CASE(oldest_emitted_reads_old_text_values) {
  TempDir tmp;
  std::string path = tmp.file("build.db");
  auto table = IncrementalTable::for_days(7);
  {
    Database db(path);
    db.insert_emitted(table, {});
    BOOST_TEST(!db.oldest_emitted(table).has_value());  // table exists, empty
  }
  {
    RawDb raw(path);
    raw.exec(
        "insert into build values ('gs://b/j/1', NULL, '{}', '1500.5'), ('gs://b/j/2', NULL, '{}', "
        "2000)");
    raw.exec("insert into build_emitted_7 values (1, 0), (2, 0)");
  }
  Database db(path);
  BOOST_TEST(db.oldest_emitted(table).value() == 1500.5);
  RawDb(path).exec("update build set finished_time = 'soon' where rowid = 1");
  BOOST_TEST(db.oldest_emitted(table).value() == 0.0);  // unreadable: the oldest possible
}

BOOST_AUTO_TEST_CASE(fifty_thousand_builds_stream_in_order) {
  TempDir tmp;
  Database db(tmp.file("build.db"));
  const int n = 50'000;
  std::vector<int64_t> finished_at(n);
  db.begin();
  for (int i = 0; i < n; ++i) {
    finished_at[i] = 1'000 + (static_cast<int64_t>(i) * 7'919) % n;  // a permutation
    std::string p = "gs://b/j/" + std::to_string(i);
    db.upsert_build(p, started(finished_at[i] - 1), finished(finished_at[i]),
                    kettle::rows::FinishedTime{finished_at[i]});
  }
  db.commit();

  int count = 0;
  int64_t previous = 0;
  bool ordered = true;
  db.for_each_unemitted(IncrementalTable::for_days(std::nullopt), std::nullopt,
                        [&](StoredBuild&& b) {
                          int i = std::stoi(b.path.substr(b.path.rfind('/') + 1));
                          ordered = ordered && finished_at[i] > previous;
                          previous = finished_at[i];
                          ++count;
                          return true;
                        });
  BOOST_TEST(count == n);
  BOOST_TEST(ordered);
  BOOST_TEST(previous == 1'000 + n - 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- listing state

BOOST_AUTO_TEST_SUITE(listing_state)

BOOST_AUTO_TEST_CASE(rows_round_trip_and_replace) {
  TempDir tmp;
  using kettle::store::ListingCursor;
  const ListingCursor job{"gs://b/logs/job/", "1318681111894691840", kNow, 2500, 3,
                          {"1318681111894691000", "1318681111894691001"}};
  const ListingCursor other{"gs://b/logs/job-2/", "", 0, 7, 7, {}};
  const ListingCursor pr_dir{"gs://b/pr-logs/directory/", "", kNow, 10, 10, {}};
  {
    Database db(tmp.file("build.db"));
    BOOST_TEST(!db.listing_cursor(job.prefix));
    db.put_listing_cursor(job);
    db.put_listing_cursor(other);
    db.put_listing_cursor(pr_dir);
  }
  Database db(tmp.file("build.db"), /*create=*/false);
  BOOST_TEST((db.listing_cursor(job.prefix) == job));
  BOOST_TEST((db.listing_cursor(other.prefix) == other));
  ListingCursor moved = job;
  moved.cursor = "1318681111894691999";
  moved.kept.clear();
  db.put_listing_cursor(moved);
  BOOST_TEST((db.listing_cursor(job.prefix) == moved));
  // Rows strictly below a prefix, in order: "job-2/" sorts before "job/".
  std::vector<std::string> below;
  db.for_each_listing_cursor_under("gs://b/logs/", [&](const ListingCursor& r) { below.push_back(r.prefix); });
  BOOST_TEST(below == (std::vector<std::string>{"gs://b/logs/job-2/", "gs://b/logs/job/"}),
             boost::test_tools::per_element());
  below.clear();
  db.for_each_listing_cursor_under(pr_dir.prefix, [&](const ListingCursor& r) { below.push_back(r.prefix); });
  BOOST_TEST(below.empty());
}

BOOST_AUTO_TEST_CASE(a_reference_database_gains_the_table_and_keeps_its_own) {
  TempDir tmp;
  {
    RawDb ref(tmp.file("ref.db"));
    for (const char* sql : kReferenceSchema) ref.exec(sql);
    ref.exec("insert into build values ('gs://b/logs/j/1', '{}', null, null)");
  }
  { Database db(tmp.file("ref.db"), /*create=*/false); }
  RawDb raw(tmp.file("ref.db"));
  BOOST_TEST(raw.query("select count(*) from listing_cursor").at(0).at(0) == "0");
  BOOST_TEST(raw.query("select gcs_path from build").at(0).at(0) == "gs://b/logs/j/1");
}

BOOST_AUTO_TEST_SUITE_END()
