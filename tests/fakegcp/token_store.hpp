// Access tokens the fake has issued, with their expiry. Clients must refresh
// once a token expires or is revoked, exactly as against Google.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace fakegcp {

class TokenStore {
 public:
  using Clock = std::chrono::steady_clock;

  explicit TokenStore(std::chrono::seconds ttl) : ttl_(ttl) {}

  struct Issued {
    std::string access_token;
    std::chrono::seconds expires_in;
  };
  Issued issue();
  bool valid(std::string_view token) const;
  // True when an Authorization header value is "Bearer <live token>".
  bool authorizes(std::string_view authorization) const;
  void revoke_all();

 private:
  void drop_expired(Clock::time_point now);  // keeps memory bounded under long benchmarks

  std::chrono::seconds ttl_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Clock::time_point> expiry_;
};

}  // namespace fakegcp
