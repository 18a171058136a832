// The coroutine HTTP(S) client under every API client (GCS, Pub/Sub, BigQuery,
// OAuth): connection pools with keep-alive, a bound on requests in flight,
// deadlines on every phase, retries with backoff, a graceful shutdown and a
// stop switch.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>

#include "kettle/net/config.hpp"
#include "kettle/net/error.hpp"
#include "kettle/net/message.hpp"

namespace kettle::net {

// Counters for observability; safe to read from any thread.
struct Stats {
  std::atomic<std::uint64_t> requests_started{0};
  std::atomic<std::uint64_t> requests_ok{0};         // a response was returned (any status)
  std::atomic<std::uint64_t> requests_failed{0};     // an Error was returned, cancelled excluded
  std::atomic<std::uint64_t> requests_cancelled{0};  // ended by stop() or shutdown()
  std::atomic<std::uint64_t> attempts{0};            // sends, retries and re-sends included
  std::atomic<std::uint64_t> retries{0};             // attempts after a backoff sleep
  std::atomic<std::int64_t> in_flight{0};            // attempts holding an in-flight slot now
  std::atomic<std::uint64_t> connections_opened{0};
  std::atomic<std::uint64_t> connections_reused{0};  // attempts served by a pooled connection
  std::atomic<std::uint64_t> body_bytes_held{0};     // against Config::body_budget, now
  std::atomic<std::uint64_t> body_budget_waiting{0};  // attempts waiting for room in it, now
};

// One per io_context, used from that context's single thread. Must outlive
// every request it runs.
//
// Outcome of request():
// - a Response for 1xx-3xx, for 4xx other than 408/429 (final: callers decide,
//   e.g. GCS 404 = absent), and for a 401 the hook did not resolve;
// - an Error of kind http_status when 408/429/5xx persisted through all retries;
// - an Error of another kind for failures that were not retried or persisted.
// Every method is retried (the APIs we call are idempotent or carry ids);
// set options.retry = {.max_attempts = 1} where a resend is unwanted.
class HttpClient {
 public:
  // Throws std::runtime_error when the TLS trust store cannot be set up
  // (e.g. config.ca_file unreadable).
  HttpClient(boost::asio::any_io_executor executor, Config config = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  boost::asio::awaitable<Result<Response>> request(Request request);

  // Begins a graceful stop: attempts already on the wire run to completion
  // and their requests return what they get, unless a retry would follow.
  // Everything else ends with ErrorKind::cancelled and no further attempt:
  // - requests made from now on, at once;
  // - requests sleeping before a retry, at once (not with their last failure,
  //   so callers can tell "cut short" from "failed");
  // - attempts queued for an in-flight slot or a connection to their host, at
  //   once, without reaching the server;
  // - requests with options.interruptible, at once, even mid-attempt;
  // - requests answered 401: no resend (and no credential refresh if the 401
  //   came after shutdown()).
  // Idle pooled connections are closed. Call stop() after a grace period to
  // abandon what is still on the wire.
  // Safe from any thread; later calls do nothing.
  void shutdown();
  // True once shutdown() was called (stop() alone does not set it).
  bool shutting_down() const;

  // Ends every request in progress or waiting with ErrorKind::cancelled,
  // closes pooled connections and refuses new requests. Safe from any thread.
  void stop();
  bool stopped() const;

  // Replaces the retry policy of requests started from now on (one that
  // carries its own options.retry keeps it). From the client's thread.
  void set_retry(RetryConfig retry);

  const Stats& stats() const;
  const Config& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kettle::net
