#include "kettle/net/http_client.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <vector>

#include "connection.hpp"
#include "kettle/net/async_semaphore.hpp"
#include "kettle/net/gzip.hpp"
#include "kettle/net/url.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::net {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using detail::Clock;
using detail::Connection;

namespace {

Error request_error(ErrorKind kind, const std::string& url, std::string message) {
  return Error{.kind = kind, .status = 0, .url = url, .message = std::move(message), .attempts = 0};
}

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

// Undoes Content-Encoding: gzip (GCS decompressive transcoding), within the body limit.
Result<Response> decode_body(Response response, std::size_t limit, const std::string& url) {
  auto encoding = response.headers.get("Content-Encoding");
  if (!encoding || response.body.empty()) return response;
  std::string name = lower_trimmed(*encoding);
  if (name != "gzip" && name != "x-gzip" && name != "deflate")
    return response;  // not ours to decode
  std::string decoded;
  switch (gunzip(response.body, limit, decoded)) {
    case GunzipStatus::ok:
      break;
    case GunzipStatus::too_large:
      return request_error(ErrorKind::too_large, url,
                           "decoded body over the limit of " + std::to_string(limit) + " bytes");
    case GunzipStatus::corrupt:
      return request_error(ErrorKind::protocol, url, "corrupt or truncated " + name + " body");
  }
  response.body = std::move(decoded);
  response.headers.erase("Content-Encoding");
  response.headers.erase("Content-Length");
  return response;
}

detail::Limits limits_for(const Config& config, const RequestOptions& options) {
  detail::Limits limits{.timeouts = config.timeouts,
                        .body_limit = options.body_limit.value_or(config.body_limit),
                        .header_limit = config.header_limit,
                        .accept_gzip = options.accept_gzip,
                        .user_agent = config.user_agent};
  if (options.headers_timeout) limits.timeouts.headers = *options.headers_timeout;
  if (options.body_idle_timeout) limits.timeouts.body_idle = *options.body_idle_timeout;
  if (options.total_timeout) limits.timeouts.total = *options.total_timeout;
  return limits;
}

std::string body_excerpt(const std::string& body) {
  constexpr std::size_t max = 200;
  std::string out = body.substr(0, max);
  std::replace(out.begin(), out.end(), '\n', ' ');
  return body.size() > max ? out + "..." : out;
}

// Counts an attempt as in flight for as long as it lives.
class InFlightGauge {
 public:
  InFlightGauge(Stats& stats, obs::Gauge& metric) : stats_(stats), metric_(metric) {
    ++stats_.in_flight;
    metric_.add(1);
  }
  ~InFlightGauge() {
    --stats_.in_flight;
    metric_.add(-1);
  }
  InFlightGauge(const InFlightGauge&) = delete;
  InFlightGauge& operator=(const InFlightGauge&) = delete;

 private:
  Stats& stats_;
  obs::Gauge& metric_;
};

// One attempt in kettle_http_requests_total and the latency histogram.
void record_attempt(const std::string& api, const Result<Response>& result, Clock::duration took) {
  auto& m = obs::metrics();
  std::string code = result ? std::to_string(result->status) : "none";
  std::string_view outcome = !result                  ? to_string(result.error().kind)
                             : result->status >= 500  ? "server_error"
                             : result->status >= 400  ? "client_error"
                                                      : "success";
  m.http_requests.with({api, code, outcome}).inc();
  m.http_duration.with({api}).observe(std::chrono::duration<double>(took).count());
}

}  // namespace

// Connections to one scheme+host+port.
struct HostPool {
  HostPool(const asio::any_io_executor& executor, std::size_t max_connections)
      : permits(executor, std::max<std::size_t>(1, max_connections)) {}
  AsyncSemaphore permits;                         // one per connection in use; idle ones hold none
  std::vector<std::unique_ptr<Connection>> idle;  // most recently used last
};

struct HttpClient::Impl {
  Impl(asio::any_io_executor ex, Config cfg)
      : executor(std::move(ex)),
        config(std::move(cfg)),
        tls(detail::make_tls_context(config)),
        in_flight(executor, std::max<std::size_t>(1, config.max_in_flight)),
        stop_signal(executor, asio::steady_timer::time_point::max()) {}

  asio::awaitable<Result<Response>> run(Request request);
  asio::awaitable<Result<Response>> perform(Request request);
  asio::awaitable<Result<Response>> retry_loop(Request request);
  asio::awaitable<Result<Response>> attempt(const Request& request, const Url& url,
                                            const detail::Limits& limits);
  asio::awaitable<Result<Response>> exchange_on(HostPool& pool, const Request& request, const Url& url,
                                                const detail::Limits& limits);
  asio::awaitable<void> wait_for_stop();
  HostPool& pool_for(const Url& url);
  std::unique_ptr<Connection> take_idle(HostPool& pool);
  void put_back(HostPool& pool, std::unique_ptr<Connection> connection, bool reusable,
                bool complete);
  void do_stop();

  asio::any_io_executor executor;
  Config config;
  std::shared_ptr<asio::ssl::context> tls;
  Stats stats;
  AsyncSemaphore in_flight;
  std::map<std::string, std::unique_ptr<HostPool>> pools;  // by origin
  asio::steady_timer stop_signal;  // never expires; stop() cancels every wait on it
  std::atomic<bool> stopped{false};
};

HostPool& HttpClient::Impl::pool_for(const Url& url) {
  auto& slot = pools[url.origin()];
  if (!slot) {
    std::size_t cap = config.max_connections_per_host;
    slot = std::make_unique<HostPool>(executor, cap == 0 ? config.max_in_flight : cap);
  }
  return *slot;
}

std::unique_ptr<Connection> HttpClient::Impl::take_idle(HostPool& pool) {
  auto now = Clock::now();
  while (!pool.idle.empty()) {
    auto connection = std::move(pool.idle.back());
    pool.idle.pop_back();
    if (now - connection->idle_since < config.idle_timeout && connection->looks_alive()) {
      connection->reused = true;
      return connection;
    }
  }
  return nullptr;
}

void HttpClient::Impl::put_back(HostPool& pool, std::unique_ptr<Connection> connection,
                                bool reusable, bool complete) {
  if (reusable && !stopped) {
    connection->idle_since = Clock::now();
    pool.idle.push_back(std::move(connection));
    // Trim to the cap (oldest first) only when nobody queues for a slot: queued
    // requests are about to take these connections, and closing them would
    // cost new handshakes in every burst.
    if (in_flight.waiting() == 0 && pool.permits.waiting() == 0 &&
        pool.idle.size() > config.max_idle_per_host) {
      pool.idle.erase(pool.idle.begin(),
                      pool.idle.end() - static_cast<std::ptrdiff_t>(config.max_idle_per_host));
    }
    return;
  }
  if (complete && !stopped) {
    // The server ended keep-alive after a full response: say goodbye properly
    // (TLS close_notify) without making the caller wait. After an error the
    // connection is just dropped.
    asio::co_spawn(executor, Connection::close_gracefully(std::move(connection)), asio::detached);
  }
}

asio::awaitable<Result<Response>> HttpClient::Impl::attempt(const Request& request, const Url& url,
                                                            const detail::Limits& limits) {
  auto slot = co_await in_flight.acquire();
  if (!slot) co_return request_error(ErrorKind::cancelled, request.url, "cancelled while queued");
  InFlightGauge gauge(stats, obs::metrics().http_in_flight.with({request.api}));
  HostPool& pool = pool_for(url);
  auto connection_permit = co_await pool.permits.acquire();
  if (!connection_permit)
    co_return request_error(ErrorKind::cancelled, request.url, "cancelled while queued");
  // Timed from here: queueing for a slot is not the server's latency.
  auto start = Clock::now();
  auto result = co_await exchange_on(pool, request, url, limits);
  if (!stopped) record_attempt(request.api, result, Clock::now() - start);
  co_return result;
}

asio::awaitable<Result<Response>> HttpClient::Impl::exchange_on(HostPool& pool, const Request& request,
                                                                const Url& url, const detail::Limits& limits) {
  auto deadline = Clock::now() + limits.timeouts.total;
  bool fresh_only = false;
  while (true) {
    std::unique_ptr<Connection> connection = fresh_only ? nullptr : take_idle(pool);
    if (connection) {
      ++stats.connections_reused;
    } else {
      auto opened = co_await Connection::open(*tls, url, limits.timeouts, deadline);
      if (!opened) co_return opened.error();
      connection = std::move(*opened);
      ++stats.connections_opened;
    }
    auto exchange = co_await connection->exchange(request, url, limits, deadline);
    bool stale = !exchange.response && exchange.nothing_received &&
                 exchange.response.error().kind == ErrorKind::reset;
    if (stale && connection->reused && !fresh_only) {
      // The server closed the idle connection as we reused it (a reset or EOF,
      // not a timeout); the request never got an answer, so resend at once on
      // a new connection.
      KLOG(debug) << "stale pooled connection to " << url.origin() << ", resending on a new one";
      fresh_only = true;
      continue;
    }
    put_back(pool, std::move(connection), exchange.reusable, exchange.response.has_value());
    if (!exchange.response) co_return std::move(exchange.response);
    co_return decode_body(std::move(*exchange.response), limits.body_limit, request.url);
  }
}

asio::awaitable<Result<Response>> HttpClient::Impl::perform(Request request) {
  std::string url = request.url;
  // Never let an exception escape: the `||` in run() would then wait for the
  // stop signal forever. (A throwing 401 hook, or the cancellation exception
  // Asio raises in a coroutine after stop(), both end up here.)
  try {
    co_return co_await retry_loop(std::move(request));
  } catch (const std::exception& e) {
    co_return request_error(stopped ? ErrorKind::cancelled : ErrorKind::protocol, url,
                            std::string(stopped ? "cancelled: " : "internal error: ") + e.what());
  }
}

asio::awaitable<Result<Response>> HttpClient::Impl::retry_loop(Request request) {
  auto url = Url::parse(request.url);
  if (!url)
    co_return request_error(ErrorKind::invalid_request, request.url, "not an absolute http(s) URL");
  auto limits = limits_for(config, request.options);
  RetryPolicy policy(request.options.retry.value_or(config.retry));
  auto start = Clock::now();
  bool refreshed = false;
  asio::steady_timer sleeper(executor);

  for (int attempts = 1;; ++attempts) {
    ++stats.attempts;
    Result<Response> result = co_await attempt(request, *url, limits);

    if (result && result->status == 401 && request.on_unauthorized && !refreshed) {
      refreshed = true;  // once: a second 401 means the credentials are wrong, not stale
      if (co_await request.on_unauthorized(request)) {
        --attempts;
        continue;
      }
    }
    bool retryable =
        result ? is_retryable_status(result->status) : is_retryable(result.error().kind);
    if (!retryable) {
      if (result) co_return result;
      Error error = result.error();  // result<T, E>::error() returns a copy
      error.attempts = attempts;
      co_return error;
    }

    std::optional<Duration> retry_after;
    if (result) {
      if (auto header = result->headers.get("Retry-After"))
        retry_after = parse_retry_after(*header);
    }
    Error failure = result ? Error{.kind = ErrorKind::http_status,
                                   .status = result->status,
                                   .url = request.url,
                                   .message = "server answered " + std::to_string(result->status) +
                                              ": " + body_excerpt(result->body),
                                   .attempts = attempts}
                           : result.error();
    failure.attempts = attempts;
    auto delay = policy.next_delay(attempts, Clock::now() - start, retry_after);
    if (!delay) co_return failure;

    KLOG(warning) << "retrying in "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(*delay).count()
                  << "ms: " << failure.what();
    ++stats.retries;
    obs::metrics().http_retries.with({request.api}).inc();
    sleeper.expires_after(*delay);
    boost::system::error_code ignored;
    co_await sleeper.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

asio::awaitable<void> HttpClient::Impl::wait_for_stop() {
  // stop() may have run before this wait starts: check the flag first.
  if (stopped) co_return;
  boost::system::error_code ignored;
  co_await stop_signal.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

asio::awaitable<Result<Response>> HttpClient::Impl::run(Request request) {
  std::string url = request.url;
  if (stopped) co_return request_error(ErrorKind::cancelled, url, "HTTP client stopped");
  ++stats.requests_started;
  // The request races the stop signal; the loser is cancelled, which closes
  // its sockets and wakes its timers and queue waits.
  auto outcome = co_await (perform(std::move(request)) || wait_for_stop());
  Result<Response> result =
      outcome.index() == 0
          ? std::get<0>(std::move(outcome))
          : Result<Response>(request_error(ErrorKind::cancelled, url, "HTTP client stopped"));
  if (result) {
    ++stats.requests_ok;
  } else if (result.error().kind == ErrorKind::cancelled) {
    ++stats.requests_cancelled;
  } else {
    ++stats.requests_failed;
  }
  co_return result;
}

void HttpClient::Impl::do_stop() {
  stop_signal.cancel();
  for (auto& [origin, pool] : pools) pool->idle.clear();
}

HttpClient::HttpClient(asio::any_io_executor executor, Config config)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(config))) {}

HttpClient::~HttpClient() = default;

asio::awaitable<Result<Response>> HttpClient::request(Request request) {
  return impl_->run(std::move(request));
}

void HttpClient::stop() {
  if (impl_->stopped.exchange(true)) return;
  // Runs at once on the client's thread, else is queued to it.
  asio::dispatch(impl_->executor, [impl = impl_.get()] { impl->do_stop(); });
}

bool HttpClient::stopped() const { return impl_->stopped; }
const Stats& HttpClient::stats() const { return impl_->stats; }
const Config& HttpClient::config() const { return impl_->config; }

}  // namespace kettle::net
