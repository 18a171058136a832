#include "kettle/collect/make_db.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "kettle/collect/db_writer.hpp"
#include "kettle/collect/fetch_build.hpp"
#include "kettle/collect/junit_download.hpp"
#include "kettle/collect/listing_plan.hpp"
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

// What one build fetch (or PR pointer) came to, for its listing's cursor.
enum class Fetched {
  present,    // present now: a full listing would not fetch it again
  kept,       // a full listing would fetch it again (failed, nothing written, running)
  cancelled,  // cut short by a stop: the listing's outcome is unknown
};

// One listing's outcome while its builds are fetched. The state is queued
// to the writer when the walk is over and the last fetch has ended (so after
// the builds' own writes), and never when any of it was cut short.
struct ListingTracker {
  explicit ListingTracker(ListingOutcome o) : outcome(std::move(o)) {}
  ListingOutcome outcome;
  size_t pending = 0;  // fetches not yet ended
  bool walked = false;
  bool abandoned = false;
};
using TrackerPtr = std::shared_ptr<ListingTracker>;

// The (job, build) key of a PR pointer equals its target's last two path
// segments under the PR builds: then the target being present makes the
// pointer present for the next run's PR pass (SPEC §2.1).
bool pointer_matches_target(const std::string& pointer, const std::string& target) {
  auto name = parse_pointer_name(pointer);
  if (!name || !target.starts_with(kPrBuilds + "/")) return false;
  auto slash = target.rfind('/');
  auto job_slash = target.rfind('/', slash - 1);
  return target.substr(slash + 1) == name->build && target.substr(job_slash + 1, slash - job_slash - 1) == name->job;
}

// A pointer's name below its job directory, without ".txt" (what its
// directory's cursor orders), or "" for an object directly under the pointer directory.
std::string_view pointer_in_directory(std::string_view object_name) {
  std::string_view rest = object_name.substr(kPrDirectory.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return {};
  rest.remove_prefix(slash + 1);
  if (rest.ends_with(".txt")) rest.remove_suffix(4);
  return rest;
}

// The job directory ("pr-logs/directory/JOB/") an object lies in, or "".
std::string_view pointer_directory(std::string_view object_name) {
  auto slash = object_name.find('/', kPrDirectory.size());
  return slash == std::string_view::npos ? std::string_view() : object_name.substr(0, slash + 1);
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
      // The error names who answered: GCS, or a token endpoint refusing the credentials.
      KLOG(warning) << what << ": skipped as absent (" << e.what() << "); " << hint(e.status, entry);
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

  // --- listing state (incremental listing) ---
  // A tracker for a listing planned by `plan`, or null when its outcome is not stored.
  TrackerPtr track(const ListingPlan& plan, std::optional<store::ListingCursor> before, const std::string& prefix) {
    if (!plan.keeps_state) return nullptr;
    return std::make_shared<ListingTracker>(
        ListingOutcome(plan, std::move(before), prefix, now_, opt_.listing.max_kept));
  }

  void fetch_started(const TrackerPtr& t) {
    if (t) ++t->pending;
  }

  void fetch_ended(const TrackerPtr& t, std::string_view name, Fetched fetched) {
    if (!t) return;
    if (fetched == Fetched::cancelled) t->abandoned = true;
    if (fetched == Fetched::kept) t->outcome.kept(name);
    --t->pending;
    store_state(t);
  }

  // Every fetch of the listing has started (`complete`), or a stop cut the walk short.
  void walk_ended(const TrackerPtr& t, bool complete) {
    if (!t) return;
    t->walked = true;
    if (!complete) t->abandoned = true;
    store_state(t);
  }

  // Once the walk is over and its last fetch has ended: queued behind the
  // fetches' own writes, so committed with them or after them.
  void store_state(const TrackerPtr& t) {
    if (!t->walked || t->pending > 0 || t->abandoned) return;
    if (auto row = t->outcome.finish()) writer_.write(ListingWrite{std::move(*row)});
  }

  // --- PR builds (SPEC §2.1, D10, D18) ---
  // Either one listing of every pointer, or one delimiter listing of the job
  // directories and a listing of each from its cursor: whichever the stored
  // listing state says costs fewer requests.
  awaitable<void> collect_pr_builds() {
    const std::string directory_url = "gs://" + kPrBucket + "/" + kPrDirectory;
    bool per_job = false;
    if (!opt_.full_listing && opt_.build_limit == 0) {
      PrListingEstimate estimate(opt_.listing);
      store::Database& reader = reader_;
      auto read_rows = [&reader, &estimate, &directory_url] {
        if (auto row = reader.listing_cursor(directory_url)) estimate.directory(*row);
        reader.for_each_listing_cursor_under(directory_url,
                                             [&estimate](const store::ListingCursor& row) { estimate.job(row); });
      };
      co_await core_.offload(read_rows);
      per_job = estimate.per_job(now_, directory_url);
      KLOG(info) << "PR pass: " << (per_job ? "a listing per job directory" : "one listing of every pointer")
                 << " (estimated requests: " << estimate.per_job_requests() << " per job directory, "
                 << estimate.full_requests() << " for every pointer)";
    }
    if (per_job) {
      co_await list_pr_jobs();
    } else {
      co_await list_pr_pointers(directory_url);
    }
  }

  // The keys of present PR builds; a pointer whose key is among them is not
  // read at all, as in the reference. All of them, or (`recent`) those that
  // finished since recent->since, found through the finished_time index,
  // plus every build of the jobs in recent->whole_jobs (one scan).
  struct RecentKeys {
    double since = 0;
    std::set<std::string, std::less<>> whole_jobs;
  };
  awaitable<std::shared_ptr<const BuildKeySet>> present_pr_keys(std::optional<RecentKeys> recent) {
    const int64_t now = now_;
    store::Database& reader = reader_;
    auto load_keys = [&reader, now, &recent] {
      auto keys = std::make_shared<BuildKeySet>();
      auto add = [&keys](std::string_view path) { keys->add_path(path); };
      if (!recent) {
        reader.for_each_present_under(kPrBuilds, now, add);
      } else {
        reader.for_each_finished_under(kPrBuilds, recent->since, add);
        if (!recent->whole_jobs.empty()) {
          reader.for_each_present_under(kPrBuilds, now, [&](std::string_view path) {
            auto slash = path.rfind('/');
            auto job_slash = slash == std::string_view::npos ? slash : path.rfind('/', slash - 1);
            if (job_slash != std::string_view::npos &&
                recent->whole_jobs.contains(path.substr(job_slash + 1, slash - job_slash - 1)))
              keys->add_path(path);
          });
        }
      }
      keys->seal();
      return std::shared_ptr<const BuildKeySet>(std::move(keys));
    };
    auto present = co_await core_.offload(load_keys);
    KLOG(info) << "PR pass: " << present->size() << " present PR builds known ("
               << present->memory_bytes() / 1024 << " KiB"
               << (recent ? ": those that can sort after a cursor, and of jobs listed in full" : "") << ")";
    co_return present;
  }

  // One listing of every pointer (the reference's way). Also the cursors of
  // every job directory, for the runs that list them one by one.
  awaitable<void> list_pr_pointers(std::string directory_url) {
    const std::optional<RecentKeys> all_keys;
    auto present = co_await present_pr_keys(all_keys);
    std::map<std::string, int64_t> per_job;
    std::map<std::string, TrackerPtr, std::less<>> trackers;  // per job directory
    std::vector<std::pair<std::string, TrackerPtr>> pointers;
    int64_t names = 0;
    bool cut_short = false;
    auto tracker_of = [&](std::string_view name) -> TrackerPtr {
      std::string_view dir = pointer_directory(name);
      if (dir.empty() || opt_.build_limit > 0) return nullptr;
      auto it = trackers.find(dir);
      if (it != trackers.end()) return it->second;
      const std::string url = "gs://" + kPrBucket + "/" + std::string(dir);
      auto before = reader_.listing_cursor(url);
      const ListingPlan plan = plan_listing({.prefix = url, .state = &before, .now = now_, .force_full = true},
                                            opt_.listing);
      return trackers.emplace(std::string(dir), track(plan, std::move(before), url)).first->second;
    };
    std::function<bool(gcs::ListPage&&)> on_page = [&](gcs::ListPage&& page) {
      for (auto& name : page.names) {
        auto pointer = parse_pointer_name(name);
        if (!pointer) continue;
        int64_t& taken = per_job[pointer->job];
        if (opt_.build_limit > 0 && taken >= opt_.build_limit) continue;
        ++taken;
        ++names;
        TrackerPtr tracker = tracker_of(name);
        if (tracker) tracker->outcome.listed(pointer_in_directory(name));
        if (present->contains(pointer->job, pointer->build)) {
          ++result_.pointers_skipped;
          continue;
        }
        pointers.emplace_back(std::move(name), std::move(tracker));
      }
      stage_.progress();
      cut_short = stopping();
      return !cut_short;
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
    const bool complete = co_await follow_pointers(std::move(pointers)) && !cut_short;
    for (auto& [dir, tracker] : trackers) walk_ended(tracker, complete);
    if (complete && opt_.build_limit == 0) {
      store::ListingCursor row{.prefix = directory_url, .cursor = "", .full_listed_at = now_, .names = names,
                               .names_from_cursor = names};
      writer_.write(ListingWrite{std::move(row)});
    }
  }

  struct PrJobListing {
    std::string dir;  // pr-logs/directory/JOB/
    ListingPlan plan;
    std::optional<store::ListingCursor> before;
  };

  // The job directories, found with one delimiter listing, each listed from
  // its cursor (several at once).
  awaitable<void> list_pr_jobs() {
    std::vector<std::string> dirs;
    std::vector<std::pair<std::string, TrackerPtr>> direct;  // pointer objects right in the directory
    const std::string delimiter = "/";
    std::function<bool(gcs::ListPage&&)> on_page = [&](gcs::ListPage&& page) {
      for (auto& p : page.prefixes) dirs.push_back(std::move(p));
      for (auto& n : page.names)
        if (parse_pointer_name(n)) direct.emplace_back(std::move(n), nullptr);
      stage_.progress();
      return !stopping();
    };
    auto listed = co_await gcs_.list(kPrBucket, kPrDirectory, delimiter, on_page);
    if (!listed) {
      listing_failed("listing PR job directories gs://" + kPrBucket + "/" + kPrDirectory,
                     "the PR pointers gs://" + kPrBucket + "/" + kPrDirectory, listed.error());
      co_return;
    }
    listing_read();
    if (stopping()) co_return;
    // Only the keys the listings can meet: pointers from the oldest start on,
    // whose builds finished after their ids were made (with a margin for
    // clocks); for job directories listed in full, all of theirs.
    std::vector<PrJobListing> jobs;
    jobs.reserve(dirs.size());
    std::optional<RecentKeys> recent(std::in_place);
    if (!direct.empty()) recent->whole_jobs.insert(last_segment(strip_slash(kPrDirectory)));
    int64_t oldest_start = now_;
    for (auto& dir : dirs) {
      const std::string url = "gs://" + kPrBucket + "/" + dir;
      auto before = reader_.listing_cursor(url);
      ListingPlan plan =
          plan_listing({.prefix = url, .state = &before, .now = now_, .safety_net = false}, opt_.listing);
      if (plan.full()) {
        recent->whole_jobs.insert(last_segment(strip_slash(dir)));
      } else {
        oldest_start = std::min(oldest_start, snowflake_seconds(plan.start));
      }
      jobs.push_back({std::move(dir), std::move(plan), std::move(before)});
    }
    recent->since = static_cast<double>(oldest_start - opt_.listing.id_clock_margin);
    auto present = co_await present_pr_keys(recent);
    std::erase_if(direct, [&](const auto& p) {
      auto pointer = parse_pointer_name(p.first);
      bool skip = present->contains(pointer->job, pointer->build);
      result_.pointers_skipped += skip;
      return skip;
    });
    co_await follow_pointers(std::move(direct));
    for (auto& job : jobs) {
      if (stopping()) break;
      auto permit = co_await job_slots_.acquire();
      spawn(std::move(permit), [this, job = std::move(job), present]() -> awaitable<void> {
        co_await list_pr_job(job, present);
      });
    }
  }

  awaitable<void> list_pr_job(PrJobListing job, std::shared_ptr<const BuildKeySet> present) {
    const std::string url = "gs://" + kPrBucket + "/" + job.dir;
    const std::string start_offset = job.plan.full() ? std::string() : job.dir + job.plan.start;
    TrackerPtr tracker = track(job.plan, std::move(job.before), url);
    std::vector<std::pair<std::string, TrackerPtr>> pointers;
    bool cut_short = false;
    std::function<bool(gcs::ListPage&&)> on_page = [&](gcs::ListPage&& page) {
      for (auto& name : page.names) {
        auto pointer = parse_pointer_name(name);
        if (!pointer) continue;
        if (tracker) tracker->outcome.listed(pointer_in_directory(name));
        if (present->contains(pointer->job, pointer->build)) {
          ++result_.pointers_skipped;
          continue;
        }
        pointers.emplace_back(std::move(name), tracker);
      }
      stage_.progress();
      cut_short = stopping();
      return !cut_short;
    };
    auto listed = co_await gcs_.list(kPrBucket, job.dir, kNoDelimiter, start_offset, on_page);
    if (!listed) {
      listing_failed("listing PR pointers " + obs::printable(url), "the PR pointers " + obs::printable(url),
                     listed.error());
      co_return;
    }
    listing_read();
    if (!job.plan.full()) ++result_.listings_from_cursor;
    // Pointers below the start that were not present: read again, as a full listing would.
    for (const auto& build : job.plan.carried) {
      std::string name = job.dir + build + ".txt";
      auto pointer = parse_pointer_name(name);
      if (!pointer || present->contains(pointer->job, pointer->build)) continue;
      pointers.emplace_back(std::move(name), tracker);
    }
    const bool complete = co_await follow_pointers(std::move(pointers)) && !cut_short;
    walk_ended(tracker, complete);
  }

  // Reads each pointer, and fetches its build, on the build slots; false
  // when a stop cut that short.
  awaitable<bool> follow_pointers(std::vector<std::pair<std::string, TrackerPtr>> pointers) {
    for (auto& [name, tracker] : pointers) {
      if (stopping()) co_return false;
      auto permit = co_await build_slots_.acquire();
      fetch_started(tracker);
      spawn(std::move(permit), [this, name = std::move(name), tracker = tracker]() -> awaitable<void> {
        Fetched fetched = co_await follow_pointer(name);
        fetch_ended(tracker, pointer_in_directory(name), fetched);
      });
    }
    co_return true;
  }

  // A pointer counts as present for its directory's cursor only when the
  // next run's PR pass would find its key present (pointer_matches_target).
  awaitable<Fetched> follow_pointer(std::string name) {
    auto content = co_await gcs_.read(kPrBucket, name);
    if (!content) {
      if (is_cancelled(content.error())) co_return Fetched::cancelled;
      count_error("pointer");
      KLOG(error) << "cannot read PR pointer gs://" << kPrBucket << "/" << obs::printable(name) << ": "
                  << content.error().what();
      co_return Fetched::kept;
    }
    stage_.progress();
    if (!*content) co_return Fetched::kept;  // gone since the listing
    auto target = parse_pointer_target(**content);
    if (!target) {
      KLOG(warning) << "PR pointer gs://" << kPrBucket << "/" << obs::printable(name)
                    << " does not hold a gs:// build path; skipped";
      co_return Fetched::kept;
    }
    Fetched fetched = Fetched::present;
    if (!is_present(*target)) fetched = co_await fetch_one(*target);
    if (fetched == Fetched::present && !pointer_matches_target(name, *target)) fetched = Fetched::kept;
    co_return fetched;
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

  struct JobCandidates {
    Candidates candidates;
    TrackerPtr tracker;  // when the job was listed and its outcome is stored
  };

  awaitable<JobCandidates> job_candidates(const config::Bucket& bucket, const gcs::GsPath& gs, const std::string& job) {
    const std::string job_prefix = gs.name + job + "/";
    const std::string job_url = bucket.url + job + "/";
    auto before = reader_.listing_cursor(job_url);
    if (bucket.sequential) {
      const std::string latest_name = job_prefix + "latest-build.txt";
      auto latest = co_await gcs_.read(gs.bucket, latest_name);
      if (latest) stage_.progress();
      if (!latest && is_cancelled(latest.error())) co_return JobCandidates{};
      if (latest && *latest) {
        if (auto n = parse_latest_build(**latest)) {
          // Numbered builds made now would sort below a cursor from an
          // earlier listing of this job: that cursor no longer holds.
          if (before && !before->cursor.empty()) {
            store::ListingCursor reset = *before;
            reset.cursor.clear();
            reset.kept.clear();
            writer_.write(ListingWrite{std::move(reset)});
          }
          co_return JobCandidates{sequential_candidates(*n, opt_.build_limit), nullptr};
        }
      }
    }
    const ListingPlan plan = plan_listing({.prefix = job_url, .state = &before, .now = now_,
                                           .force_full = opt_.full_listing, .limited = opt_.build_limit > 0},
                                          opt_.listing);
    const std::string start_offset = plan.full() ? std::string() : job_prefix + plan.start;
    auto dirs = co_await gcs_.list_dirs(gs.bucket, job_prefix, start_offset);
    if (!dirs) {
      listing_failed("listing builds of " + bucket.url + job + "/", "the entry " + bucket.url, dirs.error());
      co_return JobCandidates{};
    }
    listing_read();
    if (!plan.full()) ++result_.listings_from_cursor;
    TrackerPtr tracker = track(plan, std::move(before), job_url);
    std::vector<std::string> names;
    names.reserve(dirs->size() + plan.carried.size());
    for (const auto& d : *dirs) {
      names.push_back(last_segment(strip_slash(d)));
      if (tracker) tracker->outcome.listed(names.back());
    }
    // Builds below the start that were not present: walked as a full listing would.
    names.insert(names.end(), plan.carried.begin(), plan.carried.end());
    co_return JobCandidates{listed_candidates(std::move(names), opt_.build_limit), std::move(tracker)};
  }

  awaitable<void> walk_job(const config::Bucket& bucket, const gcs::GsPath& gs, const std::string& job) {
    JobCandidates listing = co_await job_candidates(bucket, gs, job);
    CandidateWalker walker(std::move(listing.candidates));
    const TrackerPtr tracker = std::move(listing.tracker);
    const std::string job_url = bucket.url + job + "/";
    auto present = [&](const std::string& build) { return is_present(job_url + build); };
    bool complete = false;
    while (!stopping()) {
      auto build = walker.next(present);
      if (!build) {
        complete = true;
        break;
      }
      auto permit = co_await build_slots_.acquire();
      fetch_started(tracker);
      spawn(std::move(permit), [this, path = job_url + *build, name = *build, tracker]() -> awaitable<void> {
        Fetched fetched = co_await fetch_one(path);
        fetch_ended(tracker, name, fetched);
      });
    }
    walk_ended(tracker, complete);
  }

  // --- one build: started.json + finished.json (SPEC §2.4) ---
  // Present afterwards when finished.json was read: with it the build is
  // present for good (SPEC §2.3).
  awaitable<Fetched> fetch_one(std::string path) {
    auto write = co_await fetch_build(gcs_, path);
    if (!write) {
      if (is_cancelled(write.error())) co_return Fetched::cancelled;
      count_error("build");
      KLOG(error) << "build " << obs::printable(path) << " not collected (a later run retries): "
                  << write.error().what();
      co_return Fetched::kept;
    }
    ++result_.builds_fetched;
    stage_.progress();
    const bool finished = write->finished_json.has_value();
    if (write->started_json || finished) writer_.write(std::move(*write));
    co_return finished ? Fetched::present : Fetched::kept;
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
    char line[400];
    std::string eta = "?";
    if (c.jobs_done() > 0 && c.jobs_done() < c.jobs_total()) {
      eta = std::to_string(static_cast<long long>(secs * static_cast<double>(c.jobs_total() - c.jobs_done()) /
                                                  static_cast<double>(c.jobs_done()))) + "s";
    }
    std::snprintf(line, sizeof line,
                  "builds fetched %llu (%.0f/s), JUnit builds %llu, jobs walked %llu/%llu (ETA %s), "
                  "requests in flight %lld (%llu waiting for memory, bodies %llu MiB), retries %llu, errors %llu, "
                  "writes queued %zu",
                  static_cast<unsigned long long>(r.builds_fetched), secs > 0 ? r.builds_fetched / secs : 0.0,
                  static_cast<unsigned long long>(r.junit_builds), static_cast<unsigned long long>(c.jobs_done()),
                  static_cast<unsigned long long>(c.jobs_total()), eta.c_str(),
                  static_cast<long long>(s.in_flight.load()),
                  static_cast<unsigned long long>(s.body_budget_waiting.load()),
                  static_cast<unsigned long long>(s.body_bytes_held.load() >> 20),
                  static_cast<unsigned long long>(s.retries.load()), static_cast<unsigned long long>(r.errors),
                  writer.queued());
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
             << ", " << result.listings_read << " listings (" << result.listings_from_cursor << " from a cursor)"
             << (result.listings_absent ? ", " + std::to_string(result.listings_absent) + " listings absent" : "")
             << (result.interrupted ? " (interrupted)" : "");
  co_return result;
}

}  // namespace kettle::collect
