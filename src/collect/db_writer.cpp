#include "kettle/collect/db_writer.hpp"

#include "kettle/obs/health.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::collect {

DbWriter::DbWriter(const std::string& db_path, size_t batch_size, std::string stage)
    : db_path_(db_path), batch_size_(batch_size ? batch_size : 1), stage_(std::move(stage)) {
  thread_ = std::thread([this] { run(); });
}

DbWriter::~DbWriter() {
  try {
    finish();
  } catch (const std::exception& e) {
    KLOG(error) << "database writer: " << e.what();
  }
}

bool DbWriter::push(Entry entry) {
  {
    std::lock_guard lock(mu_);
    if (failure_ || closing_) return false;
    queue_.push_back(std::move(entry));
  }
  cv_.notify_one();
  return true;
}

void DbWriter::write(BuildWrite build, std::function<void()> on_committed) {
  push({std::move(build), std::move(on_committed)});
}

void DbWriter::write(JunitWrite junit, std::function<void()> on_committed) {
  push({std::move(junit), std::move(on_committed)});
}

void DbWriter::write(ListingWrite listing) { push({std::move(listing), {}}); }

void DbWriter::after_commit(std::function<void()> fn) {
  // A barrier must always fire, or its waiter would wait forever; after a
  // failure it fires at once and the waiter finds failure() set.
  auto copy = fn;
  if (!push({std::monostate{}, std::move(fn)})) copy();
}

void DbWriter::finish() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (failure_) std::rethrow_exception(failure_);
}

std::exception_ptr DbWriter::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

WriterStats DbWriter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

size_t DbWriter::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void DbWriter::apply(store::Database& db, Item& item) {
  if (auto* b = std::get_if<BuildWrite>(&item)) {
    rows::FinishedTime ft;
    if (b->finished_json) ft = rows::finished_time_of(*b->finished_json);
    bool changed = db.upsert_build(b->path, b->started_json, b->finished_json, ft);
    std::lock_guard lock(mu_);
    ++(changed ? stats_.builds_written : stats_.builds_unchanged);
  } else if (auto* j = std::get_if<JunitWrite>(&item)) {
    for (const auto& f : j->files) db.put_file(f.path, f.zlib_data);
    db.clear_junit_missing(j->build_id);
    std::lock_guard lock(mu_);
    ++stats_.junit_builds;
    stats_.junit_files += j->files.size();
  } else if (auto* l = std::get_if<ListingWrite>(&item)) {
    db.put_listing_cursor(l->row);
  }
}

void DbWriter::run() {
  auto& stage = obs::stage(stage_);
  auto& builds_metric = obs::metrics().builds_collected.with({stage_});
  auto& junit_files_metric = obs::metrics().junit_files.with({stage_});
  auto& junit_bytes_metric = obs::metrics().junit_bytes.with({stage_});
  // Outside the try: the barriers of a batch that fails still fire below.
  std::deque<Entry> batch;
  try {
    store::Database db(db_path_);
    std::vector<std::function<void()>> callbacks;
    for (;;) {
      batch.clear();
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) return;  // closing and drained
        size_t n = std::min(batch_size_, queue_.size());
        for (size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      uint64_t junit_files = 0, junit_bytes = 0;
      for (const auto& e : batch) {
        if (const auto* j = std::get_if<JunitWrite>(&e.item)) {
          junit_files += j->files.size();
          junit_bytes += j->xml_bytes;
        }
      }
      const uint64_t written_before = stats().builds_written;
      db.begin();
      try {
        for (auto& e : batch) apply(db, e.item);
        db.commit();
      } catch (...) {
        db.rollback();
        throw;
      }
      for (auto& e : batch) {
        if (e.on_committed) callbacks.push_back(std::move(e.on_committed));
      }
      uint64_t written = 0;
      {
        std::lock_guard lock(mu_);
        ++stats_.commits;
        written = stats_.builds_written - written_before;
      }
      builds_metric.inc(static_cast<double>(written));
      junit_files_metric.inc(static_cast<double>(junit_files));
      junit_bytes_metric.inc(static_cast<double>(junit_bytes));
      stage.progress();
      for (auto& cb : callbacks) cb();
      callbacks.clear();
    }
  } catch (...) {
    std::deque<Entry> dropped;
    {
      std::lock_guard lock(mu_);
      failure_ = std::current_exception();
      dropped.swap(queue_);
    }
    // Writes are lost with the failure (never reported committed); barriers
    // still fire, those of the failed batch included, once failure() is set.
    for (auto* entries : {&batch, &dropped}) {
      for (auto& e : *entries)
        if (std::holds_alternative<std::monostate>(e.item) && e.on_committed) e.on_committed();
    }
  }
}

}  // namespace kettle::collect
