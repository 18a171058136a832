// exclude_jobs matching cost: RE2 (what kettle uses) against libstdc++'s
// std::regex (ECMAScript, backtracking) on the same job names and patterns.
//   ninja -C build bench/exclude_bench && build/bench/exclude_bench [BUCKETS_YAML] [--cap SECONDS]
// BUCKETS_YAML (default deploy/buckets.yaml) gives its exclude_jobs patterns,
// to which bench/gen_tree.py's patterns and a few of the shapes real lists use
// are added. Part 1: ns per (job, pattern) search over 3,000 job names, and
// ns per job for the whole list (Bucket::excludes). Part 2: pathological
// patterns on growing inputs; std::regex runs in a child process killed after
// --cap seconds (default 10), as it can take exponential time or overflow its
// stack.
#include <poll.h>
#include <re2/re2.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "kettle/config/buckets.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// 3,000 distinct names shaped like Prow's: kind, project, test, variant.
std::vector<std::string> job_names(size_t count) {
  const std::vector<std::string> kinds = {"ci", "pull", "periodic", "post"};
  const std::vector<std::string> projects = {"kubernetes",
                                             "kops",
                                             "cluster-api-provider-aws",
                                             "cluster-api-provider-gcp",
                                             "test-infra",
                                             "ingress-nginx",
                                             "istio",
                                             "containerd",
                                             "cri-o",
                                             "kind",
                                             "sig-storage",
                                             "etcd",
                                             "kubernetes-sigs-descheduler",
                                             "release"};
  const std::vector<std::string> tests = {
      "e2e",   "e2e-gce",       "e2e-gke",        "e2e-kind",          "node-e2e",
      "unit",  "integration",   "verify",         "conformance",       "build",
      "bazel", "coverage-unit", "benchmark-demo", "scale-performance", "upgrade-cluster"};
  const std::vector<std::string> variants = {"",
                                             "-serial",
                                             "-slow",
                                             "-alpha-features",
                                             "-ipv6",
                                             "-canary",
                                             "-flaky",
                                             "-1-28",
                                             "-release-1.20",
                                             "-experimental",
                                             "-arm64",
                                             "-windows",
                                             "-containerd",
                                             "-cos",
                                             "-ubuntu",
                                             "-dualstack"};
  std::mt19937 rng(9);
  auto pick = [&rng](const std::vector<std::string>& from) -> const std::string& {
    return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
  };
  std::set<std::string> seen;
  std::vector<std::string> out;
  while (out.size() < count) {
    std::string name = pick(kinds);
    for (const auto* part : {&projects, &tests}) name.append("-").append(pick(*part));
    name += pick(variants);
    if (rng() % 4 == 0) name += pick(variants);
    if (rng() % 8 == 0) name.append("-").append(std::to_string(rng() % 100));
    if (seen.insert(name).second) out.push_back(name);
  }
  return out;
}

std::vector<std::string> patterns_from(const std::string& buckets_yaml) {
  std::vector<std::string> out;
  const auto buckets = kettle::config::Buckets::load(buckets_yaml);
  for (const auto& bucket : buckets.entries())
    out.insert(out.end(), bucket.exclude_patterns.begin(), bucket.exclude_patterns.end());
  // bench/gen_tree.py's buckets.
  for (const char* p :
       {"^ci-istio-flaky$", "experimental", R"(release-1\.[0-9]+$)", R"(excluded\+plus)"})
    out.emplace_back(p);
  // Shapes seen in published lists: anchored names, alternations, classes.
  for (const char* p :
       {"^pull-.*-canary$", "-(alpha|beta)-features$", "^ci-kubernetes-e2e-.*-(serial|slow)$",
        "^periodic-[a-z-]+-1-2[0-9]$", "windows|arm64", "^post-test-infra-"})
    out.emplace_back(p);
  return out;
}

// Runs `body` (one pass over all pairs) until 0.3 s have passed, best of 5:
// ns per call of the innermost match.
double best_ns_per_call(const std::function<size_t()>& body) {
  double best = 1e300;
  for (int rep = 0; rep < 5; ++rep) {
    size_t calls = 0;
    auto t0 = Clock::now();
    do {
      calls += body();
    } while (seconds_since(t0) < 0.3);
    best = std::min(best, seconds_since(t0) * 1e9 / static_cast<double>(calls));
  }
  return best;
}

RE2::Options re2_options() {
  RE2::Options o;  // as kettle sets them (src/config/buckets.cpp)
  o.set_log_errors(false);
  o.set_never_capture(true);
  o.set_max_mem(1 << 20);
  return o;
}

void matching_cost(const std::vector<std::string>& jobs, const std::vector<std::string>& patterns) {
  std::vector<std::regex> std_res;
  std::vector<std::unique_ptr<RE2>> re2_res;
  for (const auto& p : patterns) {
    std_res.emplace_back(p, std::regex::ECMAScript);
    re2_res.push_back(std::make_unique<RE2>(p, re2_options()));
    if (!re2_res.back()->ok()) {
      std::fprintf(stderr, "RE2 refuses '%s': %s\n", p.c_str(), re2_res.back()->error().c_str());
      std::exit(1);
    }
  }
  // Both engines must agree, or the timing compares different work.
  size_t excluded = 0;
  for (const auto& job : jobs) {
    bool any = false;
    for (size_t i = 0; i < patterns.size(); ++i) {
      bool a = std::regex_search(job, std_res[i]);
      bool b = RE2::PartialMatch(job, *re2_res[i]);
      if (a != b) {
        std::fprintf(stderr, "engines disagree on '%s' / '%s'\n", job.c_str(), patterns[i].c_str());
        std::exit(1);
      }
      any = any || a;
    }
    excluded += any;
  }
  size_t hits = 0;  // kept observable so the loops are not optimized away
  double std_pair = best_ns_per_call([&] {
    for (const auto& job : jobs)
      for (const auto& re : std_res) hits += std::regex_search(job, re);
    return jobs.size() * std_res.size();
  });
  double re2_pair = best_ns_per_call([&] {
    for (const auto& job : jobs)
      for (const auto& re : re2_res) hits += RE2::PartialMatch(job, *re);
    return jobs.size() * re2_res.size();
  });
  // Per job with the first-match exit, as Bucket::excludes does.
  double std_job = best_ns_per_call([&] {
    for (const auto& job : jobs)
      hits += std::any_of(std_res.begin(), std_res.end(),
                          [&](const auto& re) { return std::regex_search(job, re); });
    return jobs.size();
  });
  double re2_job = best_ns_per_call([&] {
    for (const auto& job : jobs)
      hits += std::any_of(re2_res.begin(), re2_res.end(),
                          [&](const auto& re) { return RE2::PartialMatch(job, *re); });
    return jobs.size();
  });
  std::printf("%zu jobs x %zu patterns, %zu jobs excluded (both engines agree on every pair)\n",
              jobs.size(), patterns.size(), excluded);
  std::printf("%-34s %12s %12s\n", "", "std::regex", "RE2");
  std::printf("%-34s %12.0f %12.0f\n", "ns per (job, pattern) search", std_pair, re2_pair);
  std::printf("%-34s %12.0f %12.0f\n", "ns per job (whole list)", std_job, re2_job);
  std::printf("%-34s %12.2f %12.2f\n", "ms for the 3,000-job listing", std_job * jobs.size() / 1e6,
              re2_job * jobs.size() / 1e6);
  if (hits == 0) std::printf("(no hits)\n");
}

// What a std::regex_search child reports through its pipe.
struct ChildResult {
  double seconds = 0;
  bool matched = false;
  bool threw = false;
};

enum class Outcome { kDone, kKilled, kCrashed };

// std::regex_search in a child process, killed after cap_s: it can take
// exponential time, or recurse until the stack overflows.
Outcome std_regex_in_child(const std::string& pattern, const std::string& text, double cap_s,
                           ChildResult& out, int& signal_out) {
  int fds[2];
  if (pipe(fds) != 0) return Outcome::kCrashed;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    ChildResult r;
    try {
      std::regex re(pattern, std::regex::ECMAScript);
      auto t0 = Clock::now();
      r.matched = std::regex_search(text, re);
      r.seconds = seconds_since(t0);
    } catch (const std::exception&) {
      r.threw = true;
    }
    (void)!write(fds[1], &r, sizeof r);
    _exit(0);
  }
  close(fds[1]);
  pollfd pfd{fds[0], POLLIN, 0};
  Outcome outcome = Outcome::kKilled;
  if (poll(&pfd, 1, static_cast<int>(cap_s * 1000)) > 0) {
    outcome = read(fds[0], &out, sizeof out) == sizeof out ? Outcome::kDone : Outcome::kCrashed;
  } else {
    kill(pid, SIGKILL);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  signal_out = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  close(fds[0]);
  return outcome;
}

void pathological(double cap_s) {
  struct Case {
    std::string pattern;
    char fill;
    std::string tail;
  };
  const std::vector<Case> cases = {
      {"(a*)*b", 'a', ""},    // nested star, no 'b': every split of the a's is tried
      {"^(a+)+$", 'a', "!"},  // nested plus, the end never matches
      {"(a|aa)*c", 'a', ""},  // overlapping alternation
      {"^j**x", 'j', ""},     // stacked repeat: std::regex takes it, RE2 and Python refuse it
  };
  std::printf("\npathological patterns (std::regex in a child process, killed after %.0f s)\n",
              cap_s);
  std::printf("%-10s %7s %24s %16s\n", "pattern", "length", "std::regex", "RE2");
  for (const auto& c : cases) {
    bool killed = false;  // longer inputs only take longer: not run again
    for (size_t n : {16, 24, 28, 32, 1000, 100000}) {
      std::string text(n, c.fill);
      text += c.tail;
      char std_cell[64];
      if (killed) {
        std::snprintf(std_cell, sizeof std_cell, "> %.0f s (not run)", cap_s);
      } else {
        ChildResult r;
        int sig = 0;
        switch (std_regex_in_child(c.pattern, text, cap_s, r, sig)) {
          case Outcome::kKilled:
            killed = true;
            std::snprintf(std_cell, sizeof std_cell, "> %.0f s (killed)", cap_s);
            break;
          case Outcome::kCrashed:
            std::snprintf(std_cell, sizeof std_cell, "crashed (%s)",
                          sig ? strsignal(sig) : "no result");
            break;
          case Outcome::kDone:
            if (r.threw) {
              std::snprintf(std_cell, sizeof std_cell, "threw");
            } else {
              std::snprintf(std_cell, sizeof std_cell, "%.3g s%s", r.seconds,
                            r.matched ? " match" : "");
            }
        }
      }
      RE2 re(c.pattern, re2_options());
      char re2_cell[64];
      if (!re.ok()) {
        std::snprintf(re2_cell, sizeof re2_cell, "refused");
      } else {
        auto t0 = Clock::now();
        bool m = RE2::PartialMatch(text, re);
        std::snprintf(re2_cell, sizeof re2_cell, "%.3g s%s", seconds_since(t0), m ? " match" : "");
      }
      std::printf("%-10s %7zu %24s %16s\n", c.pattern.c_str(), text.size(), std_cell, re2_cell);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string buckets = KETTLE_SOURCE_ROOT "/deploy/buckets.yaml";
  double cap_s = 10;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--cap" && i + 1 < argc) {
      cap_s = std::atof(argv[++i]);
    } else {
      buckets = arg;
    }
  }
  matching_cost(job_names(3000), patterns_from(buckets));
  pathological(cap_s);
  return 0;
}
