#include "synthetic_store.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <stdexcept>

namespace fakegcp {
namespace {

constexpr std::int64_t kSnowflakeEpochMs = 1288834974657;  // Twitter's epoch, as Prow uses
constexpr std::uint64_t kFirstPr = 100000;                 // PR numbers keep 6 digits
constexpr std::uint64_t kLastPr = 999999;
constexpr std::uint64_t kMaxBuilds = 1'000'000'000;  // spec sanity bounds
constexpr std::uint32_t kMaxJobs = 1'000'000;
constexpr std::uint32_t kMaxTests = 100'000;
// Snowflake ids from here on have 19 digits (until 2080), so name order is id order.
constexpr std::int64_t kNineteenDigitsMs = 238'418'579'102;  // ceil(1e18 / 2^22)

const char* const kWords[] = {"kubernetes", "e2e",     "gce",         "node",    "conformance",
                              "unit",       "verify",  "integration", "serial",  "kind",
                              "eks",        "aks",     "capz",        "kops",    "cluster-api",
                              "perf",       "scale",   "upgrade",     "ipv6",    "dualstack",
                              "gke",        "windows", "arm64",       "storage", "network"};
constexpr std::size_t kWordCount = sizeof kWords / sizeof kWords[0];
const char* const kOrgs[] = {"kubernetes", "kubernetes-sigs", "kubernetes-csi", "containerd",
                             "cri-o"};

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Salts keep the draws for one (job, build) independent of each other.
enum Salt : std::uint64_t {
  kJobWeight = 1,
  kJobStyle,
  kJobWords,
  kJobPhase,
  kLowBits,
  kFailed,
  kDuration,
  kDocs,
  kTestNames,
  kTestTimes,
  kFailingTest,
};

std::uint64_t draw(std::uint64_t seed, std::uint64_t a, std::uint64_t b, Salt salt) {
  return splitmix(splitmix(splitmix(seed ^ salt) ^ a) ^ b);
}

double unit(std::uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

std::string hex(std::uint64_t h, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf + 16 - digits, static_cast<std::size_t>(digits));
}

// The k-th (from 0) of 1..n in byte order of their decimal names.
std::uint64_t kth_in_name_order(std::uint64_t n, std::uint64_t k) {
  auto under = [n](std::uint64_t prefix) {  // how many of 1..n start with `prefix`
    std::uint64_t count = 0;
    for (std::uint64_t first = prefix, last = prefix; first <= n; first *= 10, last = last * 10 + 9)
      count += std::min(n, last) - first + 1;
    return count;
  };
  std::uint64_t cur = 1;
  while (k > 0) {
    std::uint64_t steps = under(cur);
    if (steps <= k) {
      k -= steps;
      ++cur;
    } else {
      --k;
      cur *= 10;
    }
  }
  return cur;
}

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty() || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split_segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Visits children given in order as key(k), k < n, from the first one whose
// subtree may hold a name >= from (found by bisection: the order makes
// "everything below `from`" true for a leading run only).
template <class KeyAt>
void visit_ordered(std::uint64_t n, const KeyAt& key_at, std::string_view from,
                   const ObjectTree::Visit& visit) {
  std::uint64_t lo = 0, hi = n;
  while (lo < hi) {
    std::uint64_t mid = lo + (hi - lo) / 2;
    if (all_below(key_at(mid).first, from))
      lo = mid + 1;
    else
      hi = mid;
  }
  for (std::uint64_t k = lo; k < n; ++k) {
    auto [key, is_dir] = key_at(k);
    if (!visit(key, is_dir)) return;
  }
}

template <class T>
T number_value(std::string_view key, std::string_view text, T min, T max) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max)
    throw std::invalid_argument(std::string(key) + "=" + std::string(text) +
                                ": want a number in [" + std::to_string(min) + ", " +
                                std::to_string(max) + "]");
  return v;
}

double fraction_value(std::string_view key, std::string_view text) {
  return number_value<double>(key, text, 0.0, 1.0);
}

}  // namespace

SyntheticSpec SyntheticSpec::parse(std::string_view text) {
  SyntheticSpec s;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos)
      throw std::invalid_argument(std::string(item) + ": want key=value");
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "seed")
      s.seed = number_value<std::uint64_t>(key, value, 0, UINT64_MAX);
    else if (key == "jobs")
      s.jobs = number_value<std::uint32_t>(key, value, 0, kMaxJobs);
    else if (key == "builds")
      s.builds = number_value<std::uint64_t>(key, value, 0, kMaxBuilds);
    else if (key == "pr_jobs")
      s.pr_jobs = number_value<std::uint32_t>(key, value, 0, kMaxJobs);
    else if (key == "pr")
      s.pr = number_value<std::uint64_t>(key, value, 0, kMaxBuilds);
    else if (key == "repos")
      s.repos = number_value<std::uint32_t>(key, value, 0, kMaxJobs);
    else if (key == "builds_per_pr")
      s.builds_per_pr = number_value<std::uint32_t>(key, value, 1, 1000);
    else if (key == "short")
      s.short_jobs = fraction_value(key, value);
    else if (key == "sequential")
      s.sequential = fraction_value(key, value);
    else if (key == "duration")
      s.duration = number_value<double>(key, value, 1, 100000);
    else if (key == "failed")
      s.failed = fraction_value(key, value);
    else if (key == "tests")
      s.tests = number_value<std::uint32_t>(key, value, 0, kMaxTests);
    else if (key == "days")
      s.days = number_value<double>(key, value, 0.01, 36500);
    else if (key == "now")
      s.now = number_value<std::int64_t>(key, value, kSnowflakeEpochMs / 1000 + 86400 * 365,
                                         4'000'000'000);
    else if (key == "new")
      s.new_percent = number_value<double>(key, value, 0, 1000);
    else if (key == "generation")
      s.generation = number_value<std::uint32_t>(key, value, 0, 1000);
    else
      throw std::invalid_argument("unknown key " + std::string(key));
  }
  if (s.short_jobs + s.sequential > 1)
    throw std::invalid_argument("short + sequential must be at most 1");
  if (s.builds < s.jobs) throw std::invalid_argument("builds must be at least jobs (one each)");
  if (s.pr > 0) {
    if (s.pr_jobs == 0) s.pr_jobs = std::max<std::uint32_t>(1, s.jobs / 3);
    if (s.pr < s.pr_jobs) throw std::invalid_argument("pr must be at least pr_jobs (one each)");
    if (s.repos == 0) s.repos = std::max<std::uint32_t>(1, s.pr_jobs / 10);
    s.repos = std::min(s.repos, s.pr_jobs);  // every repository has a job
  } else {
    s.pr_jobs = 0;
    s.repos = 0;
  }
  return s;
}

// ---------------------------------------------------------------- the model

struct SyntheticBucket::Model {
  enum class Style : std::uint8_t { snowflake, short_numbers, sequential };

  struct Job {
    std::string name;
    Style style = Style::snowflake;
    bool pr = false;
    std::uint32_t repo = 0;
    std::uint64_t id = 0;  // creation index: the draws' key
    // Build i starts at base_ms + i * step_ms: start times, and the
    // snowflake ids made from them, grow with i.
    std::int64_t base_ms = 0;
    std::int64_t step_ms = 2;
    std::uint64_t most = 0;  // PR jobs: what 6-digit PR numbers hold
  };

  // A build: jobs[job], index i (0 = oldest).
  struct BuildRef {
    std::uint32_t job = 0;
    std::uint64_t i = 0;
  };

  std::string bucket;
  SyntheticSpec spec;
  std::uint32_t generation = 0;
  std::int64_t span_ms = 0;
  std::int64_t clock_ms = 0;                        // the model's now: builds started by then exist
  std::vector<Job> jobs;                            // CI jobs first, then PR jobs
  std::vector<std::uint32_t> ci_sorted, pr_sorted;  // job indices by name
  std::vector<std::string> repos;
  std::vector<std::uint32_t> repo_sorted;             // repository indices by name
  std::vector<std::vector<std::uint32_t>> repo_jobs;  // job indices by name, per repository

  std::uint64_t h(std::uint64_t a, std::uint64_t b, Salt salt) const {
    return draw(spec.seed, a, b, salt);
  }

  // ------------------------------------------------------------ building

  Model(std::string bucket_name, const SyntheticSpec& s) : bucket(std::move(bucket_name)), spec(s) {
    const std::int64_t now_ms = spec.now * 1000;
    span_ms = static_cast<std::int64_t>(spec.days * 86400.0 * 1000.0);
    clock_ms = now_ms;
    auto add_jobs = [&](std::uint32_t count, std::uint64_t total, bool pr) {
      const std::size_t first = jobs.size();
      std::vector<double> weight(count);
      double sum = 0;
      for (std::uint32_t k = 0; k < count; ++k) {
        // Uneven sizes, as in production: a few jobs hold many times the median.
        weight[k] = std::exp(3.0 * unit(h(first + k, 0, kJobWeight)));
        sum += weight[k];
      }
      const std::uint64_t spread = total - count;  // each job has one build, the rest by weight
      double before = 0;
      for (std::uint32_t k = 0; k < count; ++k) {
        Job job;
        job.id = first + k;
        job.pr = pr;
        auto share = [&](double w) {
          return static_cast<std::uint64_t>(std::floor(spread * w / sum));
        };
        std::uint64_t n = 1 + share(before + weight[k]) - share(before);
        if (k + 1 == count) n = 1 + spread - share(before);  // rounding: the total is exact
        before += weight[k];
        std::uint64_t words = h(job.id, 0, kJobWords);
        std::string w1 = kWords[words % kWordCount], w2 = kWords[(words >> 16) % kWordCount];
        if (pr) {
          job.repo = static_cast<std::uint32_t>(k % spec.repos);
          job.name = "pull-" + w1 + "-" + w2 + "-" + std::to_string(k);
        } else {
          double u = unit(h(job.id, 0, kJobStyle));
          job.style = u < spec.sequential                     ? Style::sequential
                      : u < spec.sequential + spec.short_jobs ? Style::short_numbers
                                                              : Style::snowflake;
          job.name = "ci-" + w1 + "-" + w2 + "-" + std::to_string(k);
        }
        job.step_ms = std::max<std::int64_t>(2, span_ms / static_cast<std::int64_t>(n));
        // Build n - 1 is the last to start by now, at a seeded point of its
        // step: the next one comes as soon as in a steady state.
        const std::int64_t slack = job.step_ms - 1;
        job.base_ms =
            now_ms - static_cast<std::int64_t>(n) * job.step_ms + 1 +
            static_cast<std::int64_t>(unit(h(job.id, 0, kJobPhase)) * static_cast<double>(slack));
        job.most = pr ? (kLastPr - kFirstPr + 1) * spec.builds_per_pr : UINT64_MAX;
        if (job.base_ms - kSnowflakeEpochMs < kNineteenDigitsMs)
          throw std::invalid_argument(
              "now - days lies before mid-2018: build ids would not all have 19 digits");
        if (pr && n > (kLastPr - kFirstPr + 1) * spec.builds_per_pr)
          throw std::invalid_argument(
              "a PR job has more builds than 6-digit PR numbers hold: raise builds_per_pr or "
              "pr_jobs");
        jobs.push_back(std::move(job));
      }
    };
    add_jobs(spec.jobs, spec.builds, false);
    add_jobs(spec.pr_jobs, spec.pr, true);

    auto by_name = [this](std::uint32_t a, std::uint32_t b) { return jobs[a].name < jobs[b].name; };
    for (std::uint32_t j = 0; j < jobs.size(); ++j)
      (jobs[j].pr ? pr_sorted : ci_sorted).push_back(j);
    std::sort(ci_sorted.begin(), ci_sorted.end(), by_name);
    std::sort(pr_sorted.begin(), pr_sorted.end(), by_name);
    repo_jobs.resize(spec.repos);
    for (std::uint32_t r = 0; r < spec.repos; ++r) {
      std::uint64_t words = h(r, 1, kJobWords);
      repos.push_back(std::string(kOrgs[words % 5]) + "_" + kWords[(words >> 8) % kWordCount] +
                      "-" + std::to_string(r));
      repo_sorted.push_back(r);
    }
    std::sort(repo_sorted.begin(), repo_sorted.end(),
              [this](std::uint32_t a, std::uint32_t b) { return repos[a] < repos[b]; });
    for (std::uint32_t j : pr_sorted) repo_jobs[jobs[j].repo].push_back(j);
    for (std::uint32_t g = 0; g < spec.generation; ++g) advance(spec.new_percent);
  }

  // Time moves on by `percent` of the history: each job gains that share of
  // its builds on average (it starts builds at its own pace), and builds
  // whose duration has passed finish.
  void advance(double percent) {
    ++generation;
    clock_ms += static_cast<std::int64_t>(static_cast<double>(span_ms) * percent / 100.0);
  }

  // ------------------------------------------------------------ builds

  // The builds started by now (PR jobs stop growing where 6-digit PR numbers end).
  std::uint64_t count(const Job& job) const {
    if (clock_ms < job.base_ms) return 0;
    auto last = static_cast<std::uint64_t>((clock_ms - job.base_ms) / job.step_ms);
    return std::min(last + 1, job.most);
  }

  std::int64_t start_ms(const Job& job, std::uint64_t i) const {
    return job.base_ms + static_cast<std::int64_t>(i) * job.step_ms;
  }

  // A build runs between a sixth of `duration` and all of it.
  std::int64_t finish_ms(const Job& job, std::uint64_t i) const {
    double minutes = spec.duration * (1 + 5 * unit(h(job.id, i, kDuration))) / 6;
    return start_ms(job, i) + static_cast<std::int64_t>(minutes * 60'000);
  }

  bool finished(const Job& job, std::uint64_t i) const { return finish_ms(job, i) <= clock_ms; }

  bool passed(const Job& job, std::uint64_t i) const {
    return unit(h(job.id, i, kFailed)) >= spec.failed;
  }

  // Start times grow by at least half a step per build, so ids grow with i.
  std::uint64_t snowflake(const Job& job, std::uint64_t i) const {
    auto ms = static_cast<std::uint64_t>(start_ms(job, i) - kSnowflakeEpochMs);
    return (ms << 22) | (h(job.id, i, kLowBits) & 0x3FFFFF);
  }

  bool numbered(const Job& job) const { return job.style != Style::snowflake; }

  std::string build_name(const Job& job, std::uint64_t i) const {
    return std::to_string(numbered(job) ? i + 1 : snowflake(job, i));
  }

  // The k-th build of a job in name order.
  std::uint64_t build_at(const Job& job, std::uint64_t k) const {
    return numbered(job) ? kth_in_name_order(count(job), k) - 1 : k;
  }

  std::optional<std::uint64_t> build_index(const Job& job, std::string_view name) const {
    auto v = parse_decimal(name);
    if (!v) return std::nullopt;
    std::uint64_t n = count(job);
    if (numbered(job)) {
      if (*v < 1 || *v > n) return std::nullopt;
      return *v - 1;
    }
    std::uint64_t lo = 0, hi = n;  // ids grow with the index
    while (lo < hi) {
      std::uint64_t mid = lo + (hi - lo) / 2;
      if (snowflake(job, mid) < *v)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < n && snowflake(job, lo) == *v) return lo;
    return std::nullopt;
  }

  // A PR job's builds go to pull requests in order, builds_per_pr each.
  std::uint64_t pr_number(std::uint64_t i) const { return kFirstPr + i / spec.builds_per_pr; }

  std::string build_dir(const BuildRef& b) const {
    const Job& job = jobs[b.job];
    if (!job.pr) return "logs/" + job.name + "/" + build_name(job, b.i) + "/";
    return "pr-logs/pull/" + repos[job.repo] + "/" + std::to_string(pr_number(b.i)) + "/" +
           job.name + "/" + build_name(job, b.i) + "/";
  }

  // ------------------------------------------------------------ names

  std::optional<std::uint32_t> find_job(const std::vector<std::uint32_t>& sorted,
                                        std::string_view name) const {
    auto it =
        std::lower_bound(sorted.begin(), sorted.end(), name,
                         [this](std::uint32_t j, std::string_view n) { return jobs[j].name < n; });
    if (it == sorted.end() || jobs[*it].name != name) return std::nullopt;
    return *it;
  }

  std::optional<std::uint32_t> find_repo(std::string_view name) const {
    auto it =
        std::lower_bound(repo_sorted.begin(), repo_sorted.end(), name,
                         [this](std::uint32_t r, std::string_view n) { return repos[r] < n; });
    if (it == repo_sorted.end() || repos[*it] != name) return std::nullopt;
    return *it;
  }

  // A PR number of a repository holds a build of some job when it is below
  // the largest job's last one.
  std::uint64_t pr_count(std::uint32_t repo) const {
    std::uint64_t most = 0;
    for (std::uint32_t j : repo_jobs[repo]) most = std::max(most, count(jobs[j]));
    return (most + spec.builds_per_pr - 1) / spec.builds_per_pr;
  }

  // The builds of a PR job in one pull request: [first, end).
  std::pair<std::uint64_t, std::uint64_t> pr_builds(const Job& job, std::uint64_t pr) const {
    std::uint64_t first = (pr - kFirstPr) * spec.builds_per_pr;
    return {std::min(first, count(job)), std::min(first + spec.builds_per_pr, count(job))};
  }

  // Where a directory key points.
  struct Node {
    enum class Kind {
      root,
      logs,
      ci_job,
      build,
      artifacts,
      pr_logs,
      pr_directory,
      pointer_job,
      pull,
      repo,
      pull_request,
      pr_job
    } kind;
    std::uint32_t job = 0;
    std::uint64_t i = 0;
    std::uint32_t repo = 0;
    std::uint64_t pr = 0;
  };
  using Kind = Node::Kind;

  std::optional<Node> resolve(std::string_view dir) const {
    if (dir.empty()) return Node{Kind::root};
    if (!dir.ends_with('/')) return std::nullopt;
    auto seg = split_segments(dir.substr(0, dir.size() - 1));
    const std::size_t n = seg.size();
    if (n == 0) return std::nullopt;  // "/"
    // logs/<job>/<build>/artifacts/
    if (seg[0] == "logs" && spec.jobs > 0) {
      if (n == 1) return Node{Kind::logs};
      auto job = find_job(ci_sorted, seg[1]);
      if (!job) return std::nullopt;
      if (n == 2) return Node{Kind::ci_job, *job};
      return build_node(*job, seg, 2);
    }
    if (seg[0] != "pr-logs" || spec.pr == 0) return std::nullopt;
    if (n == 1) return Node{Kind::pr_logs};
    if (seg[1] == "directory") {
      if (n == 2) return Node{Kind::pr_directory};
      auto job = find_job(pr_sorted, seg[2]);
      if (n == 3 && job) return Node{Kind::pointer_job, *job};
      return std::nullopt;
    }
    if (seg[1] != "pull") return std::nullopt;
    if (n == 2) return Node{Kind::pull};
    auto repo = find_repo(seg[2]);
    if (!repo) return std::nullopt;
    if (n == 3) return Node{Kind::repo, 0, 0, *repo};
    auto pr = parse_decimal(seg[3]);
    if (!pr || *pr < kFirstPr || *pr >= kFirstPr + pr_count(*repo)) return std::nullopt;
    if (n == 4) return Node{Kind::pull_request, 0, 0, *repo, *pr};
    auto job = find_job(pr_sorted, seg[4]);
    if (!job || jobs[*job].repo != *repo) return std::nullopt;
    auto [first, end] = pr_builds(jobs[*job], *pr);
    if (first == end) return std::nullopt;
    if (n == 5) return Node{Kind::pr_job, *job, 0, *repo, *pr};
    auto node = build_node(*job, seg, 5);
    if (node && pr_number(node->i) != *pr) return std::nullopt;
    return node;
  }

  // <build>/ or <build>/artifacts/ at seg[at...].
  std::optional<Node> build_node(std::uint32_t job, const std::vector<std::string_view>& seg,
                                 std::size_t at) const {
    auto i = build_index(jobs[job], seg[at]);
    if (!i) return std::nullopt;
    if (seg.size() == at + 1) return Node{Kind::build, job, *i};
    if (seg.size() == at + 2 && seg[at + 1] == "artifacts" && finished(jobs[job], *i))
      return Node{Kind::artifacts, job, *i};
    return std::nullopt;
  }

  void children(const std::string& dir, std::string_view from, const Visit& visit) const {
    auto node = resolve(dir);
    if (!node) return;
    using Entry = std::pair<std::string, bool>;
    auto listed = [&](const std::vector<Entry>& entries) {
      visit_ordered(
          entries.size(), [&](std::uint64_t k) { return entries[k]; }, from, visit);
    };
    auto jobs_under = [&](const std::string& prefix, const std::vector<std::uint32_t>& sorted) {
      visit_ordered(
          sorted.size(),
          [&](std::uint64_t k) {
            return Entry{prefix + jobs[sorted[k]].name + "/", true};
          },
          from, visit);
    };
    switch (node->kind) {
      case Kind::root: {
        std::vector<Entry> top;
        if (spec.jobs > 0) top.emplace_back("logs/", true);
        if (spec.pr > 0) top.emplace_back("pr-logs/", true);
        return listed(top);
      }
      case Kind::logs:
        return jobs_under("logs/", ci_sorted);
      case Kind::ci_job: {
        const Job& job = jobs[node->job];
        std::uint64_t n = count(job);
        bool latest = job.style == Style::sequential;  // "latest-build.txt" sorts after digits
        return visit_ordered(
            n + (latest ? 1 : 0),
            [&](std::uint64_t k) {
              if (k == n) return Entry{dir + "latest-build.txt", false};
              return Entry{dir + build_name(job, build_at(job, k)) + "/", true};
            },
            from, visit);
      }
      case Kind::build: {
        std::vector<Entry> files;
        if (finished(jobs[node->job], node->i)) {
          files.emplace_back(dir + "artifacts/", true);
          files.emplace_back(dir + "finished.json", false);
        }
        files.emplace_back(dir + "started.json", false);
        return listed(files);
      }
      case Kind::artifacts:
        return listed({{dir + "junit_01.xml", false}});
      case Kind::pr_logs:
        return listed({{dir + "directory/", true}, {dir + "pull/", true}});
      case Kind::pr_directory:
        return jobs_under(dir, pr_sorted);
      case Kind::pointer_job: {
        const Job& job = jobs[node->job];
        std::uint64_t n = count(job);
        return visit_ordered(
            n + 1,
            [&](std::uint64_t k) {
              if (k == n) return Entry{dir + "latest-build.txt", false};
              return Entry{dir + build_name(job, k) + ".txt", false};
            },
            from, visit);
      }
      case Kind::pull:
        return visit_ordered(
            repo_sorted.size(),
            [&](std::uint64_t k) {
              return Entry{dir + repos[repo_sorted[k]] + "/", true};
            },
            from, visit);
      case Kind::repo:
        return visit_ordered(
            pr_count(node->repo),
            [&](std::uint64_t k) {
              return Entry{dir + std::to_string(kFirstPr + k) + "/", true};
            },
            from, visit);
      case Kind::pull_request: {
        std::vector<Entry> with_builds;
        for (std::uint32_t j : repo_jobs[node->repo]) {
          auto [first, end] = pr_builds(jobs[j], node->pr);
          if (first < end) with_builds.emplace_back(dir + jobs[j].name + "/", true);
        }
        return listed(with_builds);
      }
      case Kind::pr_job: {
        const Job& job = jobs[node->job];
        const auto builds = pr_builds(job, node->pr);  // [first, end)
        return visit_ordered(
            builds.second - builds.first,
            [&](std::uint64_t k) {
              return Entry{dir + build_name(job, builds.first + k) + "/", true};
            },
            from, visit);
      }
    }
  }

  // ------------------------------------------------------------ objects

  std::string started_json(const Job& job, std::uint64_t i) const {
    std::uint64_t d = h(job.id, i, kDocs), d2 = splitmix(d);
    char buf[512];
    std::string repos_text;
    std::string pull;
    if (job.pr) {
      std::string repo = repos[job.repo];
      repo[repo.find('_')] = '/';
      std::string pr = std::to_string(pr_number(i));
      repos_text = "\"" + repo + "\":\"master:" + hex(d, 12) + "," + pr + ":" + hex(d2, 12) + "\"";
      pull = ",\"pull\":\"" + pr + "\"";
    } else {
      repos_text = "\"kubernetes/kubernetes\":\"master\"";
    }
    std::snprintf(buf, sizeof buf,
                  "{\"timestamp\":%lld,\"node\":\"gke-prow-default-pool-%s-%c\",\"repo-version\":"
                  "\"v1.%d.0-alpha.%d.%d+%s\",\"repos\":{%s}%s,\"metadata\":{\"pod\":\"%s-%s\"}}",
                  static_cast<long long>(start_ms(job, i) / 1000), hex(d >> 32, 8).c_str(),
                  "abcd"[d & 3], 24 + static_cast<int>((d >> 8) % 10),
                  static_cast<int>((d >> 12) % 5), static_cast<int>((d >> 16) % 900),
                  hex(d2, 16).c_str(), repos_text.c_str(), pull.c_str(), hex(d2 >> 20, 8).c_str(),
                  hex(d, 4).c_str());
    return buf;
  }

  std::string finished_json(const Job& job, std::uint64_t i) const {
    std::uint64_t d = splitmix(splitmix(h(job.id, i, kDocs)));
    bool ok = passed(job, i);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "{\"timestamp\":%lld,\"passed\":%s,\"result\":\"%s\",\"revision\":\"%s\","
                  "\"metadata\":{\"job-version\":\"v1.%d.%d-beta.%d+%s\",\"infra-commit\":\"%s\"}}",
                  static_cast<long long>(finish_ms(job, i) / 1000), ok ? "true" : "false",
                  ok ? "SUCCESS" : "FAILURE", hex(d, 12).c_str(), 24 + static_cast<int>(d % 10),
                  static_cast<int>((d >> 4) % 4), static_cast<int>((d >> 6) % 3),
                  hex(d >> 8, 12).c_str(), hex(d >> 20, 9).c_str());
    return buf;
  }

  // Test names repeat across a job's builds, as real suites do.
  std::string junit_xml(const Job& job, std::uint64_t i) const {
    bool ok = passed(job, i);
    std::uint64_t failing =
        ok || spec.tests == 0 ? UINT64_MAX : h(job.id, i, kFailingTest) % spec.tests;
    std::string out =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"Kubernetes e2e suite\" "
        "tests=\"" +
        std::to_string(spec.tests) + "\" failures=\"" + (ok || spec.tests == 0 ? "0" : "1") +
        "\">\n";
    char buf[320];
    for (std::uint32_t t = 0; t < spec.tests; ++t) {
      std::uint64_t w = h(job.id, t, kTestNames);
      double secs = static_cast<double>(h(job.id, i * 131 + t, kTestTimes) % 100000) / 1000.0;
      std::snprintf(buf, sizeof buf,
                    "  <testcase classname=\"Kubernetes e2e suite\" name=\"[sig-%s] %s %s should "
                    "work [%u]\" time=\"%.3f\">",
                    kWords[w % kWordCount], kWords[(w >> 8) % kWordCount],
                    kWords[(w >> 16) % kWordCount], t, secs);
      out += buf;
      if (t == failing)
        out += "<failure message=\"timed out\">test/e2e/framework.go:" +
               std::to_string(100 + w % 900) + ": timed out waiting for the condition</failure>";
      out += "</testcase>\n";
    }
    out += "</testsuite>\n";
    return out;
  }

  // Object bytes and times by name; nullopt when no such object exists now.
  std::optional<std::string> read(std::string_view name, ObjectStat& stat) const {
    auto slash = name.rfind('/');
    if (slash == std::string_view::npos) return std::nullopt;
    std::string_view file = name.substr(slash + 1);
    std::string_view dir = name.substr(0, slash + 1);
    auto done = [&stat](std::string bytes, std::int64_t ms) {
      stat.size = bytes.size();
      stat.mtime_ns = ms * 1'000'000;
      return std::optional<std::string>(std::move(bytes));
    };
    auto node = resolve(dir);
    if (!node || node->job >= jobs.size()) return std::nullopt;
    const Job& job = jobs[node->job];
    switch (node->kind) {
      case Kind::build:
        if (file == "started.json") return done(started_json(job, node->i), start_ms(job, node->i));
        if (file == "finished.json" && finished(job, node->i))
          return done(finished_json(job, node->i), finish_ms(job, node->i));
        return std::nullopt;
      case Kind::artifacts:
        if (file == "junit_01.xml") return done(junit_xml(job, node->i), finish_ms(job, node->i));
        return std::nullopt;
      case Kind::ci_job:
        if (file == "latest-build.txt" && job.style == Style::sequential)
          return done(std::to_string(count(job)), start_ms(job, count(job) - 1));
        return std::nullopt;
      case Kind::pointer_job: {
        std::uint64_t n = count(job);
        if (file == "latest-build.txt") return done(build_name(job, n - 1), start_ms(job, n - 1));
        if (!file.ends_with(".txt")) return std::nullopt;
        auto i = build_index(job, file.substr(0, file.size() - 4));
        if (!i) return std::nullopt;
        std::string target = "gs://" + bucket + "/" + build_dir({node->job, *i});
        target.pop_back();  // no trailing '/', as Prow writes it
        return done(std::move(target), start_ms(job, *i));
      }
      default:
        return std::nullopt;
    }
  }

  // Builds still running: only those started within the longest duration can be.
  std::uint64_t running() const {
    std::uint64_t n = 0;
    const auto longest = static_cast<std::int64_t>(spec.duration * 60'000);
    for (const Job& job : jobs)
      for (std::uint64_t i = count(job); i-- > 0 && start_ms(job, i) >= clock_ms - longest;)
        n += finished(job, i) ? 0 : 1;
    return n;
  }

  void for_each_object(const std::function<void(const std::string&)>& visit) const {
    for (std::uint32_t j = 0; j < jobs.size(); ++j) {
      const Job& job = jobs[j];
      for (std::uint64_t i = 0; i < count(job); ++i) {
        std::string dir = build_dir({j, i});
        visit(dir + "started.json");
        if (finished(job, i)) {
          visit(dir + "finished.json");
          visit(dir + "artifacts/junit_01.xml");
        }
        if (job.pr) visit("pr-logs/directory/" + job.name + "/" + build_name(job, i) + ".txt");
      }
      if (job.pr) visit("pr-logs/directory/" + job.name + "/latest-build.txt");
      if (job.style == Style::sequential) visit("logs/" + job.name + "/latest-build.txt");
    }
  }
};

// ---------------------------------------------------------------- SyntheticBucket

SyntheticBucket::SyntheticBucket(std::string bucket, const SyntheticSpec& spec)
    : m_(std::make_unique<Model>(std::move(bucket), spec)) {}

SyntheticBucket::~SyntheticBucket() = default;

void SyntheticBucket::children(const std::string& dir, std::string_view from,
                               const Visit& visit) const {
  m_->children(dir, from, visit);
}

bool SyntheticBucket::has_objects(const std::string& dir) const {
  return m_->resolve(dir).has_value();  // every directory the model names holds an object
}

std::optional<std::string> SyntheticBucket::read(std::string_view name, ObjectStat& stat) const {
  return m_->read(name, stat);
}

void SyntheticBucket::advance(double percent) { m_->advance(percent); }

boost::json::object SyntheticBucket::summary() const {
  std::uint64_t builds = 0, pr_builds = 0, latest = 0;
  for (const auto& job : m_->jobs) {
    (job.pr ? pr_builds : builds) += m_->count(job);
    latest += job.pr || job.style == Model::Style::sequential ? 1 : 0;
  }
  const std::uint64_t running = m_->running();
  // started.json for all, finished.json and JUnit for the finished, a pointer per PR build.
  const std::uint64_t objects = 3 * (builds + pr_builds) - 2 * running + pr_builds + latest;
  boost::json::object out;
  out["generation"] = m_->generation;
  out["jobs"] = m_->spec.jobs;
  out["pr_jobs"] = m_->spec.pr_jobs;
  out["builds"] = builds;
  out["pr_builds"] = pr_builds;
  out["running"] = running;
  out["objects"] = objects;
  return out;
}

void SyntheticBucket::for_each_object(const std::function<void(const std::string&)>& visit) const {
  m_->for_each_object(visit);
}

// ---------------------------------------------------------------- SyntheticStore

SyntheticStore::SyntheticStore(const std::vector<std::pair<std::string, std::string>>& buckets,
                               std::int64_t now) {
  for (const auto& [name, text] : buckets) {
    SyntheticSpec spec;
    try {
      spec = SyntheticSpec::parse(text);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("synthetic bucket " + name + ": " + e.what());
    }
    if (spec.now == 0) spec.now = now;
    if (!buckets_.emplace(name, std::make_unique<SyntheticBucket>(name, spec)).second)
      throw std::invalid_argument("synthetic bucket " + name + " given twice");
    default_percent_[name] = spec.new_percent;
  }
}

bool SyntheticStore::bucket_exists(std::string_view bucket) const {
  return buckets_.contains(bucket);  // the set of buckets never changes
}

std::optional<ObjectStat> SyntheticStore::stat(std::string_view bucket,
                                               std::string_view name) const {
  ObjectStat stat;
  if (!read(bucket, name, stat)) return std::nullopt;
  return stat;
}

std::optional<std::string> SyntheticStore::read(std::string_view bucket, std::string_view name,
                                                ObjectStat& stat) const {
  std::shared_lock lock(mutex_);
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return std::nullopt;
  return it->second->read(name, stat);
}

std::optional<std::string> SyntheticStore::write(std::string_view bucket, std::string_view,
                                                 std::string_view, const ObjectMeta&) {
  return "bucket " + std::string(bucket) + " is synthetic: its objects are generated, not stored";
}

ListPage SyntheticStore::list(std::string_view bucket, const ListQuery& query) const {
  std::shared_lock lock(mutex_);
  auto it = buckets_.find(bucket);
  if (it == buckets_.end()) return {};
  return list_tree(*it->second, query);
}

bool SyntheticStore::advance(std::string_view bucket, double percent) {
  std::unique_lock lock(mutex_);
  bool any = false;
  for (auto& [name, b] : buckets_) {
    if (!bucket.empty() && name != bucket) continue;
    b->advance(percent < 0 ? default_percent_.at(name) : percent);
    any = true;
  }
  return any;
}

boost::json::object SyntheticStore::summary() const {
  std::shared_lock lock(mutex_);
  boost::json::object out;
  for (const auto& [name, b] : buckets_) out[name] = b->summary();
  return out;
}

}  // namespace fakegcp
