// RS256 JSON Web Tokens: the assertion a service account trades for an
// access token (RFC 7523 JWT bearer grant).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace kettle::auth {

// Base64url (RFC 4648 §5) without '=' padding, as JWTs use.
std::string base64url_encode(std::string_view bytes);

// An RSA private key signing with RS256 (RSASSA-PKCS1-v1_5 over SHA-256).
// Copies share the key.
class RsaSigner {
 public:
  RsaSigner() = default;  // empty: sign() fails
  // nullopt when `pem` holds no readable RSA private key.
  static std::optional<RsaSigner> from_pem(std::string_view pem);

  // The signature bytes; nullopt when empty or OpenSSL fails.
  std::optional<std::string> sign(std::string_view data) const;
  explicit operator bool() const { return key_ != nullptr; }

 private:
  explicit RsaSigner(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}
  std::shared_ptr<evp_pkey_st> key_;
};

struct JwtClaims {
  std::string issuer;                               // iss: the service account's client_email
  std::string scope;                                // scope: space-separated OAuth scopes
  std::string audience;                             // aud: the token endpoint URL
  std::chrono::system_clock::time_point issued_at;  // iat
  std::chrono::seconds lifetime{3600};              // exp = iat + lifetime
};

// header.claims.signature, each part base64url: header
// {"alg":"RS256","typ":"JWT","kid":key_id} (kid left out when empty).
// nullopt when signing fails.
std::optional<std::string> make_jwt_assertion(const RsaSigner& signer, std::string_view key_id,
                                              const JwtClaims& claims);

}  // namespace kettle::auth
