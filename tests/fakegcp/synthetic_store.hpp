// Buckets generated from a seed instead of read from files: a Prow-shaped
// history (CI jobs under logs/, PR pointers under pr-logs/directory/ and the
// PR builds under pr-logs/pull/) at production size. Listings and object
// bytes are computed on request from (seed, name); memory grows with the
// number of jobs, never with the number of builds. The same spec gives the
// same bytes. Each job starts builds at its own steady pace; a build exists
// once it started by the model's clock and has finished.json once its
// duration passed. advance() moves the clock on: every job gains new builds
// (larger snowflake ids) and the builds that were running finish.
//
// Layout of a synthetic bucket B:
//   logs/<job>/<build>/started.json            every build
//   logs/<job>/<build>/finished.json           finished builds
//   logs/<job>/<build>/artifacts/junit_01.xml  finished builds
//   logs/<job>/latest-build.txt                sequential jobs: the newest number
//   pr-logs/directory/<job>/<build>.txt        PR pointer:
//   gs://B/pr-logs/pull/<repo>/<pr>/<job>/<build> pr-logs/directory/<job>/latest-build.txt   the
//   job's newest build id pr-logs/pull/<repo>/<pr>/<job>/<build>/... as under logs/
// Build names: 19-digit snowflake ids (Prow's), or 1..N for short-numbered
// and sequential jobs.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "object_store.hpp"

namespace fakegcp {

// What a synthetic bucket holds at generation 0. Keys of the text form in
// parentheses; every one has the default shown.
struct SyntheticSpec {
  std::uint64_t seed = 1;       // (seed) every name, size and byte follows from it
  std::uint32_t jobs = 30;      // (jobs) CI jobs under logs/
  std::uint64_t builds = 1000;  // (builds) their builds, spread unevenly (at least 1 each)
  std::uint32_t pr_jobs = 0;    // (pr_jobs) PR jobs; 0 = jobs / 3 (at least 1) when pr > 0
  std::uint64_t pr = 0;         // (pr) PR builds, one pointer each
  std::uint32_t repos = 0;      // (repos) repositories of PR jobs; 0 = pr_jobs / 10 (at least 1)
  std::uint32_t builds_per_pr = 4;  // (builds_per_pr) builds of one PR job per pull request
  double short_jobs = 0.02;         // (short) fraction of CI jobs numbered 1..N
  double sequential = 0;            // (sequential) fraction numbered 1..N with latest-build.txt
  double duration = 60;      // (duration) minutes the longest build runs (the shortest: a sixth)
  double failed = 0.1;       // (failed) fraction of finished builds that failed
  std::uint32_t tests = 10;  // (tests) test cases per JUnit file
  double days = 180;         // (days) history before generation 0: builds / days per day
  std::int64_t now = 0;      // (now) epoch seconds of generation 0; 0 = the fake's start
  double new_percent = 1;    // (new) default advance: this percent of `days` (so of the builds)
  std::uint32_t generation = 0;  // (generation) advances made at start

  // "key=value,key=value" (any subset of the keys above). Throws
  // std::invalid_argument naming the key that is unknown or out of range.
  static SyntheticSpec parse(std::string_view text);
};

// One synthetic bucket. Not thread-safe by itself: SyntheticStore locks.
class SyntheticBucket : public ObjectTree {
 public:
  SyntheticBucket(std::string bucket, const SyntheticSpec& spec);
  ~SyntheticBucket() override;

  void children(const std::string& dir, std::string_view from, const Visit& visit) const override;
  bool has_objects(const std::string& dir) const override;
  std::optional<std::string> read(std::string_view name, ObjectStat& stat) const;

  // The next generation: the clock moves on by `percent` of `days`, so each
  // job gains about `percent` % new builds, and builds finish as their
  // durations pass.
  void advance(double percent);
  // generation, jobs, builds, running, pr_pointers, objects (counts now).
  boost::json::object summary() const;
  // Every object name, in no particular order (tests compare listings with it).
  void for_each_object(const std::function<void(const std::string&)>& visit) const;

 private:
  struct Model;
  std::unique_ptr<Model> m_;
};

// The fake's synthetic buckets, by name; safe for the io threads.
class SyntheticStore : public ObjectStore {
 public:
  // {bucket, spec text}; `now` stands in for a spec without `now=`. Throws
  // std::invalid_argument naming the bucket and what is wrong.
  SyntheticStore(const std::vector<std::pair<std::string, std::string>>& buckets, std::int64_t now);

  bool bucket_exists(std::string_view bucket) const override;
  bool writable() const override { return false; }
  std::optional<ObjectStat> stat(std::string_view bucket, std::string_view name) const override;
  ObjectMeta meta(std::string_view, std::string_view) const override { return {}; }
  std::optional<std::string> read(std::string_view bucket, std::string_view name,
                                  ObjectStat& stat) const override;
  std::optional<std::string> write(std::string_view bucket, std::string_view, std::string_view,
                                   const ObjectMeta&) override;
  ListPage list(std::string_view bucket, const ListQuery& query) const override;

  // Advances one bucket, or all when `bucket` is empty; false when no such bucket.
  // percent < 0: each bucket's spec `new`.
  bool advance(std::string_view bucket, double percent);
  boost::json::object summary() const;

 private:
  mutable std::shared_mutex mutex_;  // advance() excludes readers
  std::map<std::string, std::unique_ptr<SyntheticBucket>, std::less<>> buckets_;
  std::map<std::string, double, std::less<>> default_percent_;
};

}  // namespace fakegcp
