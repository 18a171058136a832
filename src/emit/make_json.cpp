#include "kettle/emit/make_json.hpp"

#include <chrono>
#include <cstdio>

#include "kettle/config/buckets.hpp"
#include "kettle/emit/file_sink.hpp"
#include "kettle/emit/gzip_chunks.hpp"
#include "kettle/emit/row_pipeline.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/obs/health.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/progress.hpp"
#include "kettle/store/database.hpp"

namespace kettle::emit {
namespace {

constexpr double kSecondsPerDay = 24 * 60 * 60;

int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<OutputSink> open_output(const MakeJsonOptions& opt) {
  std::unique_ptr<OutputSink> sink;
  if (opt.output) {
    FileBackend backend = probe_file_backend();
    KLOG(debug) << "writing " << *opt.output << " with " << to_string(backend);
    sink = open_file_sink(*opt.output, backend);
  } else {
    sink = open_stdout_sink();
  }
  if (opt.gzip) sink = make_gzip_sink(std::move(sink));
  return sink;
}

std::string strip_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

MakeJsonResult run_make_json(const MakeJsonOptions& opt) {
  const int64_t now = opt.now ? opt.now() : system_now();
  store::Database db(opt.db_path, /*create=*/false);
  auto table = store::IncrementalTable::for_days(opt.days);
  MakeJsonResult result;

  if (opt.assert_oldest) {
    auto oldest = db.oldest_emitted(table);
    double limit = static_cast<double>(now) - *opt.assert_oldest * kSecondsPerDay;
    if (!oldest) {
      KLOG(info) << table.name() << " is empty: nothing was emitted yet";
      result.exit_code = 1;
    } else if (*oldest < limit) {
      KLOG(info) << "oldest build in " << table.name() << " finished at " << static_cast<int64_t>(*oldest)
                 << ", more than " << *opt.assert_oldest << " days ago";
      result.exit_code = 1;
    }
    return result;
  }

  auto buckets = config::Buckets::load(opt.buckets_path);
  if (opt.reset_emitted) db.reset_emitted(table);

  std::vector<std::string> paths;
  for (const auto& p : opt.paths) paths.push_back(strip_trailing_slash(p));
  if (!paths.empty()) {
    table = store::IncrementalTable::manual();
    db.reset_emitted(table);
  }
  std::optional<double> min_finished;
  if (opt.days && *opt.days != 0) min_finished = static_cast<double>(now) - *opt.days * kSecondsPerDay;

  auto sink = open_output(opt);
  std::vector<int64_t> emitted;
  obs::Progress progress("rows");
  obs::Stage& stage = obs::stage("emit");
  auto busy = stage.busy();
  obs::set_ready();
  auto& rows_metric = obs::metrics().rows_emitted.get();

  auto produce = [&](const BuildSink& to_workers) {
    // SIGTERM ends the scan; what was read is still written and marked.
    BuildSink until_stop = [&](BuildWork&& work) {
      return !(opt.should_stop && opt.should_stop()) && to_workers(std::move(work));
    };
    if (!paths.empty()) {
      db.for_each_build_in(table, paths,
                           [&](store::StoredBuild&& b) { return until_stop(read_build_work(db, std::move(b))); });
    } else {
      feed_unemitted(db, table, min_finished, until_stop);
    }
  };
  auto consume = [&](BuiltRow&& row) {
    stage.progress();
    if (!row.error.empty()) {
      // A build under no bucket of buckets.yaml: data to fix, not a fault of kettle.
      KLOG(warning) << obs::label("stage", "emit") << obs::label("url", row.path) << "no row for "
                    << obs::printable(row.path) << ": " << row.error;
      ++result.skipped;
      return;
    }
    if (row.line.size() > opt.max_row_bytes) {
      KLOG(warning) << obs::label("stage", "emit") << obs::label("url", row.path) << "row for "
                    << obs::printable(row.path) << " is too big to emit (" << row.line.size() << " bytes), skipping";
      ++result.skipped;
      return;
    }
    row.line.push_back('\n');
    sink->write(row.line);
    emitted.push_back(row.build_id);
    ++result.rows;
    progress.add(1);
    rows_metric.inc();
  };
  run_row_pipeline(produce, buckets, PipelineConfig{opt.threads}, consume);
  sink->finish();

  char extra[64];
  std::snprintf(extra, sizeof extra, "%.1f MB written", static_cast<double>(sink->bytes_written()) / 1e6);
  progress.finish(extra);
  if (emitted.empty()) {
    KLOG(info) << "no rows emitted";
  } else {
    // Marked only after the output is complete: a failed run re-emits, never loses.
    result.gen = db.insert_emitted(table, emitted);
    KLOG(info) << "incremental progress gen #" << *result.gen;
  }
  return result;
}

}  // namespace kettle::emit
