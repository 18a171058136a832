#include "token_store.hpp"

#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "base64url.hpp"

namespace fakegcp {
namespace {

std::string random_token() {
  std::array<unsigned char, 24> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  // "ya29." is the prefix of real Google access tokens; clients never parse it.
  return "ya29.fake-" + base64url_encode(std::string_view(
                            reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace

TokenStore::Issued TokenStore::issue() {
  auto now = Clock::now();
  std::string token = random_token();
  std::lock_guard lock(mutex_);
  drop_expired(now);
  expiry_[token] = now + ttl_;
  return {std::move(token), ttl_};
}

bool TokenStore::valid(std::string_view token) const {
  auto now = Clock::now();
  std::lock_guard lock(mutex_);
  auto it = expiry_.find(std::string(token));
  return it != expiry_.end() && now < it->second;
}

bool TokenStore::authorizes(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  std::string_view scheme = authorization.substr(0, kScheme.size());
  for (std::size_t i = 0; i < kScheme.size(); ++i)  // the scheme is case-insensitive
    if (std::tolower(static_cast<unsigned char>(scheme[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i])))
      return false;
  return valid(authorization.substr(kScheme.size()));
}

void TokenStore::revoke_all() {
  std::lock_guard lock(mutex_);
  expiry_.clear();
}

void TokenStore::drop_expired(Clock::time_point now) {
  for (auto it = expiry_.begin(); it != expiry_.end();) {
    if (it->second <= now)
      it = expiry_.erase(it);
    else
      ++it;
  }
}

}  // namespace fakegcp
