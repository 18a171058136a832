// Internal: one HTTP/1.1 connection (plain or TLS) and one request/response
// exchange on it, every phase under a deadline. The only Beast user of net/.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>

#include "kettle/net/body_budget.hpp"
#include "kettle/net/config.hpp"
#include "kettle/net/error.hpp"
#include "kettle/net/message.hpp"
#include "kettle/net/url.hpp"

namespace boost::asio::ssl {
class context;
}

namespace kettle::net::detail {

using Clock = std::chrono::steady_clock;

// What one attempt may use, after per-request overrides.
struct Limits {
  Timeouts timeouts;
  std::size_t body_limit = 0;
  std::size_t header_limit = 0;
  bool accept_gzip = false;
  std::string user_agent;
};

struct Exchange {
  Result<Response> response;
  bool reusable = false;          // complete message, keep-alive, nothing left over
  bool nothing_received = false;  // failed before any response byte (a stale pooled connection)
};

// The client's TLS settings: system trust store (SSL_CERT_FILE honoured),
// plus config.ca_file; peers are verified. Throws std::runtime_error.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const Config& config);

class Connection {
 public:
  // Resolves, connects and (for https) does the TLS handshake with SNI and
  // host name verification, each bounded by its timeout and by `deadline`.
  static boost::asio::awaitable<Result<std::unique_ptr<Connection>>> open(
      boost::asio::ssl::context& tls, const Url& url, const Timeouts& timeouts,
      Clock::time_point deadline);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends `request` and reads the whole response (body not yet gzip-decoded),
  // taking the memory its body holds from `lease` as it arrives; the lease
  // keeps it (the Response owns the bytes) until the caller gives it back.
  boost::asio::awaitable<Exchange> exchange(const Request& request, const Url& url,
                                            const Limits& limits, Clock::time_point deadline,
                                            BodyBudget::Lease& lease);

  // False when the peer closed the idle connection or sent unexpected bytes.
  bool looks_alive() const;
  // Sends TLS close_notify (bounded, errors ignored) and closes.
  static boost::asio::awaitable<void> close_gracefully(std::unique_ptr<Connection> connection);

  bool reused = false;
  Clock::time_point idle_since{};

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kettle::net::detail
