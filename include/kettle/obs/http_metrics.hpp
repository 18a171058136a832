// The kettle_http_* metrics, fed by the HTTP client's observer hooks.
#pragma once

#include <memory>

#include "kettle/net/observer.hpp"

namespace kettle::obs {

// An observer for net::Config::observer that updates, in obs::metrics():
// kettle_http_requests_total{api,code,outcome} and
// kettle_http_request_duration_seconds{api} per attempt,
// kettle_http_requests_in_flight{api} while attempts hold a slot, and
// kettle_http_retries_total{api} per retry, and
// kettle_http_body_budget_bytes{state=in_use|limit} and
// kettle_http_body_budget_waiting as the body budget changes. One instance
// may serve every client, on any thread (the budget gauges then show the
// last client to change; kettle runs one).
std::shared_ptr<net::Observer> http_metrics_observer();

}  // namespace kettle::obs
