#include "kettle/emit/row_pipeline.hpp"

#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "kettle/obs/log.hpp"
#include "kettle/rows/builder.hpp"
#include "kettle/store/zlib_codec.hpp"

namespace kettle::emit {

namespace {

// What a worker does with one build: inflate each JUnit blob into one reused
// buffer and feed it to the row builder, so a build's files are never all
// inflated at once.
class RowMaker {
 public:
  explicit RowMaker(const config::Buckets& buckets) : builder_(buckets) {}

  BuiltRow make(BuildWork&& work) {
    BuiltRow out;
    out.build_id = work.build.id;
    out.outputs = work.outputs;
    out.path = std::move(work.build.path);
    builder_.start(out.path);
    for (auto& file : work.files) {
      const auto xml = inflater_.inflate(file.zlib_data);
      if (!xml) {
        KLOG(warning) << "JUnit file " << file.path << " is not a valid zlib stream; its tests are left out";
        continue;
      }
      builder_.add_junit(file.path, *xml);
    }
    rows::RowLine row = builder_.finish(work.build.started_json, work.build.finished_json);
    if (row.ok()) {
      out.line = std::move(row.line);
    } else {
      out.error = std::move(row.error);
    }
    return out;
  }

 private:
  store::Inflater inflater_;
  rows::RowBuilder builder_;
};

// Shared state of one pipeline run, guarded by one mutex: the work is coarse
// (a whole build per item), so contention is negligible.
struct PipelineState {
  std::mutex mu;
  std::condition_variable work_ready;     // workers wait for jobs
  std::condition_variable result_ready;   // the consumer waits for the next row
  std::condition_variable window_open;    // the producer waits for room
  std::deque<std::pair<uint64_t, BuildWork>> jobs;
  std::map<uint64_t, BuiltRow> results;
  uint64_t produced = 0;
  uint64_t consumed = 0;
  bool producer_done = false;
  bool stopping = false;
  std::exception_ptr error;
};

void worker_loop(PipelineState& st, const config::Buckets& buckets) {
  RowMaker maker(buckets);
  for (;;) {
    std::pair<uint64_t, BuildWork> job;
    {
      std::unique_lock lock(st.mu);
      st.work_ready.wait(lock, [&] { return st.stopping || !st.jobs.empty() || st.producer_done; });
      if (st.stopping || (st.jobs.empty() && st.producer_done)) return;
      job = std::move(st.jobs.front());
      st.jobs.pop_front();
    }
    BuiltRow row;
    try {
      row = maker.make(std::move(job.second));
    } catch (const std::exception& e) {
      row.build_id = job.second.build.id;
      row.outputs = job.second.outputs;
      row.error = e.what();
    }
    {
      std::lock_guard lock(st.mu);
      st.results.emplace(job.first, std::move(row));
    }
    st.result_ready.notify_one();
  }
}

}  // namespace

void run_row_pipeline(const std::function<void(const BuildSink&)>& produce, const config::Buckets& buckets,
                      const PipelineConfig& config, const std::function<void(BuiltRow&&)>& consume) {
  unsigned threads = config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  const uint64_t window = std::max<uint64_t>(2, uint64_t{threads} * config.builds_per_thread);
  PipelineState st;

  auto fail = [&st](std::exception_ptr e) {
    std::lock_guard lock(st.mu);
    if (!st.error) st.error = e;
    st.stopping = true;
  };
  auto wake_all = [&st] {
    st.work_ready.notify_all();
    st.result_ready.notify_all();
    st.window_open.notify_all();
  };

  std::thread producer([&] {
    try {
      produce([&](BuildWork&& work) {
        std::unique_lock lock(st.mu);
        st.window_open.wait(lock, [&] { return st.stopping || st.produced - st.consumed < window; });
        if (st.stopping) return false;
        st.jobs.emplace_back(st.produced++, std::move(work));
        lock.unlock();
        st.work_ready.notify_one();
        return true;
      });
    } catch (...) {
      fail(std::current_exception());
    }
    {
      std::lock_guard lock(st.mu);
      st.producer_done = true;
    }
    wake_all();
  });

  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) workers.emplace_back([&] { worker_loop(st, buckets); });

  try {
    for (;;) {
      BuiltRow row;
      {
        std::unique_lock lock(st.mu);
        st.result_ready.wait(lock, [&] {
          return st.stopping || st.results.count(st.consumed) != 0 ||
                 (st.producer_done && st.consumed == st.produced);
        });
        if (st.stopping || st.results.count(st.consumed) == 0) break;
        auto it = st.results.find(st.consumed);
        row = std::move(it->second);
        st.results.erase(it);
        ++st.consumed;
      }
      st.window_open.notify_one();
      consume(std::move(row));
    }
  } catch (...) {
    fail(std::current_exception());
  }
  {
    std::lock_guard lock(st.mu);
    st.stopping = true;
  }
  wake_all();
  producer.join();
  for (auto& w : workers) w.join();
  if (st.error) std::rethrow_exception(st.error);
}

BuildWork read_build_work(store::Database& db, store::StoredBuild&& build) {
  BuildWork work;
  db.for_each_file_of(build.path, [&work](store::StoredFile&& f) {
    work.files.push_back(std::move(f));
    return true;
  });
  work.build = std::move(build);
  return work;
}

void feed_unemitted(store::Database& db, const store::IncrementalTable& table,
                    std::optional<double> min_finished_time, const BuildSink& sink) {
  db.for_each_unemitted(table, min_finished_time,
                        [&](store::StoredBuild&& b) { return sink(read_build_work(db, std::move(b))); });
}

}  // namespace kettle::emit
