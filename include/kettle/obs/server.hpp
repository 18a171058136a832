// The observability HTTP server: Prometheus /metrics, /healthz and
// /healthz/ready, on its own thread so that a busy or stuck pipeline never
// delays a probe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace kettle::obs {

struct ServerOptions {
  std::string metrics_addr;  // e.g. ":9090"; empty: no metrics listener
  std::string health_addr;   // e.g. ":8081"; empty: no health listener
  std::chrono::steady_clock::duration stall_timeout = std::chrono::minutes(15);
  // A default address (not asked for) that cannot be bound is skipped with a
  // warning, so a second kettle on one host still runs; an address given on
  // the command line must be served.
  bool metrics_addr_is_default = false;
  bool health_addr_is_default = false;
};

// A listen address: ":9090" (every interface), "127.0.0.1:9090",
// "[::1]:9090", "localhost:9090"; port 0 picks a free port.
struct ListenAddress {
  std::string host;  // IP literal; "0.0.0.0" for every interface
  unsigned short port = 0;
};
std::optional<ListenAddress> parse_listen_address(const std::string& text, std::string* error = nullptr);

class Server {
 public:
  // Binds the listeners and starts serving. Throws std::runtime_error naming
  // the flag's address when it cannot listen on an address that was asked for.
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound "host:port" (the real port when 0 was asked), empty when off.
  std::string metrics_address() const;
  std::string health_address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kettle::obs
