// Verification of service-account JWT assertions (RS256), as Google's token
// endpoint does for the jwt-bearer grant.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fakegcp {

struct JwtClaims {
  std::string issuer;
  std::string scope;
};

struct JwtCheck {
  bool ok = false;
  std::string error;  // why it was refused, when !ok
  JwtClaims claims;
};

class JwtVerifier {
 public:
  // Loads a PEM public key or X.509 certificate; throws std::runtime_error
  // naming the file when it holds neither.
  static std::unique_ptr<JwtVerifier> from_pem_file(const std::string& path);
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // Checks header alg RS256, the signature, and the claims: iss and scope
  // present, aud one of `audiences`, exp in the future and at most an hour
  // after iat, iat not in the future (a minute of skew allowed).
  JwtCheck verify(std::string_view assertion, const std::vector<std::string>& audiences,
                  std::chrono::system_clock::time_point now) const;

 private:
  struct Key;
  explicit JwtVerifier(std::unique_ptr<Key> key);
  bool signature_ok(std::string_view signed_part, std::string_view signature) const;
  std::unique_ptr<Key> key_;
};

}  // namespace fakegcp
