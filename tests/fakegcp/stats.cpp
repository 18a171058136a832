#include "stats.hpp"

#include <boost/json/value.hpp>

namespace fakegcp {
namespace {

void bump(std::map<std::string, std::uint64_t, std::less<>>& counts, std::string_view key) {
  auto it = counts.find(key);
  if (it == counts.end()) it = counts.emplace(std::string(key), 0).first;
  ++it->second;
}

boost::json::object to_object(const std::map<std::string, std::uint64_t, std::less<>>& counts) {
  boost::json::object out;
  for (const auto& [k, v] : counts) out[k] = v;
  return out;
}

}  // namespace

void Stats::connection_accepted() {
  ++connections_accepted_;
  ++connections_open_;
}

void Stats::connection_closed() { --connections_open_; }

void Stats::request_started(std::string_view kind) {
  auto now = ++in_flight_;
  auto seen = max_in_flight_.load();
  while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
  }
  std::lock_guard lock(mutex_);
  ++requests_total_;
  bump(by_kind_, kind);
}

void Stats::request_finished() { --in_flight_; }

void Stats::request_answered(unsigned status) {
  std::lock_guard lock(mutex_);
  ++by_status_[status];
}

void Stats::names_listed(std::uint64_t n) { listed_names_ += n; }

void Stats::fault_injected(std::string_view fault_kind) {
  std::lock_guard lock(mutex_);
  ++faults_total_;
  bump(faults_by_kind_, fault_kind);
}

boost::json::value Stats::to_json() const {
  boost::json::object out;
  std::lock_guard lock(mutex_);
  out["requests_total"] = requests_total_;
  out["requests_by_kind"] = to_object(by_kind_);
  boost::json::object statuses;
  for (const auto& [status, n] : by_status_) statuses[std::to_string(status)] = n;
  out["requests_by_status"] = std::move(statuses);
  out["faults_injected"] = faults_total_;
  out["faults_by_kind"] = to_object(faults_by_kind_);
  out["connections_accepted"] = connections_accepted_.load();
  out["connections_open"] = connections_open_.load();
  out["requests_in_flight"] = in_flight_.load();
  out["max_concurrent_requests"] = max_in_flight_.load();
  out["gcs_listed_names"] = listed_names_.load();
  return out;
}

void Stats::reset() {
  connections_accepted_ = 0;
  max_in_flight_ = in_flight_.load();
  listed_names_ = 0;
  std::lock_guard lock(mutex_);
  requests_total_ = 0;
  faults_total_ = 0;
  by_kind_.clear();
  by_status_.clear();
  faults_by_kind_.clear();
}

}  // namespace fakegcp
