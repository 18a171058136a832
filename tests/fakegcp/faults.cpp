#include "faults.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace fakegcp {
namespace {

namespace json = boost::json;

std::optional<FaultKind> kind_from(std::string_view s) {
  if (s == "latency") return FaultKind::latency;
  if (s == "hang") return FaultKind::hang;
  if (s == "reset") return FaultKind::reset;
  if (s == "status") return FaultKind::status;
  if (s == "truncate") return FaultKind::truncate;
  return std::nullopt;
}

// A non-negative integer field, or nullopt (with error) when it has another type.
std::optional<std::uint64_t> unsigned_field(const json::object& o, std::string_view key,
                                            std::string& error) {
  const json::value* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  if (v->is_double() && v->as_double() >= 0) return static_cast<std::uint64_t>(v->as_double());
  error = "\"" + std::string(key) + "\" must be a non-negative number";
  return std::nullopt;
}

std::optional<FaultRule> parse_rule(const json::value& v, std::string& error) {
  if (!v.is_object()) {
    error = "each rule must be a JSON object";
    return std::nullopt;
  }
  const json::object& o = v.as_object();
  FaultRule rule;
  const json::value* kind = o.if_contains("kind");
  auto parsed_kind = kind && kind->is_string() ? kind_from(kind->as_string()) : std::nullopt;
  if (!parsed_kind) {
    error = "\"kind\" must be one of latency, hang, reset, status, truncate";
    return std::nullopt;
  }
  rule.kind = *parsed_kind;
  if (const json::value* m = o.if_contains("match")) {
    if (!m->is_string()) {
      error = "\"match\" must be a string";
      return std::nullopt;
    }
    rule.match_text = m->as_string();
  }
  try {
    rule.match = std::regex(rule.match_text, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    error = "bad \"match\" regex " + rule.match_text + ": " + e.what();
    return std::nullopt;
  }
  if (const json::value* m = o.if_contains("method")) {
    if (!m->is_string()) {
      error = "\"method\" must be a string";
      return std::nullopt;
    }
    rule.method = std::string(m->as_string());
  }
  if (auto ms = unsigned_field(o, "ms", error)) rule.ms = static_cast<unsigned>(*ms);
  if (auto st = unsigned_field(o, "status", error)) rule.status = static_cast<unsigned>(*st);
  if (auto ra = unsigned_field(o, "retry_after", error))
    rule.retry_after = static_cast<unsigned>(*ra);
  if (auto t = unsigned_field(o, "times", error)) rule.times = *t;
  if (!error.empty()) return std::nullopt;
  if (rule.status < 100 || rule.status > 599) {
    error = "\"status\" must be an HTTP status code";
    return std::nullopt;
  }
  if (const json::value* p = o.if_contains("probability")) {
    if (!p->is_number() || p->to_number<double>() < 0 || p->to_number<double>() > 1) {
      error = "\"probability\" must be a number in [0, 1]";
      return std::nullopt;
    }
    rule.probability = p->to_number<double>();
  }
  return rule;
}

bool is_action(FaultKind k) { return k != FaultKind::latency; }

}  // namespace

std::string_view to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::latency:
      return "latency";
    case FaultKind::hang:
      return "hang";
    case FaultKind::reset:
      return "reset";
    case FaultKind::status:
      return "status";
    case FaultKind::truncate:
      return "truncate";
  }
  return "unknown";
}

std::optional<std::vector<FaultRule>> parse_fault_rules(std::string_view text, std::string& error) {
  error.clear();  // parse_rule uses it as its failure flag
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec) {
    error = "fault rules are not JSON: " + ec.message();
    return std::nullopt;
  }
  if (doc.is_object() && doc.as_object().contains("rules")) {
    json::value rules =
        std::move(doc.as_object()["rules"]);  // not assigned in place: it lives inside doc
    doc = std::move(rules);
  }
  if (!doc.is_array()) {
    error = "fault rules must be a JSON array (or {\"rules\": [...]})";
    return std::nullopt;
  }
  std::vector<FaultRule> rules;
  for (const json::value& v : doc.as_array()) {
    auto rule = parse_rule(v, error);
    if (!rule) return std::nullopt;
    rules.push_back(std::move(*rule));
  }
  return rules;
}

void FaultSet::replace(std::vector<FaultRule> rules) {
  std::lock_guard lock(mutex_);
  rules_ = std::move(rules);
}

FaultDecision FaultSet::decide(std::string_view method, std::string_view target) {
  FaultDecision decision;
  std::lock_guard lock(mutex_);
  for (FaultRule& rule : rules_) {
    if (decision.action && is_action(rule.kind)) continue;  // the action is already chosen
    if (rule.times && rule.fired >= *rule.times) continue;
    if (rule.method && *rule.method != method) continue;
    if (!std::regex_search(target.begin(), target.end(), rule.match)) continue;
    if (rule.probability < 1.0 &&
        std::uniform_real_distribution<double>(0.0, 1.0)(rng_) >= rule.probability)
      continue;
    ++rule.fired;
    decision.fired.push_back(rule.kind);
    if (rule.kind == FaultKind::latency) {
      decision.delay += std::chrono::milliseconds(rule.ms);
      continue;
    }
    decision.action = rule.kind;
    decision.status = rule.status;
    decision.retry_after = rule.retry_after;
  }
  return decision;
}

json::value FaultSet::to_json() const {
  json::array out;
  std::lock_guard lock(mutex_);
  for (const FaultRule& r : rules_) {
    json::object o;
    o["match"] = r.match_text;
    if (r.method) o["method"] = *r.method;
    o["kind"] = to_string(r.kind);
    if (r.kind == FaultKind::latency) o["ms"] = r.ms;
    if (r.kind == FaultKind::status) o["status"] = r.status;
    if (r.retry_after) o["retry_after"] = *r.retry_after;
    o["probability"] = r.probability;
    if (r.times) o["times"] = *r.times;
    o["fired"] = r.fired;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace fakegcp
