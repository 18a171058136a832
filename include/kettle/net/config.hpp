// Every timeout and limit of the HTTP client, with its default.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "kettle/net/observer.hpp"
#include "kettle/net/retry.hpp"

namespace kettle::net {

// Deadlines of one attempt. Each phase is bounded on its own and by `total`,
// so a server that accepts and then stalls costs at most one of them.
struct Timeouts {
  Duration connect = std::chrono::seconds(10);    // DNS resolution + TCP connect
  Duration handshake = std::chrono::seconds(10);  // TLS handshake
  Duration write = std::chrono::seconds(30);      // sending the request
  Duration headers = std::chrono::seconds(30);    // request sent -> response headers read
  Duration body_idle = std::chrono::seconds(30);  // longest pause while reading the body
  Duration total = std::chrono::seconds(120);     // one attempt, connect to last body byte
};

struct Config {
  Timeouts timeouts{};
  RetryConfig retry{};
  std::size_t body_limit = std::size_t{256} << 20;   // bytes, after gzip decoding too
  std::size_t header_limit = std::size_t{64} << 10;  // bytes of the response header block
  std::size_t max_in_flight = 64;                    // attempts on the wire at once (--threads)
  std::size_t max_connections_per_host = 0;          // open connections to one scheme+host+port;
                                                     // 0: no cap but max_in_flight
  std::size_t max_idle_per_host = 64;                // idle connections kept per host (more while
                                                     // requests queue for a slot)
  Duration idle_timeout = std::chrono::seconds(50);  // idle connections older than this are closed
                                                     // (Google front ends drop them after ~60 s)
  // Response body bytes all attempts together hold in memory (received and
  // gzip-decoded, until the request returns). Attempts wait for room rather
  // than fail; one response may pass it alone when every other download
  // waits (net::BodyBudget), so memory stays within about this plus the
  // largest response's own limit (512 MiB for a GCS object).
  std::size_t body_budget = std::size_t{256} << 20;
  // Extra PEM trust anchors besides the system store (which honours SSL_CERT_FILE).
  std::string ca_file{};
  std::string user_agent = "kettle/0.1";
  std::shared_ptr<Observer> observer{};  // told of every attempt and retry; null: nobody
};

// Bounds one attempt, and each of its phases, to `seconds` (--request-timeout).
inline void limit_attempt_time(Config& config, double seconds) {
  const auto total = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
  for (Duration* d : {&config.timeouts.connect, &config.timeouts.handshake, &config.timeouts.write,
                      &config.timeouts.headers, &config.timeouts.body_idle})
    *d = std::min(*d, total);
  config.timeouts.total = total;
}

}  // namespace kettle::net
