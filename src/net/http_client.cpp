#include "kettle/net/http_client.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "connection.hpp"
#include "kettle/net/async_semaphore.hpp"
#include "kettle/net/body_budget.hpp"
#include "kettle/net/gzip.hpp"
#include "kettle/net/url.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::net {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using detail::Clock;
using detail::Connection;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view stopped_message = "HTTP client stopped";
constexpr std::string_view shutting_down_message = "HTTP client shutting down";

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

// A new attempt starts once this much of the body budget is free.
constexpr std::size_t kBudgetRoom = std::size_t{1} << 20;
// Gzip output grows by doubling from this.
constexpr std::size_t kDecodeStep = std::size_t{64} << 10;

// Undoes Content-Encoding: gzip (GCS decompressive transcoding), within the
// body limit; the output is taken from the body budget as it grows (counted
// whole, with the old copy while both exist).
asio::awaitable<Result<Response>> decode_body(Response response, std::size_t limit, std::string url,
                                              BodyBudget::Lease& lease) {
  auto encoding = response.headers.get("Content-Encoding");
  if (!encoding || response.body.empty()) co_return response;
  std::string name = lower_trimmed(*encoding);
  if (name != "gzip" && name != "x-gzip" && name != "deflate")
    co_return response;  // not ours to decode
  // One byte past the limit tells "exactly at the limit" from "over it".
  const std::size_t until = limit == SIZE_MAX ? limit : limit + 1;
  const std::size_t compressed = lease.held();
  GzipDecoder decoder(response.body);
  std::string decoded;
  while (true) {
    const std::size_t capacity = std::min(until, std::max(kDecodeStep, 2 * decoded.capacity()));
    if (!co_await lease.grow_to(compressed + decoded.capacity() + capacity))
      co_return request_error(ErrorKind::cancelled, url, "request cancelled");
    {
      std::string grown;  // reserved empty: exactly this capacity
      grown.reserve(capacity);
      grown.append(decoded);
      decoded.swap(grown);
    }
    lease.shrink_to(compressed + decoded.capacity());
    auto status = decoder.decode(decoded, std::min(until, decoded.capacity()));
    if (decoded.size() > limit)
      co_return request_error(ErrorKind::too_large, url,
                              "decoded body over the limit of " + std::to_string(limit) + " bytes");
    if (status == GzipDecoder::Status::done) break;
    if (status == GzipDecoder::Status::corrupt)
      co_return request_error(ErrorKind::protocol, url, "corrupt or truncated " + name + " body");
  }
  response.body = std::move(decoded);
  lease.shrink_to(response.body.capacity());
  response.headers.erase("Content-Encoding");
  response.headers.erase("Content-Length");
  co_return response;
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

// The start of a server's answer, quoted in retry warnings and errors;
// redacted whole before it is cut (an endpoint may echo a credential).
std::string body_excerpt(const std::string& body) {
  constexpr std::size_t max = 200;
  std::string redacted = obs::redact_secrets(body);
  std::string out = redacted.substr(0, max);
  std::replace(out.begin(), out.end(), '\n', ' ');
  return obs::printable(redacted.size() > max ? out + "..." : out);
}

// Counts an attempt in Stats::in_flight and tells the observer of it for as
// long as it lives; an attempt that ends without finish() (abandoned, or
// cancelled while queued, even by an exception) is reported as cancelled, so
// every attempt_started has its attempt_finished.
class AttemptReport {
 public:
  AttemptReport(Stats& stats, Observer& observer, std::string_view api)
      : stats_(stats), observer_(observer), api_(api) {
    ++stats_.in_flight;
    observer_.attempt_started(api_);
  }
  ~AttemptReport() {
    if (!finished_) observer_.attempt_finished(api_, 0, ErrorKind::cancelled, took());
    --stats_.in_flight;
  }
  AttemptReport(const AttemptReport&) = delete;
  AttemptReport& operator=(const AttemptReport&) = delete;

  // Timed from here: queueing for a slot is not the server's latency.
  void on_wire() { start_ = Clock::now(); }
  void finish(const Result<Response>& result) {
    finished_ = true;
    if (result) {
      observer_.attempt_finished(api_, result->status, std::nullopt, took());
    } else {
      observer_.attempt_finished(api_, 0, result.error().kind, took());
    }
  }

 private:
  Duration took() const { return start_ ? Clock::now() - *start_ : Duration{}; }

  Stats& stats_;
  Observer& observer_;
  std::string_view api_;  // the request outlives its attempts
  std::optional<Clock::time_point> start_{};
  bool finished_ = false;
};

}  // namespace

// Counts an attempt from its slot until it takes or opens a connection.
class StartingAttempt {
 public:
  explicit StartingAttempt(std::size_t& count) : count_(&count) { ++*count_; }
  StartingAttempt(const StartingAttempt&) = delete;
  StartingAttempt& operator=(const StartingAttempt&) = delete;
  ~StartingAttempt() { done(); }
  void done() {
    if (count_ != nullptr) --*std::exchange(count_, nullptr);
  }

 private:
  std::size_t* count_;
};

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
        observer(config.observer ? config.observer : std::make_shared<Observer>()),
        in_flight(executor, std::max<std::size_t>(1, config.max_in_flight)),
        body_budget(executor, config.body_budget,
                    [this](std::size_t in_use, std::size_t limit, std::size_t waiting) {
                      stats.body_bytes_held = in_use;
                      stats.body_budget_waiting = waiting;
                      observer->body_budget_changed(in_use, limit, waiting);
                    }),
        stop_signal(executor, asio::steady_timer::time_point::max()),
        drain_signal(executor, asio::steady_timer::time_point::max()) {}

  asio::awaitable<Result<Response>> run(Request request);
  asio::awaitable<Result<Response>> perform(Request request);
  asio::awaitable<Result<Response>> retry_loop(Request request);
  asio::awaitable<Result<Response>> attempt(const Request& request, const Url& url,
                                            const detail::Limits& limits);
  asio::awaitable<Result<Response>> exchange_on(HostPool& pool, const Request& request,
                                                const Url& url, const detail::Limits& limits,
                                                BodyBudget::Lease& lease,
                                                StartingAttempt& starting);
  asio::awaitable<void> wait_for_stop();
  asio::awaitable<void> wait_for_drain();
  asio::awaitable<void> wait_to_abandon(bool interruptible);
  asio::awaitable<AsyncSemaphore::Permit> acquire_unless_draining(AsyncSemaphore& semaphore);
  asio::awaitable<BodyBudget::Lease> admit_unless_draining();
  Error refused(const std::string& url, std::string_view why) const;
  HostPool& pool_for(const Url& url);
  std::unique_ptr<Connection> take_idle(HostPool& pool);
  void put_back(HostPool& pool, std::unique_ptr<Connection> connection, bool reusable,
                bool complete);
  void do_stop();
  void do_shutdown();

  asio::any_io_executor executor;
  Config config;
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<Observer> observer;  // never null: the base class does nothing
  Stats stats;
  AsyncSemaphore in_flight;
  BodyBudget body_budget;
  std::map<std::string, std::unique_ptr<HostPool>> pools;  // by origin
  asio::steady_timer stop_signal;   // never expires; stop() cancels every wait on it
  asio::steady_timer drain_signal;  // never expires; shutdown() cancels every wait on it
  std::atomic<bool> stopped{false};
  std::atomic<bool> draining{false};
  // Attempts granted a slot that have not yet taken a connection: they may
  // still be on their way to the idle pool, so put_back() must not trim it.
  std::size_t attempts_starting = 0;
};

Error HttpClient::Impl::refused(const std::string& url, std::string_view why) const {
  std::string message(stopped ? stopped_message : shutting_down_message);
  if (!why.empty()) message += std::string(": ") + std::string(why);
  return request_error(ErrorKind::cancelled, url, std::move(message));
}

asio::awaitable<AsyncSemaphore::Permit> HttpClient::Impl::acquire_unless_draining(
    AsyncSemaphore& semaphore) {
  if (draining) co_return AsyncSemaphore::Permit{};
  if (auto permit = semaphore.try_acquire()) co_return permit;
  // Queued: shutdown() ends the wait at once rather than when a permit frees.
  auto outcome = co_await (semaphore.acquire() || wait_for_drain());
  // A permit granted as the drain began is handed on, to a waiter that will
  // refuse it in turn.
  if (outcome.index() != 0 || draining) co_return AsyncSemaphore::Permit{};
  co_return std::get<0>(std::move(outcome));
}

asio::awaitable<BodyBudget::Lease> HttpClient::Impl::admit_unless_draining() {
  if (draining) co_return BodyBudget::Lease{};
  if (auto lease = body_budget.try_admit(kBudgetRoom)) co_return lease;
  // Throttled: shutdown() ends the wait at once rather than when room frees.
  auto outcome = co_await (body_budget.admit(kBudgetRoom) || wait_for_drain());
  if (outcome.index() != 0 || draining) co_return BodyBudget::Lease{};
  co_return std::get<0>(std::move(outcome));
}

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
  if (reusable && !stopped && !draining) {
    connection->idle_since = Clock::now();
    pool.idle.push_back(std::move(connection));
    // Trim to the cap (oldest first) only when nobody queues for a slot: queued
    // requests are about to take these connections, and closing them would
    // cost new handshakes in every burst.
    if (in_flight.waiting() == 0 && pool.permits.waiting() == 0 && attempts_starting == 0 &&
        pool.idle.size() > config.max_idle_per_host) {
      pool.idle.erase(pool.idle.begin(),
                      pool.idle.end() - static_cast<std::ptrdiff_t>(config.max_idle_per_host));
    }
    return;
  }
  if (complete && !stopped) {
    // The server ended keep-alive after a full response, or shutdown() left
    // no use for the connection: say goodbye properly (TLS close_notify)
    // without making the caller wait. After an error the connection is just
    // dropped.
    asio::co_spawn(executor, Connection::close_gracefully(std::move(connection)), asio::detached);
  }
}

asio::awaitable<Result<Response>> HttpClient::Impl::attempt(const Request& request, const Url& url,
                                                            const detail::Limits& limits) {
  auto slot = co_await acquire_unless_draining(in_flight);
  if (!slot) co_return refused(request.url, "attempt not started");
  StartingAttempt starting(attempts_starting);
  AttemptReport report(stats, *observer, request.api);
  // Holds the response's bytes against the body budget until the attempt
  // returns them to its request.
  auto lease = co_await admit_unless_draining();
  if (!lease) co_return refused(request.url, "attempt not started");
  HostPool& pool = pool_for(url);
  auto connection_permit = co_await acquire_unless_draining(pool.permits);
  if (!connection_permit) co_return refused(request.url, "attempt not started");
  report.on_wire();
  auto result = co_await exchange_on(pool, request, url, limits, lease, starting);
  // An abandoned attempt says nothing about the server: the report's
  // destructor calls it cancelled, whatever error the cut produced.
  bool abandoned = stopped || (request.options.interruptible && draining);
  if (!abandoned) report.finish(result);
  co_return result;
}

asio::awaitable<Result<Response>> HttpClient::Impl::exchange_on(HostPool& pool,
                                                                const Request& request,
                                                                const Url& url,
                                                                const detail::Limits& limits,
                                                                BodyBudget::Lease& lease,
                                                                StartingAttempt& starting) {
  auto deadline = Clock::now() + limits.timeouts.total;
  bool fresh_only = false;
  while (true) {
    std::unique_ptr<Connection> connection = fresh_only ? nullptr : take_idle(pool);
    starting.done();
    if (connection) {
      ++stats.connections_reused;
    } else {
      auto opened = co_await Connection::open(*tls, url, limits.timeouts, deadline);
      if (!opened) co_return opened.error();
      connection = std::move(*opened);
      ++stats.connections_opened;
    }
    auto exchange = co_await connection->exchange(request, url, limits, deadline, lease);
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
    Response received = std::move(*exchange.response);
    co_return co_await decode_body(std::move(received), limits.body_limit, request.url, lease);
  }
}

asio::awaitable<Result<Response>> HttpClient::Impl::perform(Request request) {
  std::string url = request.url;
  bool interruptible = request.options.interruptible;
  // Never let an exception escape: the `||` in run() would then wait for the
  // stop signal forever. (A throwing 401 hook, or the cancellation exception
  // Asio raises in a coroutine abandoned by stop() or shutdown(), end up here.)
  try {
    co_return co_await retry_loop(std::move(request));
  } catch (const std::exception& e) {
    bool abandoned = stopped || (interruptible && draining);
    co_return request_error(abandoned ? ErrorKind::cancelled : ErrorKind::protocol, url,
                            std::string(abandoned ? "cancelled: " : "internal error: ") + e.what());
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
    // After shutdown() no further attempt starts: the request ends cut short.
    auto cut_short = [&](std::string why) {
      Error error = refused(request.url, why);
      error.attempts = attempts;
      return error;
    };

    if (result && result->status == 401 && request.on_unauthorized && !refreshed) {
      // The resend is a new attempt; shutdown() may also come during the refresh.
      if (draining) co_return cut_short("no resend after 401");
      refreshed = true;  // once: a second 401 means the credentials are wrong, not stale
      if (co_await request.on_unauthorized(request)) {
        if (draining) co_return cut_short("no resend after 401");
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
    // A refused retry, not the last failure, is the request's outcome.
    std::string last =
        "no retry after " + std::string(to_string(failure.kind)) + ": " + failure.message;
    if (draining) co_return cut_short(last);

    KLOG(warning) << obs::label("api", request.api) << obs::label("url", request.url) << "retrying in "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(*delay).count()
                  << "ms: " << failure.what();
    ++stats.retries;
    observer->retry_scheduled(request.api, *delay);
    sleeper.expires_after(*delay);
    auto woke = co_await (sleeper.async_wait(use_tuple) || wait_for_drain());
    if (woke.index() != 0 || draining || stopped) co_return cut_short(last);
  }
}

asio::awaitable<void> HttpClient::Impl::wait_for_stop() {
  // stop() may have run before this wait starts: check the flag first.
  if (stopped) co_return;
  boost::system::error_code ignored;
  co_await stop_signal.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

asio::awaitable<void> HttpClient::Impl::wait_for_drain() {
  // shutdown() may have run before this wait starts: check the flag first.
  if (draining) co_return;
  boost::system::error_code ignored;
  co_await drain_signal.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

asio::awaitable<void> HttpClient::Impl::wait_to_abandon(bool interruptible) {
  if (interruptible) {
    co_await (wait_for_stop() || wait_for_drain());
  } else {
    co_await wait_for_stop();
  }
}

asio::awaitable<Result<Response>> HttpClient::Impl::run(Request request) {
  std::string url = request.url;
  if (stopped || draining) co_return refused(url, "");
  ++stats.requests_started;
  // The request races the stop signal (and the drain signal, when
  // interruptible); the loser is cancelled, which closes its sockets and
  // wakes its timers and queue waits.
  bool interruptible = request.options.interruptible;
  auto outcome = co_await (perform(std::move(request)) || wait_to_abandon(interruptible));
  Result<Response> result =
      outcome.index() == 0 ? std::get<0>(std::move(outcome)) : Result<Response>(refused(url, ""));
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

void HttpClient::Impl::do_shutdown() {
  drain_signal.cancel();
  // No attempt will start again: let the servers free idle connections now.
  for (auto& [origin, pool] : pools) {
    for (auto& connection : pool->idle) {
      asio::co_spawn(executor, Connection::close_gracefully(std::move(connection)), asio::detached);
    }
    pool->idle.clear();
  }
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

void HttpClient::shutdown() {
  if (impl_->draining.exchange(true)) return;
  // Runs at once on the client's thread, else is queued to it.
  asio::dispatch(impl_->executor, [impl = impl_.get()] { impl->do_shutdown(); });
}

bool HttpClient::shutting_down() const { return impl_->draining; }
void HttpClient::set_retry(RetryConfig retry) { impl_->config.retry = retry; }
const Stats& HttpClient::stats() const { return impl_->stats; }
const Config& HttpClient::config() const { return impl_->config; }

}  // namespace kettle::net
