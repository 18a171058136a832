// The fake's HTTP/1.1 server core: accepts on loopback (plain or TLS), applies
// global latency and fault rules, and routes each request to a Service.
// Beast stays inside server.cpp so services compile quickly.
#pragma once

#include <memory>
#include <string>

#include "config.hpp"

namespace fakegcp {

class FaultSet;
class BigQueryService;
class GcsService;
class PubSubService;
class Stats;
class TokenStore;

class Server {
 public:
  // Loads the service-account key, TLS files and fault rules; throws
  // std::runtime_error naming the file or flag that is wrong.
  explicit Server(ServerConfig config);
  ~Server();  // stops and joins the io threads
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (port 0 picks one) and starts the io threads.
  void start();
  // Stops serving: open connections (including hung ones) are dropped. Idempotent.
  void stop();

  unsigned short port() const;
  const std::string& base_url() const;  // "http://127.0.0.1:PORT" (https with TLS)

  Stats& stats();
  FaultSet& faults();
  TokenStore& tokens();
  GcsService& gcs();  // e.g. to subscribe to object finalize events
  PubSubService& pubsub();
  BigQueryService& bigquery();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fakegcp
