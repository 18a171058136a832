// An OAuth access token cached until shortly before it expires; concurrent
// callers share one refresh.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "kettle/auth/config.hpp"
#include "kettle/auth/credentials.hpp"

namespace kettle::auth {

struct AccessToken {
  std::string value;                               // the bearer token: never log it
  std::chrono::system_clock::time_point obtained;  // when the answer arrived
  std::chrono::seconds lifetime{0};                // expires_in of the answer

  std::chrono::system_clock::time_point expiry() const { return obtained + lifetime; }
};

// When to fetch a new token: `margin` before expiry, or halfway through the
// lifetime when that comes first (short-lived tokens).
std::chrono::system_clock::time_point refresh_time(const AccessToken& token,
                                                   std::chrono::seconds margin);

// Gets a new access token from somewhere (token endpoint, metadata server).
class TokenFetcher {
 public:
  virtual ~TokenFetcher() = default;
  virtual boost::asio::awaitable<net::Result<AccessToken>> fetch() = 0;
  virtual std::string description() const = 0;  // for logs; no secrets
};

// Credentials over a TokenFetcher: the token is reused until its refresh
// time; one fetch at a time, the callers arriving meanwhile wait for it.
// If a refresh fails while the old token has not expired, the old one is kept.
class CachedCredentials final : public Credentials {
 public:
  CachedCredentials(std::unique_ptr<TokenFetcher> fetcher, Config config);
  ~CachedCredentials() override;

  boost::asio::awaitable<net::Result<std::optional<std::string>>> authorization() override;
  void invalidate() override;
  std::string description() const override;

 private:
  struct Refresh;
  boost::asio::awaitable<net::Result<AccessToken>> refresh();
  boost::asio::awaitable<net::Result<AccessToken>> join(std::shared_ptr<Refresh> refresh);
  void settle(Refresh& refresh, net::Result<AccessToken> outcome);

  std::unique_ptr<TokenFetcher> fetcher_;
  Config config_;
  std::optional<AccessToken> token_;
  std::shared_ptr<Refresh> refreshing_;  // set while a fetch is under way
};

}  // namespace kettle::auth
