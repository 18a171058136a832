#include "kettle/emit/make_json.hpp"

#include <chrono>
#include <cstdio>
#include <stdexcept>

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

std::unique_ptr<OutputSink> open_output(const std::optional<std::string>& output, bool gzip) {
  std::unique_ptr<OutputSink> sink;
  if (output) {
    FileBackend backend = io::backend_for("ndjson_write");
    KLOG(debug) << "writing " << *output << " with " << to_string(backend);
    sink = open_file_sink(*output, backend);
  } else {
    sink = open_stdout_sink();
  }
  if (gzip) sink = make_gzip_sink(std::move(sink));
  return sink;
}

std::string strip_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The start of a --days window; nullopt for no window (every finished build).
std::optional<double> window_start(std::optional<double> days, int64_t now) {
  if (!days || *days == 0) return std::nullopt;
  return static_cast<double>(now) - *days * kSecondsPerDay;
}

// One output during a run: where its rows go and which builds it took.
struct OutputState {
  store::IncrementalTable table;
  std::unique_ptr<OutputSink> sink;
  std::vector<int64_t> emitted;
  MakeJsonResult result;
};

// Calls fn(i) for each output i whose bit is set in `outputs`.
template <class Fn>
void for_each_output(uint32_t outputs, size_t count, Fn fn) {
  for (size_t i = 0; i < count; ++i)
    if (outputs & (uint32_t{1} << i)) fn(i);
}

// Builds the rows `produce` feeds (BuildWork::outputs selects the outputs
// that take each one), writes them, completes every output and only then
// marks what each took.
std::vector<MakeJsonResult> emit_rows(const MakeJsonOptions& opt, store::Database& db,
                                      const config::Buckets& buckets, std::vector<OutputState>& outs,
                                      const std::function<void(const BuildSink&)>& produce) {
  obs::Progress progress("rows");
  obs::Stage& stage = obs::stage("emit");
  auto busy = stage.busy();
  obs::set_ready();
  auto& rows_metric = obs::metrics().rows_emitted.get();

  auto produce_until_stop = [&](const BuildSink& to_workers) {
    // SIGTERM ends the scan; what was read is still written and marked.
    BuildSink until_stop = [&](BuildWork&& work) {
      return !(opt.should_stop && opt.should_stop()) && to_workers(std::move(work));
    };
    produce(until_stop);
  };
  auto consume = [&](BuiltRow&& row) {
    stage.progress();
    bool skip = true;
    if (!row.error.empty()) {
      // A build under no bucket of buckets.yaml: data to fix, not a fault of kettle.
      KLOG(warning) << obs::label("stage", "emit") << obs::label("url", row.path) << "no row for "
                    << obs::printable(row.path) << ": " << row.error;
    } else if (row.line.size() > opt.max_row_bytes) {
      KLOG(warning) << obs::label("stage", "emit") << obs::label("url", row.path) << "row for "
                    << obs::printable(row.path) << " is too big to emit (" << row.line.size() << " bytes), skipping";
    } else {
      skip = false;
    }
    if (skip) {
      for_each_output(row.outputs, outs.size(), [&](size_t i) { ++outs[i].result.skipped; });
      return;
    }
    row.line.push_back('\n');
    for_each_output(row.outputs, outs.size(), [&](size_t i) {
      OutputState& out = outs[i];
      out.sink->write(row.line);
      out.emitted.push_back(row.build_id);
      ++out.result.rows;
      rows_metric.inc();
    });
    progress.add(1);
  };
  run_row_pipeline(produce_until_stop, buckets, PipelineConfig{opt.threads}, consume);

  uint64_t bytes = 0;
  for (auto& out : outs) {
    out.sink->finish();
    bytes += out.sink->bytes_written();
  }
  char extra[64];
  std::snprintf(extra, sizeof extra, "%.1f MB written", static_cast<double>(bytes) / 1e6);
  progress.finish(extra);

  // Marked only after every output is complete: a failed run re-emits, never
  // loses. One transaction: all outputs are marked, or none.
  bool any = false;
  for (const auto& out : outs) any = any || !out.emitted.empty();
  if (any) db.begin();
  std::vector<MakeJsonResult> results;
  for (auto& out : outs) {
    if (out.emitted.empty()) {
      KLOG(info) << (outs.size() > 1 ? out.table.name() + ": " : "") << "no rows emitted";
    } else {
      out.result.gen = db.insert_emitted(out.table, out.emitted);
      KLOG(info) << (outs.size() > 1 ? out.table.name() + ": " : "") << "incremental progress gen #" << *out.result.gen;
    }
    results.push_back(out.result);
  }
  if (any) db.commit();
  return results;
}

// Whether the scan writes the row of `b` now (LoadHoldConfig): not while its
// JUnit is missing and it finished recently; past that, without tests and
// with a warning. The mark is read in the scan's snapshot (its query is open).
bool release_row(store::Database& db, const store::StoredBuild& b, int64_t now, const LoadHoldConfig& config) {
  switch (load_hold_verdict(db.junit_missing(b.id), b.finished_time, now, config)) {
    case LoadVerdict::emit:
      return true;
    case LoadVerdict::hold:
      return false;
    case LoadVerdict::late:
      obs::metrics().junit_hold_expired.get().inc();
      KLOG(warning) << obs::label("stage", "emit") << obs::label("url", b.path) << "JUnit of "
                    << obs::printable(b.path) << " still missing " << config.bound.count()
                    << " s after the build finished: its row goes without tests";
      return true;
  }
  return true;
}

}  // namespace

MakeJsonResult run_make_json(const MakeJsonOptions& opt) {
  if (opt.assert_oldest) {
    const int64_t now = opt.now ? opt.now() : system_now();
    store::Database db(opt.db_path, /*create=*/false);
    const auto table = store::IncrementalTable::for_days(opt.days);
    MakeJsonResult result;
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
  const MakeJsonOutput output{opt.days, opt.reset_emitted, opt.output, opt.gzip};
  if (opt.paths.empty()) return run_make_json(opt, {output}).front();

  // Explicit builds: exactly those, through the scratch table.
  store::Database db(opt.db_path, /*create=*/false);
  auto table = store::IncrementalTable::for_days(opt.days);
  auto buckets = config::Buckets::load(opt.buckets_path);
  if (opt.reset_emitted) db.reset_emitted(table);
  std::vector<std::string> paths;
  for (const auto& p : opt.paths) paths.push_back(strip_trailing_slash(p));
  table = store::IncrementalTable::manual();
  db.reset_emitted(table);
  std::vector<OutputState> outs;
  outs.push_back({table, open_output(opt.output, opt.gzip), {}, {}});
  auto produce = [&](const BuildSink& sink) {
    db.for_each_build_in(table, paths,
                         [&](store::StoredBuild&& b) { return sink(read_build_work(db, std::move(b))); });
  };
  return emit_rows(opt, db, buckets, outs, produce).front();
}

std::vector<MakeJsonResult> run_make_json(const MakeJsonOptions& opt, const std::vector<MakeJsonOutput>& outputs) {
  const int64_t now = opt.now ? opt.now() : system_now();
  store::Database db(opt.db_path, /*create=*/false);
  std::vector<store::EmitWindow> windows;
  for (const auto& o : outputs) windows.push_back({store::IncrementalTable::for_days(o.days), window_start(o.days, now)});
  // Checked before anything is dropped or opened.
  if (windows.size() > store::Database::kMaxEmitWindows)
    throw std::invalid_argument("more than " + std::to_string(store::Database::kMaxEmitWindows) + " outputs");
  size_t to_stdout = 0;
  for (size_t i = 0; i < windows.size(); ++i) {
    to_stdout += outputs[i].output ? 0 : 1;
    for (size_t j = 0; j < i; ++j) {
      if (windows[i].table.name() == windows[j].table.name())
        throw std::invalid_argument("two outputs share the table " + windows[i].table.name());
    }
  }
  if (to_stdout > 1) throw std::invalid_argument("only one output may be standard output");
  auto buckets = config::Buckets::load(opt.buckets_path);
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].reset_emitted) db.reset_emitted(windows[i].table);
  }
  std::vector<OutputState> outs;
  for (size_t i = 0; i < outputs.size(); ++i)
    outs.push_back({windows[i].table, open_output(outputs[i].output, outputs[i].gzip), {}, {}});
  std::vector<uint64_t> held(outs.size(), 0);
  uint64_t held_builds = 0;
  auto produce = [&](const BuildSink& sink) {
    db.for_each_unemitted_in(windows, [&](store::StoredBuild&& b, uint32_t wanted) {
      if (opt.junit_hold && !release_row(db, b, now, *opt.junit_hold)) {
        for_each_output(wanted, outs.size(), [&](size_t i) { ++held[i]; });
        ++held_builds;
        return !(opt.should_stop && opt.should_stop());
      }
      BuildWork work = read_build_work(db, std::move(b));
      work.outputs = wanted;
      return sink(std::move(work));
    });
  };
  auto results = emit_rows(opt, db, buckets, outs, produce);
  for (size_t i = 0; i < results.size(); ++i) results[i].held = held[i];
  if (opt.junit_hold) {
    KLOG(info) << obs::label("stage", "emit") << held_builds
               << " finished builds held back for their JUnit (retried by the stream and the next cycle)";
  }
  return results;
}

}  // namespace kettle::emit
