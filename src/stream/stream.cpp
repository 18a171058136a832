#include "kettle/stream/stream.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "kettle/bigquery/client.hpp"
#include "kettle/collect/db_writer.hpp"
#include "kettle/collect/fetch_build.hpp"
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
#include "kettle/store/database.hpp"
#include "kettle/stream/classify.hpp"
#include "kettle/stream/freshness.hpp"
#include "kettle/stream/junit_hold.hpp"
#include "kettle/stream/ledger.hpp"

namespace kettle::stream {
namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr double kSecondsPerDay = 86400;

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
  Streamer(app::Core& core, const StreamOptions& opt, const config::Buckets& buckets, pubsub::SubscriptionPath sub,
           std::vector<Table> tables)
      : core_(core), opt_(opt), buckets_(buckets), sub_(std::move(sub)), tables_(std::move(tables)),
        gcs_(core.gcs()), ps_(core.pubsub()), bq_(core.bigquery()), reader_(core.db_path()),
        writer_(core.db_path(), 200, "stream"), junit_hold_(opt.junit_hold) {}

  awaitable<int> run() {
    std::optional<StopAtHour> stop_hour;
    if (opt_.stop_at) stop_hour.emplace(*opt_.stop_at, local_hour);
    // Streaming always has work: waiting on the subscription is the job, and
    // a pull that never answers is a stall.
    auto busy = stage_.busy();
    obs::set_ready();
    // Rows of builds already collected but not yet streamed (e.g. after a crash).
    co_await emit_all();
    while (!core_.stopping()) {
      if (stop_hour && (*stop_hour)()) {
        KLOG(info) << "stop hour " << *opt_.stop_at << " began; stopping";
        break;
      }
      if (std::filesystem::exists(opt_.stop_file)) {
        KLOG(info) << "found " << opt_.stop_file << "; stopping";
        break;
      }
      if (opt_.end_early && opt_.end_early()) break;
      co_await iteration();
    }
    auto finish = [this] { writer_.finish(); };
    co_await core_.offload(finish);
    co_return 0;
  }

 private:
  awaitable<std::vector<pubsub::Message>> pull_burst() {
    std::vector<pubsub::Message> messages;
    auto first = co_await ps_.pull(sub_, 1000, false);
    if (!first) {
      if (collect::is_cancelled(first.error())) co_return messages;
      KLOG(error) << obs::label("stage", "stream") << "pull failed: " << first.error().what() << "; retrying in 5s";
      co_await core_.sleep(std::chrono::seconds(5));
      co_return messages;
    }
    messages = std::move(*first);
    stage_.progress();
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(opt_.pull_burst_seconds);
    while (!messages.empty() && std::chrono::steady_clock::now() < until && !core_.stopping()) {
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
      if (collect::is_cancelled(r.error())) {
        KLOG(info) << "stopping: " << ids.size() << " messages not acknowledged (they will be redelivered)";
      } else {
        KLOG(error) << obs::label("stage", "stream") << "acknowledging " << ids.size() << " messages failed (they will be redelivered): "
                    << r.error().what();
      }
      co_return;
    }
    KLOG(info) << "ACK " << why.log_words << " " << ids.size();
    obs::metrics().pubsub_acked.with({why.outcome}).inc(static_cast<double>(ids.size()));
    stage_.progress();
  }

  awaitable<void> iteration() {
    auto messages = co_await pull_burst();
    if (messages.empty()) {
      // Rows waiting for their JUnit: retry it now, not when another build arrives.
      if (junit_hold_.held(JunitHold::Clock::now()) > 0) co_await download_junit();
      co_await emit_all();  // also retries rows that were pending
      co_return;
    }
    KLOG(info) << "PULLED " << messages.size();
    GroupedBatch batch = group_batch(messages, buckets_);
    for (const auto& reason : batch.reasons) KLOG(debug) << "irrelevant message " << obs::printable(reason);
    co_await ack(batch.irrelevant, kIrrelevant);
    if (!batch.builds.empty()) co_await collect(std::move(batch));
    co_await emit_all();
  }

  // Reads started/finished of the batch's builds; acknowledges only what is committed.
  awaitable<void> collect(GroupedBatch batch) {
    std::vector<std::string> all_ids = batch.relevant_ids();
    auto extended = co_await ps_.modify_ack_deadline(sub_, all_ids, opt_.ack_extension_seconds);
    if (extended) {
      KLOG(info) << "EXTEND-ACK " << all_ids.size();
    } else if (!collect::is_cancelled(extended.error())) {
      KLOG(warning) << "extending ack deadlines failed: " << extended.error().what();
    }

    // Every build at once (the HTTP client bounds requests in flight), so a
    // slow build does not hold up the others.
    net::WaitGroup group(co_await asio::this_coro::executor);
    for (auto& build : batch.builds) {
      group.add();
      // A named coroutine with by-value parameters, not a capturing lambda (g++ 12).
      asio::co_spawn(co_await asio::this_coro::executor, collect_task(std::move(build), &group), asio::detached);
    }
    co_await group.wait();
    co_await collect::wait_for_commit(core_.io(), writer_);
    Decisions decisions = acks_.settle();
    for (const auto& path : decisions.gone_builds)
      KLOG(warning) << "finished.json of " << obs::printable(path) << " is missing or unreadable again; acknowledging";
    co_await ack(decisions.collected, kCollected);
    co_await ack(decisions.gone, kMissingFinished);
    if (!decisions.retry.empty() && !core_.stopping()) {
      obs::metrics().pubsub_nacked.get().inc(static_cast<double>(decisions.retry.size()));
      // Not the full extension: have them redelivered soon for another try.
      auto shortened = co_await ps_.modify_ack_deadline(sub_, decisions.retry, opt_.retry_delay_seconds);
      if (shortened) KLOG(info) << "RETRY later " << decisions.retry.size();
    }
    co_await download_junit();
  }

  awaitable<void> collect_task(BuildDelivery build, net::WaitGroup* group) {
    FetchOutcome outcome = FetchOutcome::failed;
    try {
      outcome = co_await collect_one(build.path);
    } catch (const std::exception& e) {
      KLOG(error) << obs::label("stage", "stream") << obs::label("url", build.path) << "collecting "
                  << obs::printable(build.path) << " failed: " << e.what();
    }
    acks_.record(std::move(build), outcome);
    group->done();
  }

  // One build's started/finished into the writer.
  awaitable<FetchOutcome> collect_one(std::string path) {
    auto write = co_await collect::fetch_build(gcs_, path);
    if (!write) {
      if (!collect::is_cancelled(write.error())) {
        obs::metrics().collect_errors.with({"stream", "build"}).inc();
        KLOG(error) << obs::label("stage", "stream") << obs::label("url", path) << "cannot read "
                    << obs::printable(path) << " (messages will be redelivered): "
                    << write.error().what();
      }
      co_return FetchOutcome::failed;
    }
    if (!write->finished_json) co_return FetchOutcome::missing_finished;  // D15, decided by the AckBook
    writer_.write(std::move(*write));
    co_return FetchOutcome::written;
  }

  awaitable<void> junit_task(int64_t id, std::string path, net::WaitGroup* group) {
    try {
      auto write = co_await collect::download_junit(gcs_, core_.cpu(), id, path);
      if (write) {
        writer_.write(std::move(*write));
      } else if (!collect::is_cancelled(write.error())) {
        obs::metrics().collect_errors.with({"stream", "junit"}).inc();
        KLOG(error) << obs::label("stage", "stream") << obs::label("url", path) << "JUnit of " << obs::printable(path)
                    << " not collected (retried later): " << write.error().what();
      }
    } catch (const std::exception& e) {
      KLOG(error) << obs::label("stage", "stream") << obs::label("url", path) << "JUnit of " << obs::printable(path)
                  << " failed: " << e.what();
    }
    group->done();
  }

  awaitable<void> download_junit() {
    auto list_missing = [this] {
      std::vector<std::pair<int64_t, std::string>> found;
      reader_.for_each_junit_missing([&found](int64_t id, const std::string& path) {
        found.emplace_back(id, path);
        return found.size() < 5000;
      });
      return found;
    };
    auto missing = co_await core_.offload(list_missing);
    net::WaitGroup group(co_await asio::this_coro::executor);
    for (auto& [id, path] : missing) {
      if (core_.stopping()) break;
      group.add();
      asio::co_spawn(co_await asio::this_coro::executor, junit_task(id, path, &group), asio::detached);
    }
    co_await group.wait();
    co_await collect::wait_for_commit(core_.io(), writer_);
  }

  awaitable<void> emit_all() {
    for (const auto& t : tables_) {
      if (core_.stopping()) break;  // the rows stay unemitted: the next run inserts them
      co_await emit_table(t);
    }
    const auto held = junit_hold_.held(JunitHold::Clock::now());
    obs::metrics().junit_held_builds.get().set(static_cast<double>(held));
  }

  // Whether the row of `work`'s build goes in this round: not while its JUnit
  // is missing (a download failed), up to the hold; then without tests. The
  // mark is read in the snapshot the files were read in (the scan's query is
  // open), so a row never goes with half of what a later commit stored.
  bool release_row(const emit::BuildWork& work) {
    const bool missing = reader_.junit_missing(work.build.id);
    const auto verdict = junit_hold_.decide(work.build.id, missing, JunitHold::Clock::now());
    switch (verdict) {
      case HoldVerdict::emit:
        return true;
      case HoldVerdict::hold:
        return false;
      case HoldVerdict::late:
      case HoldVerdict::no_room:
        obs::metrics().junit_hold_expired.get().inc();
        KLOG(warning) << obs::label("stage", "stream") << obs::label("url", work.build.path) << "JUnit of "
                      << obs::printable(work.build.path)
                      << (verdict == HoldVerdict::late ? " still missing after the --junit-hold wait"
                                                       : " missing and too many builds wait for theirs")
                      << ": its row goes without tests";
        return true;
    }
    return true;
  }

  // Rows of up to rows_per_insert_round builds not yet emitted into `t`,
  // built off the event loop.
  std::vector<emit::BuiltRow> build_rows(const Table& t) {
    std::optional<double> min_finished;
    if (t.spec.days > 0) min_finished = static_cast<double>(now_seconds()) - t.spec.days * kSecondsPerDay;
    std::vector<emit::BuiltRow> built;
    auto produce = [&](const emit::BuildSink& sink) {
      size_t taken = 0;
      emit::feed_unemitted(reader_, t.emitted, min_finished, [&](emit::BuildWork&& work) {
        if (emits_.skip_row(work.build.id)) return true;  // already logged: not again every iteration
        if (!release_row(work)) return true;               // waits for its JUnit: a later round
        return sink(std::move(work)) && ++taken < opt_.rows_per_insert_round;
      });
    };
    emit::PipelineConfig pipeline;
    pipeline.threads = 2;
    emit::run_row_pipeline(produce, buckets_, pipeline, [&](emit::BuiltRow&& r) { built.push_back(std::move(r)); });
    return built;
  }

  // Rows for builds in the table's window not yet recorded as emitted into it.
  awaitable<void> emit_table(const Table& t) {
    for (;;) {
      auto build = [this, &t] { return build_rows(t); };
      std::vector<emit::BuiltRow> built = co_await core_.offload(build);
      if (built.empty()) co_return;

      std::vector<bigquery::InsertRow> rows;
      std::vector<SentRow> sent;
      for (auto& b : built) {
        if (!b.error.empty()) {
          // A build under no bucket of buckets.yaml: data to fix, not a fault of kettle.
          KLOG(warning) << obs::label("stage", "stream") << obs::label("url", b.path) << "no row for "
                        << obs::printable(b.path) << ": " << b.error;
          emits_.no_row(b.build_id);
          continue;
        }
        rows.push_back({bigquery::insert_id_for(b.path, b.line), std::move(b.line)});
        sent.push_back({b.build_id, b.path});
      }
      auto report = co_await bq_.insert_all(t.ref, rows);
      InsertTally tally = tally_insert(sent, report.rows);
      for (const auto& r : tally.rejected_rows) {
        // D16: logged and recorded, so it is not retried forever.
        KLOG(error) << obs::label("stage", "stream") << obs::label("table", t.ref.str()) << obs::label("url", r.path)
                    << "BigQuery rejected the row of " << obs::printable(r.path) << " in " << t.ref.str() << ": "
                    << r.reason << ": " << r.message;
      }
      if (!tally.emitted.empty()) {
        auto record = [this, &t, &tally] { reader_.insert_emitted(t.emitted, tally.emitted); };
        co_await core_.offload(record);
      }
      count_insert(t.ref.str(), tally.accepted, tally.rejected, tally.retried);
      if (tally.accepted + tally.rejected > 0) {
        KLOG(info) << obs::label("stage", "stream") << obs::label("table", t.ref.str()) << "inserted " << tally.accepted << " rows into " << t.ref.str()
                   << (tally.rejected ? ", rejected " + std::to_string(tally.rejected) : std::string());
      }
      if (report.error) {
        if (collect::is_cancelled(*report.error)) co_return;
        KLOG(error) << obs::label("stage", "stream") << obs::label("table", t.ref.str()) << "inserting into "
                    << t.ref.str() << " failed (rows retried later): " << report.error->what();
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
  app::Core& core_;
  const StreamOptions& opt_;
  const config::Buckets& buckets_;
  pubsub::SubscriptionPath sub_;
  std::vector<Table> tables_;
  gcs::Client& gcs_;
  pubsub::Client& ps_;
  bigquery::Client& bq_;
  store::Database reader_;
  collect::DbWriter writer_;
  AckBook acks_;    // acknowledgements and the D15 second-delivery counts
  EmitBook emits_;  // builds whose row cannot be made (e.g. under no bucket)
  JunitHold junit_hold_;  // rows waiting for their build's JUnit
};

}  // namespace

net::RetryConfig stream_retry() {
  net::RetryConfig retry;
  retry.max_attempts = 5;
  retry.max_backoff = std::chrono::seconds(5);
  retry.max_total = std::chrono::seconds(60);
  return retry;
}

awaitable<int> run_stream(app::Core& core, StreamOptions opt) {
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
  co_await core.connect(app::gcs_api | app::pubsub_api | app::bigquery_api);
  auto retry = core.retry_scope(stream_retry());

  // D17: tables created here get the schema (built in, or --schema).
  const boost::json::array& schema = core.schema();
  for (const auto& t : tables) {
    auto ensured = co_await core.bigquery().ensure_table(t.ref, schema);
    if (!ensured && !collect::is_cancelled(ensured.error()))
      KLOG(error) << obs::label("stage", "stream") << obs::label("table", t.ref.str()) << "cannot create "
                  << t.ref.str() << ": " << ensured.error().what();
  }
  // In the background: a hanging BigQuery must not hold up the stream.
  std::vector<bigquery::TableRef> refs;
  for (const auto& t : tables) refs.push_back(t.ref);
  asio::co_spawn(core.io(), seed_table_freshness(core.bigquery(), refs), asio::detached);
  KLOG(info) << "streaming from " << sub->str() << " into " << tables.size() << " tables";
  Streamer streamer(core, opt, buckets, *sub, std::move(tables));
  co_return co_await streamer.run();
}

}  // namespace kettle::stream
