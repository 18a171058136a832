// The single database writer of make-db and stream: one thread applies
// queued writes in batched transactions.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "kettle/rows/build_json.hpp"
#include "kettle/store/database.hpp"

namespace kettle::collect {

struct BuildWrite {
  std::string path;
  std::optional<std::string> started_json;   // DB text
  std::optional<std::string> finished_json;  // DB text
};

struct JunitWrite {
  int64_t build_id = 0;
  std::vector<store::StoredFile> files;  // zlib data
  uint64_t xml_bytes = 0;                // as downloaded, before stripping
};

// make-db's listing state of one prefix; queued after the prefix's builds, so
// it is committed with them or after them, never before.
struct ListingWrite {
  store::ListingCursor row;
};

struct WriterStats {
  uint64_t builds_written = 0;  // upserts that changed the database
  uint64_t builds_unchanged = 0;
  uint64_t junit_builds = 0;
  uint64_t junit_files = 0;
  uint64_t commits = 0;
};

class DbWriter {
 public:
  // Opens its own connection to `db_path`. A batch is committed after
  // `batch_size` writes, or as soon as the queue runs dry. Commits count in
  // the metrics and as progress of the health stage `stage`.
  DbWriter(const std::string& db_path, size_t batch_size, std::string stage);
  ~DbWriter();  // finishes (commits) what is queued
  DbWriter(const DbWriter&) = delete;
  DbWriter& operator=(const DbWriter&) = delete;

  // `on_committed` runs on the writer thread once the write is durable
  // (committed); for stream acknowledgements. Thread-safe.
  void write(BuildWrite build, std::function<void()> on_committed = {});
  void write(JunitWrite junit, std::function<void()> on_committed = {});
  void write(ListingWrite listing);
  // Runs `fn` after everything queued before is committed (on the writer
  // thread), or at once when the writer has failed (check failure()).
  void after_commit(std::function<void()> fn);

  // Commits the rest and stops the thread; rethrows a writer failure.
  void finish();
  // The failure that stopped the writer, if any (then writes are dropped).
  std::exception_ptr failure() const;
  WriterStats stats() const;
  size_t queued() const;

 private:
  using Item = std::variant<BuildWrite, JunitWrite, ListingWrite, std::monostate>;
  struct Entry {
    Item item;
    std::function<void()> on_committed;
  };
  bool push(Entry entry);  // false: dropped (failed or closing)
  void run();
  void apply(store::Database& db, Item& item);

  std::string db_path_;
  size_t batch_size_;
  std::string stage_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Entry> queue_;
  bool closing_ = false;
  std::exception_ptr failure_;
  WriterStats stats_;
  std::thread thread_;
};

}  // namespace kettle::collect
