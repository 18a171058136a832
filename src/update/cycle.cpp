#include "kettle/update/cycle.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>

#include "kettle/config/buckets.hpp"
#include "kettle/emit/make_json.hpp"
#include "kettle/obs/health.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/store/database.hpp"
#include "kettle/stream/freshness.hpp"
#include "kettle/stream/stream.hpp"
#include "kettle/update/bq_load.hpp"
#include "kettle/update/prune.hpp"

namespace kettle::update {
namespace asio = boost::asio;

namespace {

struct LoadStep {
  std::string table;
  std::optional<double> days;  // make-json window and incremental table
  bool replace = false;        // rebuild the table (and its incremental table) from scratch
};

// The tables of each deployment (SPEC §6).
const LoadStep kProdSteps[] = {{"day", 1.0}, {"week", 7.0}, {"all", 30.0}};
const LoadStep kStagingStep{"staging", std::nullopt};

// Fetches buckets.yaml; the old file stays when the new one is unusable.
asio::awaitable<bool> refresh_buckets(app::Core& core, const UpdateOptions& opt) {
  if (opt.buckets_url.empty()) co_return true;
  const std::string& path = opt.collect.buckets_path;
  net::Request req("GET", opt.buckets_url, "");
  req.api = "buckets_url";
  auto resp = co_await core.http().request(std::move(req));
  if (!resp || resp->status != 200) {
    // The old list keeps kettle working: a warning, not an error.
    KLOG(warning) << obs::label("url", opt.buckets_url) << "cannot fetch " << opt.buckets_url << " (keeping " << path << "): "
                << (resp ? "HTTP " + std::to_string(resp->status) : resp.error().what());
    co_return false;
  }
  try {
    config::Buckets::parse(resp->body, opt.buckets_url);
  } catch (const std::exception& e) {
    KLOG(warning) << obs::label("url", opt.buckets_url) << "keeping the old " << path << ": " << e.what();
    co_return false;
  }
  std::string tmp = path + ".tmp";
  std::ofstream(tmp, std::ios::binary) << resp->body;
  std::filesystem::rename(tmp, path);
  KLOG(info) << "refreshed " << path << " from " << opt.buckets_url;
  co_return true;
}

emit::MakeJsonOptions make_json_options(app::Core& core, const UpdateOptions& opt, std::optional<double> days) {
  emit::MakeJsonOptions mj;
  mj.db_path = core.db_path();
  mj.buckets_path = opt.collect.buckets_path;
  mj.days = days;
  mj.should_stop = [&core] { return core.stopping(); };
  return mj;
}

// The cycle's make-json runs, one per table, as one scan into gzip files
// (each file and incremental table as its own run would leave them), then a
// load job per table.
asio::awaitable<bool> load_steps(app::Core& core, const UpdateOptions& opt, std::vector<LoadStep> steps) {
  emit::MakeJsonOptions mj = make_json_options(core, opt, std::nullopt);
  mj.junit_hold = emit::LoadHoldConfig{};  // rows wait for JUnit that the stream or next cycle retries
  std::vector<emit::MakeJsonOutput> outputs;
  for (const LoadStep& step : steps) {
    const auto file = std::filesystem::path(opt.work_dir) / ("build_" + step.table + ".json.gz");
    outputs.push_back({step.days, step.replace, file.string(), /*gzip=*/true});
  }
  // A named closure: g++ 12 destroys a temporary in a co_await expression twice.
  auto emit_rows = [mj, outputs] { return emit::run_make_json(mj, outputs); };
  auto made = co_await core.offload(emit_rows);
  bool ok = true;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (core.stopping()) break;
    if (made[i].rows == 0 && !steps[i].replace) {
      KLOG(info) << obs::label("stage", "load") << obs::label("table", steps[i].table) << "no new rows for "
                 << steps[i].table;
      continue;
    }
    BqLoadOptions load;
    load.dataset = opt.dataset;
    load.table = steps[i].table;
    load.replace = steps[i].replace;
    load.max_bad_records = opt.max_bad_records;
    load.file = *outputs[i].output;
    ok = co_await bq_load(core, load) == 0 && ok;
  }
  co_return ok;
}

// SPEC §6: day and week are rebuilt when the day table's oldest build is
// older than 1.9 days (or it is empty).
asio::awaitable<bool> day_table_is_stale(app::Core& core, const UpdateOptions& opt) {
  emit::MakeJsonOptions check = make_json_options(core, opt, 1.0);
  check.assert_oldest = 1.9;
  auto assert_oldest = [check] { return emit::run_make_json(check); };
  auto result = co_await core.offload(assert_oldest);
  co_return result.exit_code != 0;
}

asio::awaitable<bool> load_tables(app::Core& core, const UpdateOptions& opt) {
  if (!opt.prod) {
    std::vector<LoadStep> staging{kStagingStep};
    co_return co_await load_steps(core, opt, staging);
  }
  const bool rebuild = co_await day_table_is_stale(core, opt);
  if (rebuild) KLOG(info) << "day table is stale or empty: rebuilding day and week";
  std::vector<LoadStep> prod(std::begin(kProdSteps), std::end(kProdSteps));
  for (LoadStep& step : prod) step.replace = rebuild && step.table != "all";  // all is append-only
  co_return co_await load_steps(core, opt, prod);
}

// --retain-junit: a retention period that a window in use outlasts is an
// error every cycle (logged), not a reason to stop collecting. Staging's
// table is built from build_emitted: only builds recorded there may go.
asio::awaitable<bool> retention_phase(app::Core& core, const UpdateOptions& opt) {
  std::error_code missing;
  if (!std::filesystem::exists(core.db_path(), missing)) co_return true;  // nothing collected yet
  try {
    co_await run_prune(core, *opt.retain_junit, /*require_all_table=*/!opt.prod);
    co_return true;
  } catch (const store::CutoffError& e) {
    KLOG(error) << "--retain-junit: not pruning: " << e.what();
  } catch (const store::DiskFullError& e) {
    KLOG(error) << "--retain-junit: pruning stopped: " << e.what();
  }
  co_return false;
}

// Whether this cycle collects and loads: not while the disk is below
// --min-free, nor soon after a full disk; the stream goes on either way.
bool disk_allows_writes(app::Core& core, const UpdateOptions& opt, CollectionPause& pause) {
  const auto headroom = store::check_headroom(core.db_path(), opt.min_free);
  const bool allowed = pause.allow(headroom, CollectionPause::Clock::now());
  obs::metrics().collection_paused.get().set(allowed ? 0 : 1);
  if (!headroom.ok) {
    KLOG(error) << "collection and loads paused: " << headroom.message
                << "; the stream goes on, and collection resumes once space is freed";
  } else if (!allowed) {
    KLOG(error) << "collection and loads paused after a full disk; the stream goes on, and collection is retried in "
                << opt.pause.after_full.count() << " s at the latest once space is free";
  }
  return allowed;
}

// Runs a write phase; SQLITE_FULL ends it with an error (its transaction
// rolled back) and pauses collection instead of ending update.
template <class Phase>
asio::awaitable<bool> unless_disk_full(const char* what, app::Core& core, const UpdateOptions& opt,
                                       CollectionPause& pause, Phase phase) {
  std::string failure;
  try {
    co_return co_await phase();
  } catch (const store::DiskFullError& e) {
    failure = e.what();
  }
  KLOG(error) << what << " stopped by a full disk, retried later: " << failure;
  pause.disk_full(store::check_headroom(core.db_path(), opt.min_free), CollectionPause::Clock::now());
  obs::metrics().collection_paused.get().set(1);
  co_return false;
}

asio::awaitable<int> stream_until_stop_hour(app::Core& core, const UpdateOptions& opt,
                                           std::function<bool()> end_early) {
  if (opt.subscription.empty()) {
    // Nothing to stream: pause before the next cycle instead of recollecting at once.
    KLOG(warning) << "no subscription (SUBSCRIPTION_PATH): waiting " << opt.idle.count() << "s before the next cycle";
    co_await core.sleep(opt.idle);
    co_return 0;
  }
  stream::StreamOptions s;
  s.buckets_path = opt.collect.buckets_path;
  s.poll = opt.subscription;
  s.dataset = opt.dataset;
  s.tables = opt.prod ? std::vector<std::string>{"all:30", "day:1", "week:7"} : std::vector<std::string>{"staging:0"};
  s.stop_at = opt.stop_at;
  s.end_early = std::move(end_early);
  if (opt.junit_hold) s.junit_hold.hold = *opt.junit_hold;
  co_return co_await stream::run_stream(core, s);
}

}  // namespace

std::string use_stop_at_time_zone() {
  const char* tz = std::getenv("TZ");
  if (tz && *tz) return tz;
  ::setenv("TZ", kStopAtTimeZone, 1);
  ::tzset();
  return kStopAtTimeZone;
}

asio::awaitable<int> run_update(app::Core& core, UpdateOptions opt) {
  opt.collect.junit = true;
  // The freshness gauges from the start, read in the background while
  // collection runs: the first insert may be hours away.
  co_await core.connect(app::bigquery_api);
  std::vector<bigquery::TableRef> tables;
  std::vector<LoadStep> steps(std::begin(kProdSteps), std::end(kProdSteps));
  if (!opt.prod) steps = {kStagingStep};
  for (const LoadStep& step : steps)
    if (auto ref = bigquery::TableRef::in_dataset(opt.dataset, step.table)) tables.push_back(*ref);
  asio::co_spawn(core.io(), stream::seed_table_freshness(core.bigquery(), tables), asio::detached);
  const std::string zone = use_stop_at_time_zone();
  KLOG(info) << "update cycle: " << (opt.prod ? "prod (day, week, all)" : "staging") << ", dataset " << opt.dataset
             << (opt.collect.build_limit ? ", BUILD_LIMIT " + std::to_string(opt.collect.build_limit) : std::string())
             << (opt.once ? ", once" : ", stream phase until hour " + std::to_string(opt.stop_at) + " " + zone);
  obs::set_ready();
  CollectionPause pause(opt.pause);
  // While collection is paused, the stream phase ends once it may resume.
  auto resume_collection = [&core, &opt, &pause] {
    const auto now = CollectionPause::Clock::now();
    if (!pause.due(now)) return false;
    const bool resume = pause.should_resume(store::check_headroom(core.db_path(), opt.min_free), now);
    if (resume) KLOG(info) << "disk space is back: ending the stream phase so that collection resumes";
    return resume;
  };
  auto collect_step = [&core, &opt]() -> asio::awaitable<bool> {
    auto collected = co_await collect::make_db(core, opt.collect);
    co_return collect::exit_code(collected) == 0;
  };
  auto load_step = [&core, &opt] { return load_tables(core, opt); };
  int code = 0;
  do {
    bool ok = co_await refresh_buckets(core, opt);
    if (opt.retain_junit && !core.stopping()) ok = co_await retention_phase(core, opt) && ok;
    const bool writes = !core.stopping() && disk_allows_writes(core, opt, pause);
    if (writes) ok = co_await unless_disk_full("collection", core, opt, pause, collect_step) && ok;
    // Collection may have used the room the loads need: measured again.
    const bool loads = writes && !pause.paused() && !core.stopping() && disk_allows_writes(core, opt, pause);
    if (loads) ok = co_await unless_disk_full("loading", core, opt, pause, load_step) && ok;
    if (!loads) ok = false;
    code = ok ? 0 : 1;
    if (opt.once || core.stopping()) break;
    int streamed = 1;
    try {
      streamed = co_await stream_until_stop_hour(core, opt, resume_collection);
    } catch (const store::DiskFullError& e) {
      KLOG(error) << "stream stopped by a full disk, restarted after " << opt.pause.recheck.count()
                  << " s: " << e.what();
      pause.disk_full(store::check_headroom(core.db_path(), opt.min_free), CollectionPause::Clock::now());
    }
    if (streamed != 0) {
      code = 1;
      if (pause.paused()) co_await core.sleep(opt.pause.recheck);  // no spinning on a full disk
    }
  } while (!core.stopping());
  co_return core.stopping() ? 0 : code;
}

}  // namespace kettle::update
