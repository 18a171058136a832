// What every emulated API (GCS, OAuth/metadata, control; later Pub/Sub and
// BigQuery) implements. The server core routes each request to the first
// service that claims it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config.hpp"
#include "faults.hpp"
#include "http_message.hpp"
#include "stats.hpp"
#include "token_store.hpp"

namespace fakegcp {

// State shared by all services. base_url is filled in once the listener is
// bound and before any request is served, so readers need no lock.
struct ServiceContext {
  const ServerConfig& config;
  Stats& stats;
  FaultSet& faults;
  TokenStore& tokens;
  std::string base_url;  // e.g. "http://127.0.0.1:40123"
};

class Service {
 public:
  virtual ~Service() = default;
  // The request's kind for stats (e.g. "gcs.media") when this service serves
  // it, else nullopt. Must be cheap: it runs for every request.
  virtual std::optional<std::string_view> classify(const Request& req) const = 0;
  // Called only for requests this service classified. Runs on an io thread;
  // may block briefly on local files. Never throws past the core (it answers 500).
  virtual Response handle(const Request& req) = 0;
  // The fake's own control API: exempt from faults, latency and stats, so
  // tests can always steer the fake and counts show only API traffic.
  virtual bool is_control() const { return false; }
};

}  // namespace fakegcp
