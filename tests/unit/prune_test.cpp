// Retention (store/prune.hpp), the disk headroom decision (store/headroom.hpp)
// and SQLITE_FULL as DiskFullError.
#include "kettle/store/prune.hpp"

#include <sqlite3.h>
#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "kettle/store/database.hpp"
#include "temp_dir.hpp"
#include "kettle/store/headroom.hpp"

namespace fs = std::filesystem;
using kettle::store::CutoffError;
using kettle::store::Database;
using kettle::store::DiskFullError;
using kettle::store::IncrementalTable;
using kettle::store::prune_junit;
using kettle::store::PruneOptions;
using kettle::store::PruneResult;
using kettle::store::StoredFile;

namespace {

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kDay = 86'400;

using kettle::test::TempDir;

// One integer from a query on `db`.
long long query_int(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  BOOST_REQUIRE_MESSAGE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK,
                        sqlite3_errmsg(db));
  long long v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  return v;
}

std::string integrity(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr);
  std::string out =
      sqlite3_step(s) == SQLITE_ROW ? reinterpret_cast<const char*>(sqlite3_column_text(s, 0)) : "";
  sqlite3_finalize(s);
  return out;
}

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, sql << ": " << msg);
}

// A finished build with `files` JUnit files of `bytes` bytes each; returns its id.
int64_t add_build(Database& db, const std::string& path, int64_t finished, int files = 1,
                  size_t bytes = 64) {
  db.upsert_build(path, "{\"timestamp\": " + std::to_string(finished - 100) + "}",
                  "{\"timestamp\": " + std::to_string(finished) + "}",
                  kettle::rows::FinishedTime{finished});
  const int64_t id = db.find_build(path)->id;
  for (int i = 0; i < files; ++i) {
    // Data that does not compress away, like zlib output.
    std::string data(bytes, '\0');
    for (size_t k = 0; k < bytes; ++k)
      data[k] = static_cast<char>((k * 2654435761u + id * 97 + i) >> 7);
    db.put_file(path + "/artifacts/junit_" + std::to_string(i) + ".xml", data);
  }
  db.clear_junit_missing(id);
  return id;
}

std::vector<StoredFile> files_of(Database& db, const std::string& build) {
  std::vector<StoredFile> out;
  db.for_each_file_of(build, [&](StoredFile&& f) {
    out.push_back(std::move(f));
    return true;
  });
  return out;
}

PruneOptions older_than_days(int64_t days) {
  PruneOptions opt;
  opt.older_than = std::chrono::seconds(days * kDay);
  opt.now = [] { return kNow; };
  opt.limits.pause_min = std::chrono::milliseconds(0);
  return opt;
}

void record_emitted(Database& db, std::optional<double> days, const std::vector<int64_t>& ids) {
  db.insert_emitted(IncrementalTable::for_days(days), ids);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(retention)

BOOST_AUTO_TEST_CASE(a_new_database_uses_incremental_auto_vacuum_an_existing_one_is_left_alone) {
  TempDir tmp;
  {
    Database db(tmp.file("new.db"));
    BOOST_TEST(query_int(db.handle(), "PRAGMA auto_vacuum") == 2);
  }
  {
    sqlite3* raw = nullptr;
    BOOST_REQUIRE(sqlite3_open(tmp.file("old.db").c_str(), &raw) == SQLITE_OK);
    exec(raw,
         "create table build(gcs_path primary key, started_json, finished_json, finished_time)");
    sqlite3_close(raw);
  }
  Database db(tmp.file("old.db"), /*create=*/false);
  BOOST_TEST(query_int(db.handle(), "PRAGMA auto_vacuum") == 0);
}

BOOST_AUTO_TEST_CASE(drops_the_junit_of_builds_older_than_the_cutoff_and_keeps_the_rest) {
  TempDir tmp;
  const std::string path = tmp.file("build.db");
  Database db(path);
  const int64_t old1 = add_build(db, "gs://b/logs/j/1", kNow - 20 * kDay, 2);
  const int64_t old2 = add_build(db, "gs://b/logs/j/2", kNow - 11 * kDay);
  const int64_t young = add_build(db, "gs://b/logs/j/3", kNow - 9 * kDay);
  const int64_t fresh = add_build(db, "gs://b/logs/j/4", kNow - kDay / 2);
  // An old build whose JUnit was never fetched: its mark goes, or it would be fetched again.
  db.upsert_build("gs://b/logs/j/5", std::nullopt, "{\"timestamp\": 1}",
                  kettle::rows::FinishedTime{kNow - 30 * kDay});
  // Build 1's files, and a build whose path extends it ("10": not its files, SPEC D7).
  const int64_t ten = add_build(db, "gs://b/logs/j/10", kNow - kDay);
  record_emitted(db, 1.0, {fresh});
  record_emitted(db, 7.0, {fresh, ten});
  const auto young_files = files_of(db, "gs://b/logs/j/3");
  const auto ten_files = files_of(db, "gs://b/logs/j/10");

  PruneResult r = prune_junit(path, older_than_days(10));
  BOOST_TEST(r.cutoff == kNow - 10 * kDay);
  BOOST_TEST(r.builds == 3u);
  BOOST_TEST(r.files == 3u);
  BOOST_TEST(r.junit_bytes == 3u * 64u);
  BOOST_TEST(r.marks_cleared == 1u);
  BOOST_TEST(!r.interrupted);
  BOOST_TEST(files_of(db, "gs://b/logs/j/1").empty());
  BOOST_TEST(files_of(db, "gs://b/logs/j/2").empty());
  BOOST_TEST(files_of(db, "gs://b/logs/j/3").size() == young_files.size());
  BOOST_TEST(files_of(db, "gs://b/logs/j/3")[0].zlib_data == young_files[0].zlib_data);
  BOOST_TEST(files_of(db, "gs://b/logs/j/10")[0].zlib_data == ten_files[0].zlib_data);
  // The build rows stay (never collected again); no mark is left to fetch their JUnit again.
  BOOST_TEST(query_int(db.handle(), "select count(*) from build") == 6);
  BOOST_TEST(query_int(db.handle(), "select count(*) from build_junit_missing") == 0);
  BOOST_TEST(query_int(db.handle(), "select count(*) from build_junit_pruned where build_id in (" +
                                        std::to_string(old1) + "," + std::to_string(old2) + ")") ==
             2);
  BOOST_TEST(query_int(db.handle(), "select count(*) from build_junit_pruned where build_id in (" +
                                        std::to_string(young) + "," + std::to_string(fresh) +
                                        ")") == 0);

  // Nothing left to do: a second prune drops nothing.
  PruneResult again = prune_junit(path, older_than_days(10));
  BOOST_TEST(again.builds == 0u);
  BOOST_TEST(again.files == 0u);
}

BOOST_AUTO_TEST_CASE(the_cutoff_must_outlast_every_window_in_use) {
  TempDir tmp;
  const std::string path = tmp.file("build.db");
  Database db(path);
  add_build(db, "gs://b/logs/j/1", kNow - 20 * kDay);
  record_emitted(db, 7.0, {});
  record_emitted(db, 0.5, {});
  record_emitted(db, std::nullopt, {});  // build_emitted: not a window
  try {
    prune_junit(path, older_than_days(7));
    BOOST_FAIL("a cutoff equal to a window was accepted");
  } catch (const CutoffError& e) {
    BOOST_TEST(std::string(e.what()).find("build_emitted_7") != std::string::npos, e.what());
  }
  BOOST_TEST(files_of(db, "gs://b/logs/j/1").size() == 1u);
  PruneOptions opt = older_than_days(7);
  opt.older_than += std::chrono::seconds(1);
  BOOST_CHECK_NO_THROW(prune_junit(path, opt));

  // A table that looks like a window but whose window cannot be read: refused, named.
  exec(db.handle(), "create table build_emitted_soon(build_id integer primary key, gen)");
  try {
    prune_junit(path, older_than_days(30));
    BOOST_FAIL("an unreadable window table was ignored");
  } catch (const CutoffError& e) {
    BOOST_TEST(std::string(e.what()).find("build_emitted_soon") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(where_build_emitted_exists_only_builds_recorded_there_are_pruned) {
  TempDir tmp;
  const std::string path = tmp.file("build.db");
  Database db(path);
  const int64_t a = add_build(db, "gs://b/logs/j/1", kNow - 20 * kDay);
  const int64_t b = add_build(db, "gs://b/logs/j/2", kNow - 20 * kDay);
  // update's staging cycle: nothing goes before its table is first loaded.
  PruneOptions staging = older_than_days(3);
  staging.require_all_table = true;
  BOOST_TEST(prune_junit(path, staging).builds == 0u);
  BOOST_TEST(files_of(db, "gs://b/logs/j/1").size() == 1u);
  record_emitted(db, std::nullopt, {a});
  // incremental_manual (explicit paths) proves nothing either way.
  db.insert_emitted(IncrementalTable::manual(), {a, b});
  BOOST_TEST(prune_junit(path, older_than_days(3)).builds == 1u);
  BOOST_TEST(files_of(db, "gs://b/logs/j/1").empty());
  BOOST_TEST(files_of(db, "gs://b/logs/j/2").size() == 1u);
  // Once emitted, the next prune takes it.
  record_emitted(db, std::nullopt, {b});
  BOOST_TEST(prune_junit(path, older_than_days(3)).builds == 1u);
  BOOST_TEST(files_of(db, "gs://b/logs/j/2").empty());
}

BOOST_AUTO_TEST_CASE(builds_without_a_numeric_finished_time_are_kept) {
  TempDir tmp;
  const std::string path = tmp.file("build.db");
  Database db(path);
  add_build(db, "gs://b/logs/j/text", kNow - 20 * kDay);
  add_build(db, "gs://b/logs/j/running", kNow - 20 * kDay);
  // The reference stored finished_time as text (windows select it always), or NULL (never
  // finished).
  exec(db.handle(),
       "update build set finished_time = '1600000000' where gcs_path = 'gs://b/logs/j/text'");
  exec(db.handle(),
       "update build set finished_time = NULL where gcs_path = 'gs://b/logs/j/running'");
  BOOST_TEST(prune_junit(path, older_than_days(3)).builds == 0u);
  BOOST_TEST(files_of(db, "gs://b/logs/j/text").size() == 1u);
  BOOST_TEST(files_of(db, "gs://b/logs/j/running").size() == 1u);
}

BOOST_AUTO_TEST_CASE(short_transactions_resume_where_they_ended_and_late_builds_are_found) {
  TempDir tmp;
  const std::string path = tmp.file("build.db");
  Database db(path);
  for (int i = 0; i < 25; ++i)
    add_build(db, "gs://b/logs/j/" + std::to_string(i), kNow - (40 - i % 5) * kDay);
  PruneOptions opt = older_than_days(10);
  opt.limits.builds_per_transaction = 4;
  // A stop requested after the second transaction.
  int polls = 0;
  opt.should_stop = [&polls] { return ++polls > 2; };
  PruneResult first = prune_junit(path, opt);
  BOOST_TEST(first.interrupted);
  BOOST_TEST(first.builds == 8u);
  BOOST_TEST(first.transactions == 2u);
  opt.should_stop = nullptr;
  PruneResult rest = prune_junit(path, opt);
  BOOST_TEST(!rest.interrupted);
  BOOST_TEST(rest.builds == 17u);
  BOOST_TEST(rest.transactions == 6u);  // 5 with builds, 1 that finds none
  BOOST_TEST(query_int(db.handle(), "select count(*) from file") == 0);
  // A build collected late with an old finished time (a new buckets.yaml entry) is pruned next
  // time.
  add_build(db, "gs://b/logs/late/1", kNow - 100 * kDay);
  BOOST_TEST(prune_junit(path, opt).builds == 1u);
  BOOST_TEST(query_int(db.handle(), "select count(*) from file") == 0);
}

BOOST_AUTO_TEST_CASE(incremental_vacuum_shrinks_a_new_database) {
  TempDir tmp;
  const std::string path = tmp.file("build.db");
  {
    Database db(path);
    db.begin();
    for (int i = 0; i < 200; ++i)
      add_build(db, "gs://b/logs/j/" + std::to_string(i), kNow - (i < 150 ? 60 : 1) * kDay, 1,
                20'000);
    db.commit();
    exec(db.handle(), "PRAGMA wal_checkpoint(TRUNCATE)");
  }
  PruneResult r = prune_junit(path, older_than_days(30));
  BOOST_TEST(r.incremental_vacuum);
  BOOST_TEST(r.builds == 150u);
  BOOST_TEST(r.junit_bytes == 150u * 20'000u);
  BOOST_TEST(r.freelist_pages == 0u);
  BOOST_TEST(r.pages_after < r.pages_before);
  // About 3 MB of JUnit left the file.
  BOOST_TEST(r.file_bytes_before - r.file_bytes_after > 2'500'000u);
  BOOST_TEST(kettle::store::describe(r).find("150 builds") != std::string::npos);
  Database db(path, false);
  BOOST_TEST(integrity(db.handle()) == "ok");
  BOOST_TEST(files_of(db, "gs://b/logs/j/199").size() == 1u);
}

BOOST_AUTO_TEST_CASE(without_auto_vacuum_freed_pages_are_reused) {
  TempDir tmp;
  const std::string path = tmp.file("build.db");
  {
    // A database as the reference creates it: auto_vacuum off.
    sqlite3* raw = nullptr;
    BOOST_REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    exec(raw,
         "create table build(gcs_path primary key, started_json, finished_json, finished_time)");
    sqlite3_close(raw);
  }
  uint64_t pages_before = 0;
  {
    Database db(path, false);
    db.begin();
    for (int i = 0; i < 100; ++i)
      add_build(db, "gs://b/logs/j/" + std::to_string(i), kNow - 60 * kDay, 1, 20'000);
    db.commit();
    pages_before = static_cast<uint64_t>(query_int(db.handle(), "PRAGMA page_count"));
  }
  PruneResult r = prune_junit(path, older_than_days(30));
  BOOST_TEST(!r.incremental_vacuum);
  BOOST_TEST(r.builds == 100u);
  BOOST_TEST(r.freelist_pages > 400u);  // about 2 MB at 4 KiB pages
  BOOST_TEST(r.pages_after >= pages_before);
  // New JUnit of the same size fills the freelist instead of growing the file.
  Database db(path, false);
  db.begin();
  for (int i = 0; i < 100; ++i)
    add_build(db, "gs://b/logs/k/" + std::to_string(i), kNow - kDay, 1, 20'000);
  db.commit();
  BOOST_TEST(static_cast<uint64_t>(query_int(db.handle(), "PRAGMA page_count")) <=
             r.pages_after + 10);
}

BOOST_AUTO_TEST_CASE(a_full_database_is_a_disk_full_error_and_nothing_is_half_written) {
  TempDir tmp;
  const std::string path = tmp.file("build.db");
  Database db(path);
  add_build(db, "gs://b/logs/j/1", kNow - kDay);
  // A size limit stands in for a full file system: SQLite answers SQLITE_FULL either way.
  const long long pages = query_int(db.handle(), "PRAGMA page_count");
  exec(db.handle(), "PRAGMA max_page_count=" + std::to_string(pages + 2));
  db.begin();
  try {
    for (int i = 0; i < 50; ++i)
      add_build(db, "gs://b/logs/j/big" + std::to_string(i), kNow, 1, 50'000);
    BOOST_FAIL("no SQLITE_FULL");
  } catch (const DiskFullError& e) {
    BOOST_TEST(std::string(e.what()).find("is full") != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find(path) != std::string::npos, e.what());
  }
  db.rollback();
  BOOST_TEST(query_int(db.handle(), "select count(*) from build") == 1);
  BOOST_TEST(query_int(db.handle(), "select count(*) from file") == 1);
  BOOST_TEST(integrity(db.handle()) == "ok");
}

BOOST_AUTO_TEST_CASE(periods_print_as_flags_take_them) {
  using kettle::store::format_period;
  using namespace std::chrono_literals;
  BOOST_TEST(format_period(std::chrono::hours(90 * 24)) == "90d");
  BOOST_TEST(format_period(72h) == "3d");
  BOOST_TEST(format_period(36h + 30s) == "1d12h30s");
  BOOST_TEST(format_period(90s) == "1m30s");
  BOOST_TEST(format_period(0s) == "0s");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(headroom)

using kettle::obs::FilesystemSpace;
using kettle::store::evaluate_headroom;

BOOST_AUTO_TEST_CASE(below_min_free_is_refused_with_what_where_and_what_to_do) {
  const uint64_t gib = uint64_t{1} << 30;
  auto low = evaluate_headroom("/data/build.db", FilesystemSpace{gib, 100 * gib}, 2 * gib);
  BOOST_TEST(!low.ok);
  BOOST_TEST(low.message.find("1.0 GiB of 100.0 GiB") != std::string::npos, low.message);
  BOOST_TEST(low.message.find("/data/build.db") != std::string::npos, low.message);
  BOOST_TEST(low.message.find("--min-free 2.0 GiB") != std::string::npos, low.message);
  BOOST_TEST(low.message.find("kettle prune") != std::string::npos, low.message);
  BOOST_TEST(evaluate_headroom("/d", FilesystemSpace{2 * gib, 100 * gib}, 2 * gib).ok);
  // 0 turns the check off; a file system that cannot be measured does not stop collection.
  BOOST_TEST(evaluate_headroom("/d", FilesystemSpace{0, 100 * gib}, 0).ok);
  BOOST_TEST(evaluate_headroom("/d", std::nullopt, 2 * gib).ok);
}

BOOST_AUTO_TEST_CASE(the_real_file_system_is_measured) {
  TempDir tmp;
  auto h = kettle::store::check_headroom(tmp.file("build.db"), 1);
  BOOST_REQUIRE(h.space.has_value());
  BOOST_TEST(h.space->size_bytes > 0u);
  BOOST_TEST(h.space->size_bytes >= h.space->free_bytes);
  BOOST_TEST(!kettle::store::check_headroom(tmp.file("build.db"), h.space->size_bytes + 1).ok);
  BOOST_TEST(!kettle::store::check_headroom("/no/such/dir/build.db", 1).space.has_value());
}

BOOST_AUTO_TEST_CASE(sizes_read_as_people_write_them) {
  using kettle::store::human_bytes;
  BOOST_TEST(human_bytes(512) == "512 B");
  BOOST_TEST(human_bytes(1536) == "1.5 KiB");
  BOOST_TEST(human_bytes(uint64_t{2} << 30) == "2.0 GiB");
}

BOOST_AUTO_TEST_SUITE_END()
