#include "kettle/collect/make_db.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <map>

#include "kettle/collect/db_writer.hpp"
#include "kettle/collect/fetch_build.hpp"
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

namespace kettle::collect {
namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

namespace {

// PR builds are found through pointer objects in this one place (SPEC §2.1).
// std::string, not char*: arguments to co_await calls must not be temporaries (g++ 12).
const std::string kPrBucket = "kubernetes-ci-logs";
const std::string kPrDirectory = "pr-logs/directory/";
const std::string kPrBuilds = "gs://kubernetes-ci-logs/pr-logs";  // where PR builds live: their keys
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

// SPEC §2: a final 4xx (not 408/429, which are retried) means absent.
bool means_absent(const net::Error& e) {
  return e.kind == net::ErrorKind::http_status && e.status >= 400 && e.status < 500 && e.status != 408 &&
         e.status != 429;
}

class Collector {
 public:
  Collector(app::Core& core, const MakeDbOptions& opt, const config::Buckets& buckets, store::Database& reader,
            DbWriter& writer)
      : core_(core),
        opt_(opt),
        buckets_(buckets),
        gcs_(core.gcs()),
        reader_(reader),
        writer_(writer),
        now_(opt.now ? opt.now() : system_now()),
        // Two requests per build (started + finished): twice the slots keeps
        // every allowed request busy.
        build_slots_(core.io().get_executor(), std::max<size_t>(2, 2 * core.http().config().max_in_flight)),
        job_slots_(core.io().get_executor(), std::max<size_t>(4, core.http().config().max_in_flight / 4)),
        tasks_(core.io().get_executor()) {}

  awaitable<void> run() {
    if (!opt_.skip_gcs) {
      co_await collect_pr_builds();
      for (const auto& bucket : buckets_.entries()) {
        if (stopping()) break;
        co_await collect_bucket(bucket);
      }
      co_await tasks_.wait();
      co_await wait_for_commit(core_.io(), writer_);  // so the JUnit pass sees the new builds
    }
    if (opt_.junit && !stopping()) {
      co_await collect_junit();
      co_await tasks_.wait();
    }
  }

  // Waits for every task still running (after a failure of run()).
  awaitable<void> drain() { co_await tasks_.wait(); }

  // A failed writer (a full disk) drops every write: stop fetching for nothing.
  bool stopping() const { return core_.stopping() || writer_.failure(); }
  const MakeDbResult& result() const { return result_; }
  uint64_t jobs_done() const { return jobs_done_; }
  uint64_t jobs_total() const { return jobs_total_; }

 private:
  // Runs `task` detached, counted in tasks_, holding `permit` until it ends.
  void spawn(net::AsyncSemaphore::Permit permit, std::function<awaitable<void>()> task) {
    tasks_.add();
    asio::co_spawn(
        core_.io(),
        [this, permit = std::move(permit), task = std::move(task)]() mutable -> awaitable<void> {
          try {
            co_await task();
          } catch (const std::exception& e) {
            // A bug or resource exhaustion, not a sick backend: the run fails.
            ++result_.task_failures;
            count_error("task");
            KLOG(error) << "collection task failed (make-db will exit 1): " << e.what();
          }
          permit.release();
          tasks_.done();
        },
        asio::detached);
  }

  bool is_present(const std::string& path) { return reader_.is_present(path, now_); }

  // `what`: listing, pointer, build, junit or task.
  void count_error(const char* what) {
    ++result_.errors;
    if (std::string_view(what) == "listing") ++result_.listing_errors;
    obs::metrics().collect_errors.with({"collect", what}).inc();
  }

  // What to do about a status that answers a listing, in words users act on.
  std::string hint(int status, const std::string& entry) const {
    if (status == 401 || status == 403) {
      return "the credentials in use (" + core_.credentials_description() +
             ") may not list it: set GOOGLE_APPLICATION_CREDENTIALS to a key that can, or remove " + entry +
             " from buckets.yaml";
    }
    if (status == 404 || status == 410) {
      return "the bucket or prefix does not exist: remove " + entry + " from buckets.yaml if it is gone for good";
    }
    return "check " + entry + " in buckets.yaml";
  }

  // A listing that did not answer: cut short by a stop (nothing to say),
  // absent (a warning, the run goes on, SPEC §2), or a failure (exit 1).
  void listing_failed(const std::string& what, const std::string& entry, const net::Error& e) {
    if (is_cancelled(e)) return;
    if (means_absent(e)) {
      ++result_.listings_absent;
      KLOG(warning) << what << ": GCS answered HTTP " << e.status << ", skipped as absent; " << hint(e.status, entry);
      return;
    }
    count_error("listing");
    // Not always after retries: a listing the server would never end is cut
    // short at once (gcs::ClientConfig's listing limits).
    KLOG(error) << what << " failed (make-db will exit 1; a rerun tries again): " << e.what();
  }

  void listing_read() {
    ++result_.listings_read;
    stage_.progress();
  }

  // --- PR builds (SPEC §2.1, D10, D18) ---
  awaitable<void> collect_pr_builds() {
    // The keys of present PR builds, read once: a pointer to one of them is
    // not read at all, as in the reference.
    const int64_t now = now_;
    store::Database& reader = reader_;
    auto load_keys = [&reader, now] {
      BuildKeySet keys;
      reader.for_each_present_under(kPrBuilds, now, [&keys](std::string_view path) { keys.add_path(path); });
      keys.seal();
      return keys;
    };
    BuildKeySet present = co_await core_.offload(load_keys);
    KLOG(info) << "PR pass: " << present.size() << " present PR builds known ("
               << present.memory_bytes() / 1024 << " KiB)";
    std::map<std::string, int64_t> per_job;
    std::vector<std::string> pointers;
    std::function<bool(gcs::ListPage&&)> on_page = [&](gcs::ListPage&& page) {
      for (auto& name : page.names) {
        auto pointer = parse_pointer_name(name);
        if (!pointer) continue;
        int64_t& taken = per_job[pointer->job];
        if (opt_.build_limit > 0 && taken >= opt_.build_limit) continue;
        ++taken;
        if (present.contains(pointer->job, pointer->build)) {
          ++result_.pointers_skipped;
          continue;
        }
        pointers.push_back(std::move(name));
      }
      stage_.progress();
      return !stopping();
    };
    auto listed = co_await gcs_.list(kPrBucket, kPrDirectory, kNoDelimiter, on_page);
    if (!listed) {
      listing_failed("listing PR pointers gs://" + kPrBucket + "/" + kPrDirectory,
                     "the PR pointers gs://" + kPrBucket + "/" + kPrDirectory, listed.error());
      co_return;
    }
    listing_read();
    KLOG(info) << "PR pass: " << pointers.size() << " new pointers to read in " << per_job.size() << " jobs, "
               << result_.pointers_skipped << " skipped (build present)";
    for (auto& name : pointers) {
      if (stopping()) break;
      auto permit = co_await build_slots_.acquire();
      spawn(std::move(permit), [this, name]() -> awaitable<void> { co_await follow_pointer(name); });
    }
  }

  awaitable<void> follow_pointer(std::string name) {
    auto content = co_await gcs_.read(kPrBucket, name);
    if (!content) {
      if (is_cancelled(content.error())) co_return;
      count_error("pointer");
      KLOG(error) << "cannot read PR pointer gs://" << kPrBucket << "/" << obs::printable(name) << ": "
                  << content.error().what();
      co_return;
    }
    stage_.progress();
    if (!*content) co_return;  // gone since the listing
    auto target = parse_pointer_target(**content);
    if (!target) {
      KLOG(warning) << "PR pointer gs://" << kPrBucket << "/" << obs::printable(name)
                    << " does not hold a gs:// build path; skipped";
      co_return;
    }
    if (is_present(*target)) co_return;
    co_await fetch_one(*target);
  }

  // --- per-bucket jobs (SPEC §2.2) ---
  awaitable<void> collect_bucket(const config::Bucket& bucket) {
    auto gs = gcs::GsPath::parse(bucket.url);
    if (!gs) {
      KLOG(error) << "bucket " << bucket.url << " is not a gs:// path";
      co_return;
    }
    const std::string entry = "the entry " + bucket.url;
    auto dirs = co_await gcs_.list_dirs(gs->bucket, gs->name);
    if (!dirs) {
      listing_failed("listing jobs of " + bucket.url, entry, dirs.error());
      co_return;
    }
    listing_read();
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
    if (dirs->empty()) {
      KLOG(warning) << bucket.url << ": 0 jobs: no directories directly under this prefix; check " << entry
                    << " in buckets.yaml (jobs are the directories right under it)";
    } else {
      KLOG(info) << bucket.url << ": " << jobs.size() << " jobs (" << excluded << " excluded)";
    }
    jobs_total_ += jobs.size();
    // Several jobs are walked at once (each starts with a latest-build.txt read
    // or a listing); the walkers share the build slots.
    for (const auto& job : jobs) {
      if (stopping()) break;
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
      if (!latest && is_cancelled(latest.error())) co_return Candidates{};
      if (latest && *latest) {
        if (auto n = parse_latest_build(**latest)) co_return sequential_candidates(*n, opt_.build_limit);
      }
    }
    auto dirs = co_await gcs_.list_dirs(gs.bucket, job_prefix);
    if (!dirs) {
      listing_failed("listing builds of " + bucket.url + job + "/", "the entry " + bucket.url, dirs.error());
      co_return Candidates{};
    }
    listing_read();
    std::vector<std::string> names;
    names.reserve(dirs->size());
    for (const auto& d : *dirs) names.push_back(last_segment(strip_slash(d)));
    co_return listed_candidates(std::move(names), opt_.build_limit);
  }

  awaitable<void> walk_job(const config::Bucket& bucket, const gcs::GsPath& gs, const std::string& job) {
    CandidateWalker walker(co_await job_candidates(bucket, gs, job));
    const std::string job_url = bucket.url + job + "/";
    auto present = [&](const std::string& build) { return is_present(job_url + build); };
    while (!stopping()) {
      auto build = walker.next(present);
      if (!build) break;
      auto permit = co_await build_slots_.acquire();
      spawn(std::move(permit), [this, path = job_url + *build]() -> awaitable<void> { co_await fetch_one(path); });
    }
  }

  // --- one build: started.json + finished.json (SPEC §2.4) ---
  awaitable<void> fetch_one(std::string path) {
    auto write = co_await fetch_build(gcs_, path);
    if (!write) {
      if (is_cancelled(write.error())) co_return;
      count_error("build");
      KLOG(error) << "build " << obs::printable(path) << " not collected (a later run retries): "
                  << write.error().what();
      co_return;
    }
    ++result_.builds_fetched;
    stage_.progress();
    if (write->started_json || write->finished_json) writer_.write(std::move(*write));
  }

  // --- JUnit (SPEC §2.5, §3.3, D9) ---
  awaitable<void> collect_junit() {
    store::Database& reader = reader_;
    auto list_missing = [&reader] {
      std::vector<std::pair<int64_t, std::string>> found;
      reader.for_each_junit_missing([&found](int64_t id, const std::string& path) {
        found.emplace_back(id, path);
        return true;
      });
      return found;
    };
    auto missing = co_await core_.offload(list_missing);
    KLOG(info) << "JUnit pass: " << missing.size() << " builds missing JUnit";
    for (auto& [id, path] : missing) {
      if (stopping()) break;
      auto permit = co_await build_slots_.acquire();
      spawn(std::move(permit), [this, id = id, path = path]() -> awaitable<void> { co_await fetch_junit(id, path); });
    }
  }

  awaitable<void> fetch_junit(int64_t id, std::string path) {
    auto write = co_await download_junit(gcs_, core_.cpu(), id, path);
    if (!write) {
      if (is_cancelled(write.error())) co_return;
      count_error("junit");
      KLOG(error) << "JUnit of " << obs::printable(path) << " not collected (a later run retries): "
                  << write.error().what();
      co_return;
    }
    ++result_.junit_builds;
    stage_.progress();
    result_.junit_files += write->files.size();
    writer_.write(std::move(*write));
  }

  app::Core& core_;
  const MakeDbOptions& opt_;
  const config::Buckets& buckets_;
  gcs::Client& gcs_;
  store::Database& reader_;
  DbWriter& writer_;
  int64_t now_;
  net::AsyncSemaphore build_slots_;
  net::AsyncSemaphore job_slots_;  // jobs being walked at once
  net::WaitGroup tasks_;
  MakeDbResult result_;
  uint64_t jobs_done_ = 0;
  uint64_t jobs_total_ = 0;
  obs::Stage& stage_ = obs::stage("collect");
};

// A progress line every 5 s until cancelled (by the `||` in make_db).
awaitable<void> report_progress(const Collector& c, const net::HttpClient& http, const DbWriter& writer) {
  auto start = std::chrono::steady_clock::now();
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(std::chrono::seconds(5));
    co_await timer.async_wait(asio::use_awaitable);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto& s = http.stats();
    const auto& r = c.result();
    char line[320];
    std::string eta = "?";
    if (c.jobs_done() > 0 && c.jobs_done() < c.jobs_total()) {
      eta = std::to_string(static_cast<long long>(secs * static_cast<double>(c.jobs_total() - c.jobs_done()) /
                                                  static_cast<double>(c.jobs_done()))) + "s";
    }
    std::snprintf(line, sizeof line,
                  "builds fetched %llu (%.0f/s), JUnit builds %llu, jobs walked %llu/%llu (ETA %s), "
                  "requests in flight %lld, retries %llu, errors %llu, writes queued %zu",
                  static_cast<unsigned long long>(r.builds_fetched), secs > 0 ? r.builds_fetched / secs : 0.0,
                  static_cast<unsigned long long>(r.junit_builds), static_cast<unsigned long long>(c.jobs_done()),
                  static_cast<unsigned long long>(c.jobs_total()), eta.c_str(),
                  static_cast<long long>(s.in_flight.load()), static_cast<unsigned long long>(s.retries.load()),
                  static_cast<unsigned long long>(r.errors), writer.queued());
    KLOG(info) << line;
  }
}

}  // namespace

int exit_code(const MakeDbResult& r) {
  if (r.task_failures > 0) return 1;
  if (r.interrupted) return 0;  // a stop commits what was collected; the next run goes on
  if (r.listing_errors > 0) return 1;
  if (r.listings_read == 0 && r.listings_absent > 0) {
    KLOG(error) << "every listing answered absent: nothing could be read (check buckets.yaml and the credentials)";
    return 1;
  }
  return 0;
}

awaitable<MakeDbResult> make_db(app::Core& core, MakeDbOptions opt) {
  auto buckets = config::Buckets::load(opt.buckets_path);
  store::Database reader(core.db_path());  // creates the schema when new
  DbWriter writer(core.db_path(), opt.commit_every, "collect");
  obs::set_ready();
  auto busy = obs::stage("collect").busy();
  co_await core.connect(app::gcs_api);
  KLOG(info) << "collecting with up to " << core.http().config().max_in_flight << " requests in flight";

  Collector collector(core, opt, buckets, reader, writer);
  std::exception_ptr failure;
  // `||` waits for the first success: run() must not throw, or the progress
  // reporter (which never ends) would be waited for forever.
  auto run = [&collector, &failure]() -> awaitable<void> {
    try {
      co_await collector.run();
    } catch (const std::exception&) {
      failure = std::current_exception();
    }
  };
  co_await (run() || report_progress(collector, core.http(), writer));
  co_await collector.drain();
  // Commits the rest off the event loop; rethrows a writer failure.
  auto finish = [&writer] { writer.finish(); };
  co_await core.offload(finish);
  if (failure) std::rethrow_exception(failure);

  MakeDbResult result = collector.result();
  result.interrupted = core.stopping();
  result.builds_written = writer.stats().builds_written;
  KLOG(info) << "make-db done: " << result.builds_fetched << " builds fetched, " << result.builds_written
             << " written, " << result.pointers_skipped << " PR pointers skipped, " << result.junit_builds
             << " builds with " << result.junit_files << " JUnit files, " << result.errors << " errors"
             << (result.listings_absent ? ", " + std::to_string(result.listings_absent) + " listings absent" : "")
             << (result.interrupted ? " (interrupted)" : "");
  co_return result;
}

}  // namespace kettle::collect
