// Tests of the synthetic buckets: listings equal a listing of the sorted
// names (and the file store's listing of the same names), the bytes follow
// from the seed, advancing adds builds and finishes running ones, memory does
// not grow with the builds, and the HTTP API serves them with stats.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <random>
#include <set>

#include "bucket_store.hpp"
#include "synthetic_store.hpp"
#include "test_support.hpp"

using namespace fakegcp_test;
using fakegcp::ListPage;
using fakegcp::ListQuery;
using fakegcp::ObjectStat;
using fakegcp::SyntheticBucket;
using fakegcp::SyntheticSpec;

namespace {

constexpr std::int64_t kNow = 1750000000;  // a fixed clock: runs compare byte for byte

SyntheticSpec spec_of(const std::string& text) {
  SyntheticSpec spec = SyntheticSpec::parse(text);
  if (spec.now == 0) spec.now = kNow;
  return spec;
}

// Small, but with every name style, PR builds, running and failed builds.
const std::string kSmall =
    "seed=7,jobs=12,builds=400,pr=150,pr_jobs=5,repos=2,short=0.25,sequential=0.25,days=2,"
    "duration=240,new=10,tests=3";

std::vector<std::string> all_names(const SyntheticBucket& bucket) {
  std::vector<std::string> names;
  bucket.for_each_object([&names](const std::string& n) { names.push_back(n); });
  std::sort(names.begin(), names.end());
  return names;
}

struct Listing {
  std::vector<std::string> entries;  // items and prefixes, in order
  std::size_t pages = 0;
  bool full_pages = true;  // every page but the last holds max_results entries
};

// Every page of a query, following the page token as a client does.
template <class ListFn>
Listing list_pages(const ListFn& list, ListQuery q) {
  Listing out;
  while (true) {
    ListPage page = list(q);
    ++out.pages;
    // Merge items and prefixes back into one ordered sequence.
    std::vector<std::string> entries = page.items;
    entries.insert(entries.end(), page.prefixes.begin(), page.prefixes.end());
    std::sort(entries.begin(), entries.end());
    out.entries.insert(out.entries.end(), entries.begin(), entries.end());
    if (!page.last) break;
    if (entries.size() != q.max_results) out.full_pages = false;
    BOOST_REQUIRE(!q.after || *page.last > *q.after);
    q.after = page.last;
    BOOST_REQUIRE(out.pages < 100000);
  }
  return out;
}

// GCS semantics over a sorted name list: the names in range, rolled up at
// the delimiter.
std::vector<std::string> reference_listing(const std::vector<std::string>& sorted,
                                           const ListQuery& q) {
  std::vector<std::string> out;
  for (const std::string& name : sorted) {
    if (!name.starts_with(q.prefix) || name < q.start_offset) continue;
    if (!q.end_offset.empty() && name >= q.end_offset) continue;
    std::string entry = name;
    if (!q.delimiter.empty()) {
      auto pos = name.find(q.delimiter, q.prefix.size());
      if (pos != std::string::npos) entry = name.substr(0, pos + q.delimiter.size());
    }
    if (out.empty() || out.back() != entry) out.push_back(entry);
  }
  return out;
}

// A random cut of a random name: prefixes and offsets that land anywhere,
// inside segments too.
std::string random_cut(std::mt19937_64& rng, const std::vector<std::string>& names) {
  const std::string& name = names[rng() % names.size()];
  std::string cut = name.substr(0, rng() % (name.size() + 1));
  if (rng() % 4 == 0 && !cut.empty()) cut.back() = static_cast<char>(cut.back() + 1);
  return cut;
}

ListQuery random_query(std::mt19937_64& rng, const std::vector<std::string>& names) {
  ListQuery q;
  if (rng() % 3 != 0) q.prefix = random_cut(rng, names);
  if (rng() % 2) q.prefix.resize(q.prefix.rfind('/') + 1);  // a directory ("" when none)
  static const char* const kDelimiters[] = {"", "/", "/", "-", ".txt"};
  q.delimiter = kDelimiters[rng() % 5];
  if (rng() % 3 == 0) q.start_offset = random_cut(rng, names);
  if (rng() % 3 == 0) q.end_offset = random_cut(rng, names);
  q.max_results = 1 + rng() % 40;
  return q;
}

std::string describe(const ListQuery& q) {
  return "prefix='" + q.prefix + "' delimiter='" + q.delimiter + "' start='" + q.start_offset +
         "' end='" + q.end_offset + "' max=" + std::to_string(q.max_results);
}

std::size_t rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6));
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(synthetic)

BOOST_AUTO_TEST_CASE(spec_text_and_its_errors) {
  SyntheticSpec d = SyntheticSpec::parse("");
  BOOST_CHECK_EQUAL(d.jobs, 30u);
  BOOST_CHECK_EQUAL(d.pr_jobs, 0u);  // no PR builds, no PR jobs
  SyntheticSpec s =
      SyntheticSpec::parse("jobs=30,builds=100,pr=60,short=0.5,new=2.5,now=1750000000");
  BOOST_CHECK_EQUAL(s.pr_jobs, 10u);  // jobs / 3
  BOOST_CHECK_EQUAL(s.repos, 1u);     // pr_jobs / 10
  BOOST_CHECK_EQUAL(s.short_jobs, 0.5);
  BOOST_CHECK_EQUAL(s.new_percent, 2.5);
  for (const char* bad : {"jobs", "bogus=1", "jobs=x", "duration=0", "builds=5,jobs=10",
                          "short=0.6,sequential=0.6", "pr=2,pr_jobs=3", "now=100"})
    BOOST_CHECK_THROW(SyntheticSpec::parse(bad), std::invalid_argument);
  // A history reaching back before 19-digit snowflake ids is refused.
  BOOST_CHECK_THROW(SyntheticBucket("b", spec_of("now=1520000000,days=30")), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(full_listing_is_the_sorted_names_in_pages) {
  SyntheticBucket bucket("b", spec_of(kSmall));
  auto names = all_names(bucket);
  BOOST_REQUIRE_GT(names.size(), 1000u);
  auto list = [&](const ListQuery& q) { return fakegcp::list_tree(bucket, q); };
  ListQuery q;
  q.max_results = 7;
  Listing got = list_pages(list, q);
  BOOST_CHECK(got.entries == names);
  BOOST_CHECK(got.full_pages);
  BOOST_CHECK_EQUAL(got.pages, (names.size() + 6) / 7);

  // Every name style is there: snowflake ids, short numbers, latest-build.txt.
  auto has = [&](auto pred) { return std::any_of(names.begin(), names.end(), pred); };
  BOOST_CHECK(has([](const std::string& n) {
    return n.ends_with("/latest-build.txt") && n.starts_with("logs/");
  }));
  BOOST_CHECK(
      has([](const std::string& n) { return n.find("/10/started.json") != std::string::npos; }));
  BOOST_CHECK(has(
      [](const std::string& n) { return n.starts_with("pr-logs/directory/") && n.size() > 40; }));
  // Running builds: a started.json without finished.json beside it.
  std::set<std::string> name_set(names.begin(), names.end());
  std::size_t running = 0;
  for (const auto& n : names)
    if (n.ends_with("/started.json") &&
        !name_set.contains(n.substr(0, n.size() - 12) + "finished.json"))
      ++running;
  BOOST_CHECK_GT(running, 0u);
  BOOST_CHECK_EQUAL(bucket.summary().at("running").to_number<std::uint64_t>(), running);
  BOOST_CHECK_EQUAL(bucket.summary().at("objects").to_number<std::uint64_t>(), names.size());
}

BOOST_AUTO_TEST_CASE(random_queries_match_the_reference) {
  SyntheticBucket bucket("b", spec_of(kSmall));
  auto names = all_names(bucket);
  std::mt19937_64 rng(42);
  for (int round = 0; round < 400; ++round) {
    ListQuery q = random_query(rng, names);
    Listing got = list_pages([&](const ListQuery& p) { return fakegcp::list_tree(bucket, p); }, q);
    BOOST_TEST_INFO(describe(q));
    BOOST_CHECK(got.entries == reference_listing(names, q));
    BOOST_CHECK(got.full_pages);
  }
}

BOOST_AUTO_TEST_CASE(the_file_store_lists_the_same_names_alike) {
  // Fewer names: the file store reads its directories again for every page.
  SyntheticBucket bucket("b", spec_of("seed=3,jobs=4,builds=40,pr=20,pr_jobs=2,short=0.3,"
                                      "sequential=0.3,days=1,duration=120,new=20"));
  auto names = all_names(bucket);
  TempDir dir;
  for (const auto& n : names) write_file(dir.path / "b" / n, "x");
  fakegcp::BucketStore files(dir.path);
  std::mt19937_64 rng(43);
  for (int round = 0; round < 100; ++round) {
    ListQuery q = random_query(rng, names);
    Listing got = list_pages([&](const ListQuery& p) { return files.list("b", p); }, q);
    BOOST_TEST_INFO(describe(q));
    BOOST_CHECK(got.entries == reference_listing(names, q));
    BOOST_CHECK(got.full_pages);
  }
}

BOOST_AUTO_TEST_CASE(objects_read_by_name_and_pointers_lead_to_builds) {
  SyntheticBucket bucket("b", spec_of(kSmall));
  auto names = all_names(bucket);
  std::set<std::string> name_set(names.begin(), names.end());
  std::size_t pointers = 0;
  for (const auto& n : names) {
    ObjectStat stat;
    auto bytes = bucket.read(n, stat);
    BOOST_REQUIRE_MESSAGE(bytes, n);
    BOOST_CHECK_EQUAL(stat.size, bytes->size());
    BOOST_CHECK_GT(stat.mtime_ns, (kNow - 200 * 86400) * 1'000'000'000LL);
    if (n.ends_with(".json")) BOOST_CHECK_NO_THROW(boost::json::parse(*bytes));
    if (n.starts_with("pr-logs/directory/") && !n.ends_with("latest-build.txt")) {
      ++pointers;
      BOOST_REQUIRE(bytes->starts_with("gs://b/pr-logs/pull/"));
      BOOST_CHECK(name_set.contains(bytes->substr(7) + "/started.json"));
    }
  }
  BOOST_CHECK_EQUAL(pointers, 150u);
  ObjectStat stat;
  for (const char* absent :
       {"logs/", "logs/nojob/1/started.json", "pr-logs/directory/x.txt",
        "logs/ci-x/1/started.json/", "unknown", "", "/started.json", "//x", "logs//started.json"})
    BOOST_CHECK(!bucket.read(absent, stat));
  ListQuery slash;
  slash.prefix = "/";
  BOOST_CHECK(fakegcp::list_tree(bucket, slash).items.empty());
  // A build name spelled otherwise (leading zero), and a running build's finished.json.
  for (const auto& n : names) {
    if (!n.starts_with("logs/") || !n.ends_with("/started.json")) continue;
    auto build_dir = n.substr(0, n.size() - 12);
    auto slash = build_dir.rfind('/', build_dir.size() - 2);
    std::string zero = build_dir.substr(0, slash + 1) + "0" + build_dir.substr(slash + 1);
    BOOST_CHECK(!bucket.read(zero + "started.json", stat));
    if (!name_set.contains(build_dir + "finished.json"))
      BOOST_CHECK(!bucket.read(build_dir + "finished.json", stat));
  }
}

BOOST_AUTO_TEST_CASE(the_seed_decides_every_byte) {
  SyntheticBucket a("b", spec_of(kSmall)), b("b", spec_of(kSmall));
  SyntheticBucket other("b", spec_of(kSmall + ",seed=8"));
  auto names = all_names(a);
  BOOST_CHECK(names == all_names(b));
  BOOST_CHECK(names != all_names(other));
  for (std::size_t k = 0; k < names.size(); k += 7) {
    ObjectStat sa, sb;
    BOOST_CHECK(a.read(names[k], sa) == b.read(names[k], sb));
    BOOST_CHECK_EQUAL(sa.mtime_ns, sb.mtime_ns);
  }
  a.advance(5);
  b.advance(5);
  BOOST_CHECK(all_names(a) == all_names(b));
  // Starting at generation 1 is the same as advancing once by the spec's `new`.
  SyntheticBucket c("b", spec_of(kSmall + ",generation=1")), d("b", spec_of(kSmall));
  d.advance(10);
  BOOST_CHECK(all_names(c) == all_names(d));
}

BOOST_AUTO_TEST_CASE(advancing_adds_newer_builds_and_finishes_running_ones) {
  SyntheticBucket bucket("b", spec_of(kSmall));
  auto before = all_names(bucket);
  std::set<std::string> before_set(before.begin(), before.end());
  auto summary = bucket.summary();
  std::uint64_t builds = summary.at("builds").to_number<std::uint64_t>();
  bucket.advance(10);
  auto after = all_names(bucket);
  std::set<std::string> after_set(after.begin(), after.end());
  BOOST_CHECK_EQUAL(bucket.summary().at("generation").to_number<std::uint64_t>(), 1u);
  BOOST_CHECK_GE(bucket.summary().at("builds").to_number<std::uint64_t>(),
                 builds + builds / 10 - 2 * 12);
  BOOST_CHECK(std::includes(after.begin(), after.end(), before.begin(), before.end()));
  // Every build running before has finished, with its JUnit.
  std::size_t finished_now = 0;
  for (const auto& n : before) {
    if (!n.ends_with("/started.json")) continue;
    std::string dir = n.substr(0, n.size() - 12);
    if (before_set.contains(dir + "finished.json")) continue;
    BOOST_CHECK(after_set.contains(dir + "finished.json"));
    BOOST_CHECK(after_set.contains(dir + "artifacts/junit_01.xml"));
    ++finished_now;
  }
  BOOST_CHECK_GT(finished_now, 0u);
  // New snowflake builds sort after their job's older ones (a larger id).
  std::map<std::string, std::string> newest_before;
  for (const auto& n : before)
    if (n.starts_with("pr-logs/directory/") && !n.ends_with("latest-build.txt")) {
      std::string job = n.substr(0, n.rfind('/'));
      newest_before[job] = std::max(newest_before[job], n);
    }
  std::size_t added = 0;
  for (const auto& n : after)
    if (!before_set.contains(n) && n.starts_with("pr-logs/directory/")) {
      ++added;
      BOOST_CHECK_GT(n, newest_before[n.substr(0, n.rfind('/'))]);
    }
  BOOST_CHECK_GE(added, 15u - 2 * 5);
}

BOOST_AUTO_TEST_CASE(production_size_in_bounded_memory) {
  std::size_t rss_before = rss_kib();
  SyntheticBucket bucket(
      "b", spec_of("jobs=3000,builds=1500000,pr=500000,pr_jobs=1000,short=0.02,sequential=0.02"));
  auto summary = bucket.summary();
  BOOST_CHECK_EQUAL(summary.at("builds").to_number<std::uint64_t>() +
                        summary.at("pr_builds").to_number<std::uint64_t>(),
                    2000000u);
  // Every PR pointer, page by page (500 pages of 1000).
  ListQuery q;
  q.prefix = "pr-logs/directory/";
  std::size_t names = 0, pages = 0;
  std::string previous;
  while (true) {
    ListPage page = fakegcp::list_tree(bucket, q);
    ++pages;
    for (auto& n : page.items) {
      BOOST_REQUIRE(n > previous);
      previous = n;
    }
    names += page.items.size();
    if (!page.last) break;
    q.after = page.last;
  }
  BOOST_CHECK_EQUAL(names, 500000u + 1000u);  // a pointer per build, a latest-build.txt per job
  BOOST_CHECK_EQUAL(pages, 501u);
  // The jobs of logs/, the builds of the last job, a few reads.
  ListQuery jobs;
  jobs.prefix = "logs/";
  jobs.delimiter = "/";
  ListPage first = fakegcp::list_tree(bucket, jobs);
  BOOST_CHECK_EQUAL(first.prefixes.size(), 1000u);
  ListQuery builds;
  builds.prefix = first.prefixes.back();
  builds.delimiter = "/";
  ListPage job = fakegcp::list_tree(bucket, builds);
  BOOST_REQUIRE(!job.prefixes.empty());
  ObjectStat stat;
  BOOST_CHECK(bucket.read(job.prefixes.front() + "started.json", stat));
  // The model costs memory per job, never per build.
  std::size_t grown = rss_kib() - std::min(rss_kib(), rss_before);
  BOOST_TEST_MESSAGE("RSS grew by " << grown << " KiB for a 2,000,000-build model");
  // ASan holds up to 256 MB of freed memory in quarantine.
  BOOST_CHECK_LT(grown, (KETTLE_SANITIZED ? 320u : 32u) * 1024);
}

BOOST_AUTO_TEST_CASE(served_over_http_with_stats_and_advance) {
  Fake fake([](fakegcp::ServerConfig& c) {
    c.synthetic.emplace_back("kubernetes-ci-logs", kSmall + ",now=" + std::to_string(kNow));
  });
  auto jobs = fake.get("/storage/v1/b/kubernetes-ci-logs/o?prefix=logs%2F&delimiter=%2F&fields=" +
                       escape("nextPageToken,prefixes"))
                  .json()
                  .as_object();
  BOOST_CHECK_EQUAL(jobs.at("prefixes").as_array().size(), 12u);
  auto pointers =
      fake.get("/storage/v1/b/kubernetes-ci-logs/o?prefix=pr-logs%2Fdirectory%2F&maxResults=2")
          .json()
          .as_object();
  auto item = pointers.at("items").as_array()[0].as_object();
  std::string name(item.at("name").as_string());
  auto pointer = fake.get("/storage/v1/b/kubernetes-ci-logs/o/" + escape(name) + "?alt=media");
  BOOST_CHECK_EQUAL(pointer.status, 200);
  BOOST_CHECK_EQUAL(item.at("size").as_string(), std::to_string(pointer.body.size()));
  std::string build = pointer.body.substr(std::string("gs://kubernetes-ci-logs/").size());
  auto started = fake.get("/storage/v1/b/kubernetes-ci-logs/o/" + escape(build + "/started.json") +
                          "?alt=media");
  BOOST_CHECK_EQUAL(started.status, 200);
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/kubernetes-ci-logs/o/" +
                             escape(build + "/nothing.json") + "?alt=media")
                        .status,
                    404);
  BOOST_CHECK_EQUAL(
      fake.post("/upload/storage/v1/b/kubernetes-ci-logs/o?uploadType=media&name=x", "x").status,
      403);

  auto stats = fake.stats();
  BOOST_CHECK_EQUAL(count_at(stats, "requests_by_kind", "gcs.list"), 2u);
  BOOST_CHECK_EQUAL(stats.at("gcs_listed_names").to_number<std::uint64_t>(), 12u + 2u);
  BOOST_CHECK_EQUAL(count_at(stats, "requests_by_kind", "gcs.media.pointer"), 1u);
  BOOST_CHECK_EQUAL(count_at(stats, "requests_by_kind", "gcs.media.started"), 1u);

  auto summary = fake.get("/_fake/synthetic").json().as_object();
  auto builds = summary.at("kubernetes-ci-logs").at("builds").to_number<std::uint64_t>();
  auto advanced = fake.post("/_fake/synthetic/advance", R"({"percent": 50})");
  BOOST_REQUIRE_EQUAL(advanced.status, 200);
  auto now = advanced.json().at("kubernetes-ci-logs").as_object();
  BOOST_CHECK_EQUAL(now.at("generation").to_number<std::uint64_t>(), 1u);
  BOOST_CHECK_GE(now.at("builds").to_number<std::uint64_t>(), builds + builds / 2 - 2 * 12);
  BOOST_CHECK_EQUAL(fake.post("/_fake/synthetic/advance", R"({"bucket": "nope"})").status, 404);
  BOOST_CHECK_EQUAL(fake.post("/_fake/synthetic/advance", R"({"percent": "x"})").status, 400);
  // The control requests are not API traffic.
  BOOST_CHECK_EQUAL(fake.stats().at("requests_total").to_number<std::uint64_t>(),
                    stats.at("requests_total").to_number<std::uint64_t>());
}

BOOST_AUTO_TEST_SUITE_END()
