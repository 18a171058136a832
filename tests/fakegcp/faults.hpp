// Fault injection rules: which requests get delayed, hung, reset, failed or
// truncated. Pure decision logic; the server core carries the actions out.
#pragma once

#include <boost/json/fwd.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace fakegcp {

enum class FaultKind { latency, hang, reset, status, truncate };

std::string_view to_string(FaultKind kind);

// One rule. JSON form:
//   {"match": "<ECMAScript regex searched in path+query>", "method": "GET",
//    "kind": "latency|hang|reset|status|truncate", "ms": 50, "status": 503,
//    "retry_after": 1, "probability": 0.05, "times": 3}
struct FaultRule {
  std::string match_text;             // the regex as written (for listing the rules back)
  std::regex match;                   // searched, not fully matched, in the raw target
  std::optional<std::string> method;  // only this method, when set
  FaultKind kind = FaultKind::status;
  unsigned ms = 0;                      // latency: delay in milliseconds
  unsigned status = 503;                // status: reply code
  std::optional<unsigned> retry_after;  // status: Retry-After seconds
  double probability = 1.0;             // chance a matching request is hit
  std::optional<std::uint64_t> times;   // fire at most this many times
  std::uint64_t fired = 0;              // how often it fired so far
};

// What to do with one request. Latency rules add up and never stop the
// search; the first other rule that fires decides the action.
struct FaultDecision {
  std::chrono::milliseconds delay{0};
  std::optional<FaultKind> action;  // hang, reset, status or truncate
  unsigned status = 503;
  std::optional<unsigned> retry_after;
  std::vector<FaultKind> fired;  // every rule kind that fired, for stats
};

// Parses a JSON array of rules (or {"rules": [...]}) ; nullopt with `error` set
// when anything is malformed, so a bad update never half-applies.
std::optional<std::vector<FaultRule>> parse_fault_rules(std::string_view json, std::string& error);

class FaultSet {
 public:
  explicit FaultSet(std::uint64_t seed) : rng_(seed) {}

  void replace(std::vector<FaultRule> rules);
  FaultDecision decide(std::string_view method, std::string_view target);
  // The rules with their fired counts.
  boost::json::value to_json() const;

 private:
  mutable std::mutex mutex_;  // rules, counts and the generator change together
  std::vector<FaultRule> rules_;
  std::mt19937_64 rng_;
};

}  // namespace fakegcp
