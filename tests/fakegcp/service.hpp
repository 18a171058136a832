// What every emulated API (GCS, OAuth/metadata, Pub/Sub, BigQuery, control)
// implements. The server core routes each request to the first service that
// claims it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config.hpp"
#include "faults.hpp"
#include "http_message.hpp"
#include "stats.hpp"
#include "token_store.hpp"

namespace fakegcp {

// Runs work later on the server's io threads, without services touching Asio.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // fn runs once after the delay, on any io thread, unless the server stops first.
  virtual void run_after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
};

// State shared by all services. base_url is filled in once the listener is
// bound and before any request is served, so readers need no lock.
struct ServiceContext {
  const ServerConfig& config;
  Stats& stats;
  FaultSet& faults;
  TokenStore& tokens;
  Scheduler& scheduler;
  std::string base_url;  // e.g. "http://127.0.0.1:40123"
};

// Delivers a response that is ready later (a held long poll). Call it exactly
// once, from any thread; calls after the first are ignored.
using Reply = std::function<void(Response)>;

class Service {
 public:
  virtual ~Service() = default;
  // The request's kind for stats (e.g. "gcs.media") when this service serves
  // it, else nullopt. Must be cheap: it runs for every request.
  virtual std::optional<std::string_view> classify(const Request& req) const = 0;
  // Called only for requests this service classified. Runs on an io thread;
  // may block briefly on local files. Never throws past the core (it answers 500).
  virtual Response handle(const Request& req) = 0;
  // For services that may answer later; the default answers at once.
  virtual void handle_async(const Request& req, Reply reply) { reply(handle(req)); }
  // The fake's own control API: exempt from faults, latency and stats, so
  // tests can always steer the fake and counts show only API traffic.
  virtual bool is_control(const Request& /*req*/) const { return false; }
  // The io threads have stopped: drop held replies while the io_context still
  // exists (they refer to it).
  virtual void shutdown() {}
};

}  // namespace fakegcp
