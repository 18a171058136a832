// `kettle update` (SPEC §6): collect, rebuild or extend the tables with load
// jobs, then stream until the stop hour; forever, or one cycle with --once.
// It composes the other commands over the same core.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "kettle/app/core.hpp"
#include "kettle/collect/make_db.hpp"
#include "kettle/store/headroom.hpp"
#include "kettle/update/collection_pause.hpp"

namespace kettle::update {

// The stream phase's stop hour is in America/Los_Angeles, as the reference's
// update.py sets it; an explicit TZ wins (the reference overrides it).
inline constexpr const char* kStopAtTimeZone = "America/Los_Angeles";

struct UpdateOptions {
  collect::MakeDbOptions collect;         // buckets, BUILD_LIMIT (JUnit is always collected)
  std::string buckets_url;                // refreshed into collect.buckets_path each cycle when set
  std::string dataset = "kubernetes-public:k8s_infra_kettle";
  std::string subscription;               // PROJECT/TOPIC/SUBSCRIPTION (SUBSCRIPTION_PATH)
  bool prod = false;                      // DEPLOYMENT=prod: day/week/all, else one staging table
  std::string work_dir = ".";             // where the NDJSON files go
  bool once = false;                      // one cycle, without the stream phase
  int stop_at = 1;                        // the stream phase ends when this hour begins
  int max_bad_records = 1000;
  std::chrono::seconds idle{600};         // pause between cycles when there is nothing to stream
  // --retain-junit: each cycle first drops the JUnit of builds that finished
  // longer ago (store/prune.hpp); nullopt = keep everything.
  std::optional<std::chrono::seconds> retain_junit;
  // --min-free: collection and loads need this much free on the database's
  // file system; below it they pause and the stream goes on.
  uint64_t min_free = store::kDefaultMinFree;
  PauseConfig pause{};
  // --junit-hold: how long a stream row waits for its build's JUnit;
  // nullopt = the stream's default (stream/junit_hold.hpp).
  std::optional<std::chrono::milliseconds> junit_hold;
};

// Sets TZ to kStopAtTimeZone unless TZ is set; returns the zone in use.
std::string use_stop_at_time_zone();

// 0 when every step of the last cycle succeeded.
boost::asio::awaitable<int> run_update(app::Core& core, UpdateOptions options);

}  // namespace kettle::update
