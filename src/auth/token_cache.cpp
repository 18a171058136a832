#include "kettle/auth/token_cache.hpp"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

#include "kettle/obs/log.hpp"

namespace kettle::auth {

namespace asio = boost::asio;

namespace {

std::string bearer(const AccessToken& token) { return "Bearer " + token.value; }

net::Error fetch_error(net::ErrorKind kind, std::string message) {
  return net::Error{
      .kind = kind, .status = 0, .url = "", .message = std::move(message), .attempts = 0};
}

// Runs `action` when it goes out of scope, e.g. when a coroutine frame is destroyed mid-suspension.
template <class F>
class ScopeExit {
 public:
  explicit ScopeExit(F action) : action_(std::move(action)) {}
  ~ScopeExit() { action_(); }
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;

 private:
  F action_;
};

}  // namespace

std::chrono::system_clock::time_point refresh_time(const AccessToken& token,
                                                   std::chrono::seconds margin) {
  return token.expiry() - std::min(margin, token.lifetime / 2);
}

// One fetch in progress: its outcome, and a timer that never fires on its
// own but is cancelled to wake the callers waiting for that outcome.
struct CachedCredentials::Refresh {
  explicit Refresh(asio::any_io_executor executor)
      : done(std::move(executor), asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;
  std::optional<net::Result<AccessToken>> outcome;
};

CachedCredentials::CachedCredentials(std::unique_ptr<TokenFetcher> fetcher, Config config)
    : fetcher_(std::move(fetcher)), config_(std::move(config)) {}

CachedCredentials::~CachedCredentials() = default;

std::string CachedCredentials::description() const { return fetcher_->description(); }

void CachedCredentials::invalidate() { token_.reset(); }

asio::awaitable<net::Result<std::optional<std::string>>> CachedCredentials::authorization() {
  if (token_ && now(config_) < refresh_time(*token_, config_.refresh_margin))
    co_return std::optional<std::string>(bearer(*token_));

  // Not a ?: of two co_awaits: g++ 12 miscompiles that.
  net::Result<AccessToken> fresh = fetch_error(net::ErrorKind::protocol, "no token fetch ran");
  if (refreshing_)
    fresh = co_await join(refreshing_);
  else
    fresh = co_await refresh();
  if (fresh) co_return std::optional<std::string>(bearer(*fresh));

  // An early refresh failed but the old token still works: use it rather than
  // fail the request; the next call tries to refresh again.
  if (token_ && now(config_) < token_->expiry()) {
    KLOG(warning) << "auth: token refresh failed, using the current token until it expires: "
                  << fresh.error().what();
    co_return std::optional<std::string>(bearer(*token_));
  }
  co_return fresh.error();
}

asio::awaitable<net::Result<AccessToken>> CachedCredentials::refresh() {
  auto state = std::make_shared<Refresh>(co_await asio::this_coro::executor);
  refreshing_ = state;
  // Waiters must wake even if this coroutine is destroyed before the fetch ends.
  ScopeExit abandon([this, state] {
    if (!state->outcome)
      settle(*state, fetch_error(net::ErrorKind::cancelled, "token refresh abandoned"));
  });

  net::Result<AccessToken> outcome =
      fetch_error(net::ErrorKind::protocol, "token fetch did not run");
  try {
    outcome = co_await fetcher_->fetch();
  } catch (const std::exception& e) {  // a fetcher bug must not leave waiters hanging
    outcome = fetch_error(net::ErrorKind::protocol, std::string("token fetch failed: ") + e.what());
  }
  if (outcome) {
    token_ = *outcome;
    KLOG(debug) << "auth: new access token from " << fetcher_->description() << ", valid for "
                << outcome->lifetime.count() << " s";
  }
  settle(*state, outcome);
  co_return outcome;
}

asio::awaitable<net::Result<AccessToken>> CachedCredentials::join(
    std::shared_ptr<Refresh> refresh) {
  if (!refresh->outcome) {
    boost::system::error_code woken;  // operation_aborted: settled, or this wait was cancelled
    co_await refresh->done.async_wait(asio::redirect_error(asio::use_awaitable, woken));
  }
  if (!refresh->outcome)
    co_return fetch_error(net::ErrorKind::cancelled, "wait for a token refresh cancelled");
  co_return *refresh->outcome;
}

void CachedCredentials::settle(Refresh& refresh, net::Result<AccessToken> outcome) {
  refresh.outcome = std::move(outcome);
  refresh.done.cancel();
  if (refreshing_.get() == &refresh) refreshing_.reset();
}

}  // namespace kettle::auth
