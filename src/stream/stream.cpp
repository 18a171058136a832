#include "kettle/stream/stream.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "kettle/bigquery/client.hpp"
#include "kettle/collect/db_writer.hpp"
#include "kettle/collect/junit_download.hpp"
#include "kettle/collect/wait_for_commit.hpp"
#include "kettle/config/buckets.hpp"
#include "kettle/emit/row_pipeline.hpp"
#include "kettle/gcs/client.hpp"
#include "kettle/net/wait_group.hpp"
#include "kettle/obs/health.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/pubsub/client.hpp"
#include "kettle/rows/build_json.hpp"
#include "kettle/store/database.hpp"
#include "kettle/stream/classify.hpp"
#include "kettle/update/bq_load.hpp"

namespace kettle::stream {
namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr double kSecondsPerDay = 86400;

awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Table {
  TableSpec spec;
  bigquery::TableRef ref;
  store::IncrementalTable emitted;
};

class Streamer {
 public:
  Streamer(cloud::Context& cloud, const StreamOptions& opt, std::atomic<bool>& stop, const config::Buckets& buckets,
           pubsub::SubscriptionPath sub, std::vector<Table> tables, gcs::Client& gcs, pubsub::Client& ps,
           bigquery::Client& bq)
      : cloud_(cloud), opt_(opt), stop_(stop), buckets_(buckets), sub_(std::move(sub)), tables_(std::move(tables)),
        gcs_(gcs), ps_(ps), bq_(bq), reader_(opt.db_path), writer_(opt.db_path, 200, "stream"), cpu_(2) {}

  ~Streamer() { cpu_.join(); }

  awaitable<int> run() {
    std::optional<StopAtHour> stop_hour;
    if (opt_.stop_at) stop_hour.emplace(*opt_.stop_at, local_hour);
    // Streaming always has work: waiting on the subscription is the job, and
    // a pull that never answers is a stall.
    auto busy = stage_.busy();
    obs::set_ready();
    // Rows of builds already collected but not yet streamed (e.g. after a crash).
    co_await emit_all();
    while (!stop_) {
      if (stop_hour && (*stop_hour)()) {
        KLOG(info) << "stop hour " << *opt_.stop_at << " began; stopping";
        break;
      }
      if (std::filesystem::exists(opt_.stop_file)) {
        KLOG(info) << "found " << opt_.stop_file << "; stopping";
        break;
      }
      co_await iteration();
    }
    writer_.finish();
    co_return 0;
  }

 private:
  awaitable<std::vector<pubsub::Message>> pull_burst() {
    std::vector<pubsub::Message> messages;
    auto first = co_await ps_.pull(sub_, 1000, false);
    if (!first) {
      KLOG(error) << "pull failed: " << first.error().what() << "; retrying in 5s";
      co_await sleep_for(std::chrono::seconds(5));
      co_return messages;
    }
    messages = std::move(*first);
    stage_.progress();
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(opt_.pull_burst_seconds);
    while (!messages.empty() && std::chrono::steady_clock::now() < until && !stop_) {
      auto more = co_await ps_.pull(sub_, 1000, true);
      if (!more || more->empty()) break;
      for (auto& m : *more) messages.push_back(std::move(m));
    }
    obs::metrics().pubsub_pulled.get().inc(static_cast<double>(messages.size()));
    co_return messages;
  }

  // Why messages are acknowledged: the log line's words (the reference's) and the metric's label.
  struct AckReason {
    const char* log_words;
    const char* outcome;
  };
  static constexpr AckReason kIrrelevant{"irrelevant", "irrelevant"};
  static constexpr AckReason kCollected{"\"finished.json\"", "collected"};
  static constexpr AckReason kMissingFinished{"missing finished.json", "missing_finished"};

  awaitable<void> ack(const std::vector<std::string>& ids, const AckReason& why) {
    if (ids.empty()) co_return;
    auto r = co_await ps_.acknowledge(sub_, ids);
    if (!r) {
      KLOG(error) << "acknowledging " << ids.size() << " messages failed (they will be redelivered): "
                  << r.error().what();
      co_return;
    }
    KLOG(info) << "ACK " << why.log_words << " " << ids.size();
    obs::metrics().pubsub_acked.with({why.outcome}).inc(static_cast<double>(ids.size()));
    stage_.progress();
  }

  awaitable<void> iteration() {
    auto messages = co_await pull_burst();
    if (messages.empty()) {
      co_await emit_all();  // also retries rows that were pending
      co_return;
    }
    KLOG(info) << "PULLED " << messages.size();
    std::vector<std::string> irrelevant;
    std::map<std::string, std::vector<std::string>> builds;  // path -> ack ids
    for (const auto& m : messages) {
      auto c = classify(m, buckets_);
      if (c.relevant) {
        builds[c.build_path].push_back(m.ack_id);
      } else {
        KLOG(debug) << "irrelevant message " << m.message_id << ": " << c.reason;
        irrelevant.push_back(m.ack_id);
      }
    }
    co_await ack(irrelevant, kIrrelevant);
    if (!builds.empty()) co_await collect(builds);
    co_await emit_all();
  }

  // Reads started/finished of the builds; acknowledges only what is committed.
  awaitable<void> collect(const std::map<std::string, std::vector<std::string>>& builds) {
    std::vector<std::string> all_ids;
    for (const auto& [path, ids] : builds) all_ids.insert(all_ids.end(), ids.begin(), ids.end());
    auto extended = co_await ps_.modify_ack_deadline(sub_, all_ids, opt_.ack_extension_seconds);
    if (extended) {
      KLOG(info) << "EXTEND-ACK " << all_ids.size();
    } else {
      KLOG(warning) << "extending ack deadlines failed: " << extended.error().what();
    }

    // Every build at once (the HTTP client bounds requests in flight), so a
    // slow build does not hold up the others.
    std::vector<std::string> to_ack;
    std::vector<std::string> gone;
    std::vector<std::string> retry;
    net::WaitGroup group(co_await asio::this_coro::executor);
    for (const auto& [path, ids] : builds) {
      group.add();
      // A named coroutine with by-value parameters, not a capturing lambda (g++ 12).
      asio::co_spawn(co_await asio::this_coro::executor, collect_task(path, ids, &group, &to_ack, &gone, &retry),
                     asio::detached);
    }
    co_await group.wait();
    co_await collect::wait_for_commit(cloud_.io(), writer_);
    co_await ack(to_ack, kCollected);
    co_await ack(gone, kMissingFinished);
    if (!retry.empty()) {
      obs::metrics().pubsub_nacked.get().inc(static_cast<double>(retry.size()));
      // Not the full extension: have them redelivered soon for another try.
      auto shortened = co_await ps_.modify_ack_deadline(sub_, retry, opt_.retry_delay_seconds);
      if (shortened) {
        KLOG(info) << "RETRY later " << retry.size();
      }
    }
    co_await download_junit();
  }

  enum class Outcome { written, gone, retry };

  awaitable<void> collect_task(std::string path, std::vector<std::string> ids, net::WaitGroup* group,
                               std::vector<std::string>* to_ack, std::vector<std::string>* gone,
                               std::vector<std::string>* retry) {
    try {
      auto outcome = co_await collect_one(path);
      if (outcome == Outcome::written) to_ack->insert(to_ack->end(), ids.begin(), ids.end());
      if (outcome == Outcome::gone) gone->insert(gone->end(), ids.begin(), ids.end());
      if (outcome == Outcome::retry) retry->insert(retry->end(), ids.begin(), ids.end());
    } catch (const std::exception& e) {
      KLOG(error) << "collecting " << path << " failed: " << e.what();
      retry->insert(retry->end(), ids.begin(), ids.end());
    }
    group->done();
  }

  // One build's started/finished into the writer; `gone` after its
  // finished.json was missing twice (D15), `retry` leaves its messages unacked.
  awaitable<Outcome> collect_one(std::string path) {
    auto gs = gcs::GsPath::parse(path);
    const std::string started_name = gs->name + "/started.json";
    const std::string finished_name = gs->name + "/finished.json";
    auto [started, finished] = co_await (gcs_.read(gs->bucket, started_name) && gcs_.read(gs->bucket, finished_name));
    if (!started || !finished) {
      obs::metrics().collect_errors.with({"stream", "build"}).inc();
      KLOG(error) << "cannot read " << path << " (messages will be redelivered): "
                  << (!started ? started.error().what() : finished.error().what());
      co_return Outcome::retry;
    }
    std::optional<std::string> finished_json;
    if (*finished) finished_json = rows::normalize_build_json(**finished);
    if (!finished_json) {
      // D15: give it one redelivery, then let it go with a log line.
      if (++missing_finished_[path] > 1) {
        KLOG(warning) << "finished.json of " << path << " is missing or unreadable again; acknowledging";
        missing_finished_.erase(path);
        co_return Outcome::gone;
      }
      co_return Outcome::retry;
    }
    missing_finished_.erase(path);
    collect::BuildWrite write;
    write.path = path;
    if (*started) write.started_json = rows::normalize_build_json(**started);
    write.finished_json = std::move(finished_json);
    writer_.write(std::move(write));
    co_return Outcome::written;
  }

  awaitable<void> junit_task(int64_t id, std::string path, net::WaitGroup* group) {
    try {
      auto write = co_await collect::download_junit(gcs_, cpu_, id, path);
      if (write) {
        writer_.write(std::move(*write));
      } else {
        obs::metrics().collect_errors.with({"stream", "junit"}).inc();
        KLOG(error) << "JUnit of " << path << " not collected (retried later): " << write.error().what();
      }
    } catch (const std::exception& e) {
      KLOG(error) << "JUnit of " << path << " failed: " << e.what();
    }
    group->done();
  }

  awaitable<void> download_junit() {
    std::vector<std::pair<int64_t, std::string>> missing;
    reader_.for_each_junit_missing([&](int64_t id, const std::string& path) {
      missing.emplace_back(id, path);
      return missing.size() < 5000;
    });
    net::WaitGroup group(co_await asio::this_coro::executor);
    for (auto& [id, path] : missing) {
      if (stop_) break;
      group.add();
      asio::co_spawn(co_await asio::this_coro::executor, junit_task(id, path, &group), asio::detached);
    }
    co_await group.wait();
    co_await collect::wait_for_commit(cloud_.io(), writer_);
  }

  awaitable<void> emit_all() {
    for (const auto& t : tables_) co_await emit_table(t);
  }

  // Rows for builds in the table's window not yet recorded as emitted into it.
  awaitable<void> emit_table(const Table& t) {
    std::optional<double> min_finished;
    if (t.spec.days > 0) min_finished = static_cast<double>(now_seconds()) - t.spec.days * kSecondsPerDay;
    for (;;) {
      std::vector<emit::BuiltRow> built;
      auto produce = [&](const emit::BuildSink& sink) {
        size_t taken = 0;
        reader_.for_each_unemitted(t.emitted, min_finished, [&](store::StoredBuild&& b) {
          if (no_row_.count(b.id)) return true;  // already logged: not again every iteration
          emit::BuildWork work;
          reader_.for_each_file_of(b.path, [&](store::StoredFile&& f) {
            work.files.push_back(std::move(f));
            return true;
          });
          work.build = std::move(b);
          return sink(std::move(work)) && ++taken < opt_.rows_per_insert_round;
        });
      };
      emit::PipelineConfig pipeline;
      pipeline.threads = 2;
      emit::run_row_pipeline(produce, buckets_, pipeline, [&](emit::BuiltRow&& r) { built.push_back(std::move(r)); });
      if (built.empty()) co_return;

      std::vector<int64_t> done;
      std::vector<bigquery::InsertRow> rows;
      std::vector<size_t> row_of;  // rows[i] came from built[row_of[i]]
      for (size_t i = 0; i < built.size(); ++i) {
        if (!built[i].error.empty()) {
          KLOG(error) << "no row for " << built[i].path << ": " << built[i].error;
          no_row_.insert(built[i].build_id);
          continue;
        }
        rows.push_back({bigquery::insert_id_for(built[i].path, built[i].line), std::move(built[i].line)});
        row_of.push_back(i);
      }
      auto report = co_await bq_.insert_all(t.ref, rows);
      size_t accepted = 0, rejected = 0;
      for (size_t i = 0; i < report.rows.size(); ++i) {
        const auto& outcome = report.rows[i];
        const auto& b = built[row_of[i]];
        if (outcome.status == bigquery::RowStatus::accepted) {
          ++accepted;
          done.push_back(b.build_id);
        } else if (outcome.status == bigquery::RowStatus::rejected) {
          // D16: logged and recorded, so it is not retried forever.
          ++rejected;
          KLOG(error) << "BigQuery rejected the row of " << b.path << " in " << t.ref.str() << ": " << outcome.reason
                      << ": " << outcome.message;
          done.push_back(b.build_id);
        }
      }
      if (!done.empty()) reader_.insert_emitted(t.emitted, done);
      count_insert(t.ref.str(), accepted, rejected, rows.size() - accepted - rejected);
      if (accepted + rejected > 0) {
        KLOG(info) << "inserted " << accepted << " rows into " << t.ref.str() << (rejected ? ", rejected " : "")
                 << (rejected ? std::to_string(rejected) : std::string());
      }
      if (report.error) {
        KLOG(error) << "inserting into " << t.ref.str() << " failed (rows retried later): " << report.error->what();
        co_return;
      }
      if (built.size() < opt_.rows_per_insert_round) co_return;
    }
  }

  void count_insert(const std::string& table, size_t accepted, size_t rejected, size_t retried) {
    auto& m = obs::metrics();
    if (accepted > 0) {
      m.bigquery_rows_inserted.with({table}).inc(static_cast<double>(accepted));
      m.bigquery_last_insert.with({table}).set_to_current_time();
      stage_.progress();
    }
    if (rejected > 0) m.bigquery_rows_failed.with({table, "rejected"}).inc(static_cast<double>(rejected));
    if (retried > 0) m.bigquery_rows_failed.with({table, "retried"}).inc(static_cast<double>(retried));
  }

  obs::Stage& stage_ = obs::stage("stream");
  cloud::Context& cloud_;
  const StreamOptions& opt_;
  std::atomic<bool>& stop_;
  const config::Buckets& buckets_;
  pubsub::SubscriptionPath sub_;
  std::vector<Table> tables_;
  gcs::Client& gcs_;
  pubsub::Client& ps_;
  bigquery::Client& bq_;
  store::Database reader_;
  collect::DbWriter writer_;
  asio::thread_pool cpu_;
  std::map<std::string, int> missing_finished_;
  std::set<int64_t> no_row_;  // builds whose row cannot be made (e.g. under no bucket)
};

}  // namespace

net::Config stream_http_config() {
  net::Config config;
  config.retry.max_attempts = 5;
  config.retry.max_backoff = std::chrono::seconds(5);
  config.retry.max_total = std::chrono::seconds(60);
  return config;
}

awaitable<int> run_stream(cloud::Context& cloud, StreamOptions opt, std::atomic<bool>& stop) {
  auto buckets = config::Buckets::load(opt.buckets_path);
  std::string error;
  auto sub = pubsub::SubscriptionPath::parse(opt.poll, &error);
  if (!sub) throw std::runtime_error("--poll: " + error);
  std::vector<Table> tables;
  for (const auto& text : opt.tables) {
    auto spec = parse_table_spec(text);
    if (!spec) throw std::runtime_error("--tables: '" + text + "' is not NAME:DAYS");
    auto ref = bigquery::TableRef::in_dataset(opt.dataset, spec->name, &error);
    if (!ref) throw std::runtime_error(error);
    std::optional<double> days;
    if (spec->days > 0) days = spec->days;
    tables.push_back({*spec, *ref, store::IncrementalTable::for_days(days)});
  }

  auto gcs_endpoint = gcs::endpoint_from_env();
  auto ps_endpoint = pubsub::endpoint_from_env();
  auto bq_endpoint = bigquery::endpoint_from_env();
  gcs::ClientConfig gcs_config;
  gcs_config.base_url = gcs_endpoint.base_url;
  gcs::Client gcs(cloud.http(), co_await cloud.credentials_for(gcs_endpoint.emulator), gcs_config);
  pubsub::ClientConfig ps_config;
  ps_config.base_url = ps_endpoint.base_url;
  // A long poll is still one attempt: --request-timeout bounds it too.
  const auto attempt_limit = cloud.http().config().timeouts.total;
  ps_config.long_poll_headers_timeout = std::min(ps_config.long_poll_headers_timeout, attempt_limit);
  ps_config.long_poll_total_timeout = std::min(ps_config.long_poll_total_timeout, attempt_limit);
  pubsub::Client ps(cloud.http(), co_await cloud.credentials_for(ps_endpoint.emulator), ps_config);
  bigquery::ClientConfig bq_config;
  bq_config.base_url = bq_endpoint.base_url;
  bigquery::Client bq(cloud.http(), co_await cloud.credentials_for(bq_endpoint.emulator), bq_config);

  // D17: tables created here get schema.json.
  if (std::filesystem::exists(opt.schema_path)) {
    auto schema = update::read_schema(opt.schema_path);
    for (const auto& t : tables) {
      auto ensured = co_await bq.ensure_table(t.ref, schema);
      if (!ensured) KLOG(error) << "cannot create " << t.ref.str() << ": " << ensured.error().what();
    }
  }
  KLOG(info) << "streaming from " << sub->str() << " into " << tables.size() << " tables";
  Streamer streamer(cloud, opt, stop, buckets, *sub, std::move(tables), gcs, ps, bq);
  co_return co_await streamer.run();
}

}  // namespace kettle::stream
