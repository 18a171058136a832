#include "kettle/update/cycle.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kettle/cloud/context.hpp"
#include "kettle/collect/make_db.hpp"
#include "kettle/config/buckets.hpp"
#include "kettle/emit/make_json.hpp"
#include "kettle/net/url.hpp"
#include "kettle/obs/health.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/stream/stream.hpp"
#include "kettle/update/bq_load.hpp"

namespace kettle::update {
namespace asio = boost::asio;

namespace {

struct LoadStep {
  std::string table;
  std::optional<double> days;  // make-json window and incremental table
};

// Fetches buckets.yaml; the old file stays when the new one is unusable.
bool refresh_buckets(const UpdateOptions& opt) {
  if (opt.buckets_url.empty()) return true;
  cloud::Context cloud;
  std::string body;
  int code = cloud.run([&]() -> asio::awaitable<int> {
    net::Request req("GET", opt.buckets_url, "");
    req.api = "buckets_url";
    auto resp = co_await cloud.http().request(std::move(req));
    if (!resp || resp->status != 200) {
      KLOG(error) << "cannot fetch " << opt.buckets_url << ": "
                  << (resp ? "HTTP " + std::to_string(resp->status) : resp.error().what());
      co_return 1;
    }
    body = std::move(resp->body);
    co_return 0;
  });
  if (code != 0) return false;
  try {
    config::Buckets::parse(body, opt.buckets_url);
  } catch (const std::exception& e) {
    KLOG(error) << "keeping the old " << opt.buckets_path << ": " << e.what();
    return false;
  }
  std::string tmp = opt.buckets_path + ".tmp";
  std::ofstream(tmp, std::ios::binary) << body;
  std::filesystem::rename(tmp, opt.buckets_path);
  KLOG(info) << "refreshed " << opt.buckets_path << " from " << opt.buckets_url;
  return true;
}

bool collect(const UpdateOptions& opt, std::atomic<bool>& stop) {
  collect::MakeDbOptions db;
  db.db_path = opt.db_path;
  db.buckets_path = opt.buckets_path;
  db.junit = true;
  db.threads = opt.threads;
  db.build_limit = opt.build_limit;
  db.should_stop = [&stop] { return stop.load(); };
  if (opt.request_timeout > 0) net::limit_attempt_time(db.http, opt.request_timeout);
  auto result = collect::run_make_db(db);
  return result.listing_errors == 0;
}

// make-json for one table into a gzip file, then a load job; `replace`
// rebuilds the table from scratch.
bool load_table(const UpdateOptions& opt, const LoadStep& step, bool replace, std::atomic<bool>& stop) {
  emit::MakeJsonOptions mj;
  mj.db_path = opt.db_path;
  mj.buckets_path = opt.buckets_path;
  mj.days = step.days;
  mj.reset_emitted = replace;
  mj.gzip = true;
  mj.output = (std::filesystem::path(opt.work_dir) / ("build_" + step.table + ".json.gz")).string();
  mj.should_stop = [&stop] { return stop.load(); };
  auto made = emit::run_make_json(mj);
  if (made.rows == 0 && !replace) {
    KLOG(info) << "no new rows for " << step.table;
    return true;
  }
  BqLoadOptions load;
  load.dataset = opt.dataset;
  load.table = step.table;
  load.replace = replace;
  load.max_bad_records = opt.max_bad_records;
  load.schema_path = std::filesystem::exists(opt.schema_path) ? opt.schema_path : "";
  load.file = *mj.output;
  cloud::Context cloud;
  return cloud.run([&]() { return bq_load(cloud, load); }) == 0;
}

// SPEC §6: day and week are rebuilt when the day table's oldest build is
// older than 1.9 days (or it is empty).
bool day_table_is_stale(const UpdateOptions& opt) {
  emit::MakeJsonOptions check;
  check.db_path = opt.db_path;
  check.buckets_path = opt.buckets_path;
  check.days = 1;
  check.assert_oldest = 1.9;
  return emit::run_make_json(check).exit_code != 0;
}

bool load_tables(const UpdateOptions& opt, std::atomic<bool>& stop) {
  bool ok = true;
  if (opt.prod) {
    bool rebuild = day_table_is_stale(opt);
    if (rebuild) {
      KLOG(info) << "day table is stale or empty: rebuilding day and week";
    }
    for (const LoadStep& step : {LoadStep{"day", 1.0}, LoadStep{"week", 7.0}}) {
      if (stop) return ok;
      ok = load_table(opt, step, rebuild, stop) && ok;
    }
    if (!stop) ok = load_table(opt, LoadStep{"all", 30.0}, false, stop) && ok;
  } else {
    ok = load_table(opt, LoadStep{"staging", std::nullopt}, false, stop) && ok;
  }
  return ok;
}

int stream_until_stop_hour(const UpdateOptions& opt, std::atomic<bool>& stop) {
  if (opt.subscription.empty()) {
    // Nothing to stream: pause before the next cycle instead of recollecting at once.
    KLOG(warning) << "no subscription (SUBSCRIPTION_PATH): waiting " << opt.idle_seconds << "s before the next cycle";
    for (int i = 0; i < opt.idle_seconds * 10 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return 0;
  }
  stream::StreamOptions s;
  s.db_path = opt.db_path;
  s.buckets_path = opt.buckets_path;
  s.poll = opt.subscription;
  s.dataset = opt.dataset;
  s.tables = opt.prod ? std::vector<std::string>{"all:30", "day:1", "week:7"} : std::vector<std::string>{"staging:0"};
  s.stop_at = opt.stop_at;
  s.schema_path = opt.schema_path;
  auto http = stream::stream_http_config();
  if (opt.request_timeout > 0) net::limit_attempt_time(http, opt.request_timeout);
  cloud::Context cloud(http);
  return cloud.run([&]() { return stream::run_stream(cloud, s, stop); }, [&stop] { stop = true; });
}

}  // namespace

int run_update(const UpdateOptions& opt, std::atomic<bool>& stop) {
  KLOG(info) << "update cycle: " << (opt.prod ? "prod (day, week, all)" : "staging") << ", dataset " << opt.dataset
             << (opt.build_limit ? ", BUILD_LIMIT " + std::to_string(opt.build_limit) : std::string());
  obs::set_ready();
  int code = 0;
  do {
    bool ok = refresh_buckets(opt);
    if (!stop) ok = collect(opt, stop) && ok;
    if (!stop) ok = load_tables(opt, stop) && ok;
    code = ok ? 0 : 1;
    if (opt.once || stop) break;
    if (stream_until_stop_hour(opt, stop) != 0) code = 1;
  } while (!stop);
  return code;
}

}  // namespace kettle::update
