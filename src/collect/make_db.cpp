#include "kettle/collect/make_db.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>

#include "kettle/auth/default_credentials.hpp"
#include "kettle/collect/db_writer.hpp"
#include "kettle/collect/junit_download.hpp"
#include "kettle/collect/planner.hpp"
#include "kettle/collect/wait_for_commit.hpp"
#include "kettle/config/buckets.hpp"
#include "kettle/gcs/client.hpp"
#include "kettle/net/async_semaphore.hpp"
#include "kettle/net/wait_group.hpp"
#include "kettle/obs/health.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/rows/build_json.hpp"

namespace kettle::collect {
namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

namespace {

// PR builds are found through pointer objects in this one place (SPEC §2.1).
// std::string, not char*: arguments to co_await calls must not be temporaries (g++ 12).
const std::string kPrBucket = "kubernetes-ci-logs";
const std::string kPrDirectory = "pr-logs/directory/";
const std::string kNoDelimiter;

int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string strip_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string last_segment(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

class Collector {
 public:
  Collector(asio::io_context& io, const MakeDbOptions& opt, const config::Buckets& buckets, gcs::Client& gcs,
            store::Database& reader, DbWriter& writer, asio::thread_pool& cpu)
      : io_(io),
        opt_(opt),
        buckets_(buckets),
        gcs_(gcs),
        reader_(reader),
        writer_(writer),
        cpu_(cpu),
        now_(opt.now ? opt.now() : system_now()),
        // Two requests per build (started + finished): twice the slots keeps
        // every allowed request busy.
        build_slots_(io.get_executor(), std::max<size_t>(2, 2 * opt.threads)),
        job_slots_(io.get_executor(), std::max<size_t>(4, opt.threads / 4)),
        tasks_(io.get_executor()) {}

  awaitable<void> run() {
    if (!opt_.skip_gcs) {
      co_await collect_pr_builds();
      for (const auto& bucket : buckets_.entries()) {
        if (stopping_) break;
        co_await collect_bucket(bucket);
      }
      co_await tasks_.wait();
      co_await wait_for_commit(io_, writer_);  // so the JUnit pass sees the new builds
    }
    if (opt_.junit && !stopping_) {
      co_await collect_junit();
      co_await tasks_.wait();
    }
  }

  void stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }
  MakeDbResult& result() { return result_; }

 private:
  // Runs `task` detached, counted in tasks_, holding `permit` until it ends.
  void spawn(net::AsyncSemaphore::Permit permit, std::function<awaitable<void>()> task) {
    tasks_.add();
    asio::co_spawn(
        io_,
        [this, permit = std::move(permit), task = std::move(task)]() mutable -> awaitable<void> {
          try {
            co_await task();
          } catch (const std::exception& e) {
            count_error("task");
            KLOG(error) << "collection task failed: " << e.what();
          }
          permit.release();
          tasks_.done();
        },
        asio::detached);
  }

  bool is_present(const std::string& path) { return reader_.is_present(path, now_); }

  // `what`: listing, pointer, build, junit or task. Listings failing means
  // whole jobs were not seen (exit 1).
  void count_error(const char* what) {
    ++result_.errors;
    if (std::string_view(what) == "listing") ++result_.listing_errors;
    obs::metrics().collect_errors.with({"collect", what}).inc();
  }

  // --- PR builds (SPEC §2.1, D10, D18) ---
  awaitable<void> collect_pr_builds() {
    std::map<std::string, int64_t> per_job;
    std::vector<std::string> pointers;
    std::function<bool(gcs::ListPage&&)> on_page = [&](gcs::ListPage&& page) {
      for (auto& name : page.names) {
        auto pointer = parse_pointer_name(name);
        if (!pointer) continue;
        int64_t& taken = per_job[pointer->job];
        if (opt_.build_limit > 0 && taken >= opt_.build_limit) continue;
        ++taken;
        pointers.push_back(std::move(name));
      }
      stage_.progress();
      return !stopping_;
    };
    auto listed = co_await gcs_.list(kPrBucket, kPrDirectory, kNoDelimiter, on_page);
    if (!listed) {
      count_error("listing");
      KLOG(error) << "cannot list PR builds: " << listed.error().what();
      co_return;
    }
    KLOG(info) << "PR pass: " << pointers.size() << " pointers in " << per_job.size() << " jobs";
    for (auto& name : pointers) {
      if (stopping_) break;
      auto permit = co_await build_slots_.acquire();
      spawn(std::move(permit), [this, name]() -> awaitable<void> { co_await follow_pointer(name); });
    }
  }

  awaitable<void> follow_pointer(std::string name) {
    auto content = co_await gcs_.read(kPrBucket, name);
    if (!content) {
      count_error("pointer");
      KLOG(error) << "cannot read PR pointer gs://" << kPrBucket << "/" << name << ": " << content.error().what();
      co_return;
    }
    stage_.progress();
    if (!*content) co_return;  // gone since the listing
    auto target = parse_pointer_target(**content);
    if (!target) {
      KLOG(warning) << "PR pointer gs://" << kPrBucket << "/" << name << " does not hold a gs:// build path; skipped";
      co_return;
    }
    if (is_present(*target)) co_return;
    co_await fetch_build(*target);
  }

  // --- per-bucket jobs (SPEC §2.2) ---
  awaitable<void> collect_bucket(const config::Bucket& bucket) {
    auto gs = gcs::GsPath::parse(bucket.url);
    if (!gs) {
      KLOG(error) << "bucket " << bucket.url << " is not a gs:// path";
      co_return;
    }
    auto dirs = co_await gcs_.list_dirs(gs->bucket, gs->name);
    if (!dirs) {
      count_error("listing");
      KLOG(error) << "cannot list jobs of " << bucket.url << ": " << dirs.error().what();
      co_return;
    }
    stage_.progress();
    int excluded = 0;
    std::vector<std::string> jobs;
    for (const auto& dir : *dirs) {
      std::string job = last_segment(strip_slash(dir));
      if (bucket.excludes(job)) {
        ++excluded;
        continue;
      }
      jobs.push_back(job);
    }
    KLOG(info) << bucket.url << ": " << jobs.size() << " jobs (" << excluded << " excluded)";
    jobs_total_ += jobs.size();
    // Several jobs are walked at once (each starts with a latest-build.txt read
    // or a listing); the walkers share the build slots.
    for (const auto& job : jobs) {
      if (stopping_) break;
      auto permit = co_await job_slots_.acquire();
      spawn(std::move(permit), [this, &bucket, gs = *gs, job]() -> awaitable<void> {
        co_await walk_job(bucket, gs, job);
        ++jobs_done_;
      });
    }
  }

  awaitable<Candidates> job_candidates(const config::Bucket& bucket, const gcs::GsPath& gs, const std::string& job) {
    const std::string job_prefix = gs.name + job + "/";
    if (bucket.sequential) {
      const std::string latest_name = job_prefix + "latest-build.txt";
      auto latest = co_await gcs_.read(gs.bucket, latest_name);
      if (latest) stage_.progress();
      if (latest && *latest) {
        if (auto n = parse_latest_build(**latest)) co_return sequential_candidates(*n, opt_.build_limit);
      }
    }
    auto dirs = co_await gcs_.list_dirs(gs.bucket, job_prefix);
    if (!dirs) {
      count_error("listing");
      KLOG(error) << "cannot list builds of " << bucket.url << job << ": " << dirs.error().what();
      co_return Candidates{};
    }
    stage_.progress();
    std::vector<std::string> names;
    names.reserve(dirs->size());
    for (const auto& d : *dirs) names.push_back(last_segment(strip_slash(d)));
    co_return listed_candidates(std::move(names), opt_.build_limit);
  }

  awaitable<void> walk_job(const config::Bucket& bucket, const gcs::GsPath& gs, const std::string& job) {
    CandidateWalker walker(co_await job_candidates(bucket, gs, job));
    const std::string job_url = bucket.url + job + "/";
    auto present = [&](const std::string& build) { return is_present(job_url + build); };
    while (!stopping_) {
      auto build = walker.next(present);
      if (!build) break;
      auto permit = co_await build_slots_.acquire();
      spawn(std::move(permit), [this, path = job_url + *build]() -> awaitable<void> { co_await fetch_build(path); });
    }
  }

  // --- one build: started.json + finished.json (SPEC §2.4) ---
  awaitable<void> fetch_build(std::string path) {
    auto gs = gcs::GsPath::parse(path);
    if (!gs) co_return;
    const std::string dir = gs->name + "/";
    const std::string started_name = dir + "started.json";
    const std::string finished_name = dir + "finished.json";
    auto [started, finished] = co_await (gcs_.read(gs->bucket, started_name) && gcs_.read(gs->bucket, finished_name));
    if (!started || !finished) {
      count_error("build");
      const auto& err = !started ? started.error() : finished.error();
      KLOG(error) << "build " << path << " not collected (a later run retries): " << err.what();
      co_return;
    }
    ++result_.builds_fetched;
    stage_.progress();
    BuildWrite write;
    write.path = path;
    if (*started) write.started_json = rows::normalize_build_json(**started);
    if (*finished) write.finished_json = rows::normalize_build_json(**finished);
    if (write.started_json || write.finished_json) writer_.write(std::move(write));
  }

  // --- JUnit (SPEC §2.5, §3.3, D9) ---
  awaitable<void> collect_junit() {
    std::vector<std::pair<int64_t, std::string>> missing;
    reader_.for_each_junit_missing([&missing](int64_t id, const std::string& path) {
      missing.emplace_back(id, path);
      return true;
    });
    KLOG(info) << "JUnit pass: " << missing.size() << " builds missing JUnit";
    for (auto& [id, path] : missing) {
      if (stopping_) break;
      auto permit = co_await build_slots_.acquire();
      spawn(std::move(permit), [this, id = id, path = path]() -> awaitable<void> { co_await fetch_junit(id, path); });
    }
  }

  awaitable<void> fetch_junit(int64_t id, std::string path) {
    auto write = co_await download_junit(gcs_, cpu_, id, path);
    if (!write) {
      count_error("junit");
      KLOG(error) << "JUnit of " << path << " not collected (a later run retries): " << write.error().what();
      co_return;
    }
    ++result_.junit_builds;
    stage_.progress();
    result_.junit_files += write->files.size();
    writer_.write(std::move(*write));
  }

 public:
  uint64_t jobs_done_ = 0;
  uint64_t jobs_total_ = 0;

 private:
  asio::io_context& io_;
  const MakeDbOptions& opt_;
  const config::Buckets& buckets_;
  gcs::Client& gcs_;
  store::Database& reader_;
  DbWriter& writer_;
  asio::thread_pool& cpu_;
  int64_t now_;
  net::AsyncSemaphore build_slots_;
  net::AsyncSemaphore job_slots_;  // jobs being walked at once
  net::WaitGroup tasks_;
  bool stopping_ = false;
  MakeDbResult result_;
  obs::Stage& stage_ = obs::stage("collect");
};

// Polls the caller's stop request (SIGTERM handled elsewhere).
awaitable<void> watch_stop(asio::steady_timer& timer, Collector& c, std::function<bool()> should_stop) {
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(250));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // cancelled: the run is over
    if (should_stop()) {
      KLOG(warning) << "stop requested: finishing builds in flight, then committing";
      c.stop();
      co_return;
    }
  }
}

awaitable<void> report_progress(asio::steady_timer& timer, Collector& c, const net::HttpClient& http,
                                const DbWriter& writer, const bool& finished) {
  auto start = std::chrono::steady_clock::now();
  while (!finished) {
    timer.expires_after(std::chrono::seconds(5));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (finished) break;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto& s = http.stats();
    auto& r = c.result();
    char line[256];
    std::string eta = "?";
    if (c.jobs_done_ > 0 && c.jobs_done_ < c.jobs_total_) {
      eta = std::to_string(static_cast<long long>(secs * static_cast<double>(c.jobs_total_ - c.jobs_done_) /
                                                  static_cast<double>(c.jobs_done_))) + "s";
    }
    std::snprintf(line, sizeof line,
                  "builds fetched %llu (%.0f/s), JUnit builds %llu, jobs walked %llu/%llu (ETA %s), "
                  "requests in flight %lld, retries %llu, errors %llu, writes queued %zu",
                  static_cast<unsigned long long>(r.builds_fetched), secs > 0 ? r.builds_fetched / secs : 0.0,
                  static_cast<unsigned long long>(r.junit_builds), static_cast<unsigned long long>(c.jobs_done_),
                  static_cast<unsigned long long>(c.jobs_total_), eta.c_str(),
                  static_cast<long long>(s.in_flight.load()), static_cast<unsigned long long>(s.retries.load()),
                  static_cast<unsigned long long>(r.errors), writer.queued());
    KLOG(info) << line;
  }
}

}  // namespace

MakeDbResult run_make_db(const MakeDbOptions& opt) {
  auto buckets = config::Buckets::load(opt.buckets_path);
  store::Database reader(opt.db_path);  // creates the schema when new
  DbWriter writer(opt.db_path, opt.commit_every, "collect");
  obs::set_ready();
  auto busy = obs::stage("collect").busy();

  asio::io_context io(1);
  asio::thread_pool cpu(std::max(1u, std::thread::hardware_concurrency()));
  net::Config http_config = opt.http;
  http_config.max_in_flight = std::max<size_t>(1, opt.threads);
  http_config.max_connections_per_host = std::max(http_config.max_connections_per_host, http_config.max_in_flight);
  net::HttpClient http(io.get_executor(), http_config);

  auto endpoint = gcs::endpoint_from_env();
  std::shared_ptr<auth::Credentials> credentials;
  std::exception_ptr failure;
  bool finished = false;
  MakeDbResult result;

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer progress_timer(io);
  asio::steady_timer stop_timer(io);
  std::unique_ptr<gcs::Client> gcs;
  std::unique_ptr<Collector> collector;

  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        if (!endpoint.emulator) {
          // Named arguments, no temporaries (not even a defaulted `= {}`):
          // g++ 12 destroys temporaries of a co_await expression twice.
          auth::Environment env = auth::process_environment();
          auth::Config auth_config;
          auto made = co_await auth::make_default_credentials(http, env, auth_config);
          if (!made) throw auth::SetupException(made.error());
          credentials = *made;
        }
        KLOG(info) << "collecting from " << endpoint.base_url << " with up to " << http_config.max_in_flight
                   << " requests in flight";
        gcs::ClientConfig gcs_config;
        gcs_config.base_url = endpoint.base_url;
        gcs = std::make_unique<gcs::Client>(http, credentials, gcs_config);
        collector = std::make_unique<Collector>(io, opt, buckets, *gcs, reader, writer, cpu);
        signals.async_wait([&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          KLOG(warning) << "signal " << sig << ": finishing builds in flight, then committing";
          collector->stop();
          // A second signal abandons the requests in flight.
          signals.async_wait([&](const boost::system::error_code& ec2, int) {
            if (!ec2) http.stop();
          });
        });
        asio::co_spawn(io, report_progress(progress_timer, *collector, http, writer, finished), asio::detached);
        if (opt.should_stop) asio::co_spawn(io, watch_stop(stop_timer, *collector, opt.should_stop), asio::detached);
        co_await collector->run();
      },
      [&](std::exception_ptr e) {
        failure = e;
        finished = true;
        signals.cancel();
        progress_timer.cancel();
        stop_timer.cancel();
        http.stop();
      });
  io.run();
  cpu.join();

  if (collector) {
    result = collector->result();
    result.interrupted = collector->stopping();
  }
  writer.finish();  // commits the rest; rethrows a writer failure
  auto ws = writer.stats();
  result.builds_written = ws.builds_written;
  if (failure) std::rethrow_exception(failure);
  KLOG(info) << "make-db done: " << result.builds_fetched << " builds fetched, " << result.builds_written
             << " written, " << result.junit_builds << " builds with " << result.junit_files << " JUnit files, "
             << result.errors << " errors" << (result.interrupted ? " (interrupted)" : "");
  return result;
}

}  // namespace kettle::collect
