// Counters behind GET /_fake/stats: what tests and benchmarks assert on.
#pragma once

#include <atomic>
#include <boost/json/fwd.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace fakegcp {

class Stats {
 public:
  void connection_accepted();
  void connection_closed();
  // A request of this kind (e.g. "gcs.media") begins; raises the concurrency mark.
  void request_started(std::string_view kind);
  // Counted before the response is written, so a client that has read it
  // always sees it in the stats.
  void request_answered(unsigned status);
  // Leaves flight: answered, hung up, or reset.
  void request_finished();
  void fault_injected(std::string_view fault_kind);
  // Object names and prefixes a GCS listing answered: what listings cost
  // beyond their request count.
  void names_listed(std::uint64_t n);

  boost::json::value to_json() const;
  // Zeroes the counts; requests in flight stay in flight.
  void reset();

 private:
  std::atomic<std::uint64_t> connections_accepted_{0};
  std::atomic<std::int64_t> connections_open_{0};
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> max_in_flight_{0};
  std::atomic<std::uint64_t> listed_names_{0};
  mutable std::mutex mutex_;  // guards the maps and the totals below
  std::uint64_t requests_total_ = 0;
  std::uint64_t faults_total_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> by_kind_;
  std::map<unsigned, std::uint64_t> by_status_;
  std::map<std::string, std::uint64_t, std::less<>> faults_by_kind_;
};

}  // namespace fakegcp
