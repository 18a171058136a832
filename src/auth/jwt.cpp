#include "kettle/auth/jwt.hpp"
#include "kettle/net/base64.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <climits>

namespace kettle::auth {

namespace json = boost::json;

namespace {

// Without a callback OpenSSL would prompt on the terminal for an encrypted
// key's passphrase; key files are never encrypted, so refuse instead.
int no_passphrase(char*, int, int, void*) { return 0; }

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string encoded_json(const json::object& object) {
  return base64url_encode(json::serialize(object));
}

}  // namespace

std::string base64url_encode(std::string_view bytes) { return net::base64_encode(bytes, net::Base64::url_unpadded); }

std::optional<RsaSigner> RsaSigner::from_pem(std::string_view pem) {
  if (pem.empty() || pem.size() > INT_MAX) return std::nullopt;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return std::nullopt;
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr);
  BIO_free(bio);
  ERR_clear_error();  // a failed parse must not leave errors for later TLS calls to trip on
  if (!key) return std::nullopt;
  if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {  // RS256 needs RSA
    EVP_PKEY_free(key);
    return std::nullopt;
  }
  return RsaSigner(std::shared_ptr<evp_pkey_st>(key, EVP_PKEY_free));
}

std::optional<std::string> RsaSigner::sign(std::string_view data) const {
  if (!key_) return std::nullopt;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return std::nullopt;
  auto input = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t length = 0;
  std::string signature;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &length, input, data.size()) == 1;  // the size first
  if (ok) {
    signature.resize(length);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length, input,
                        data.size()) == 1;
    signature.resize(length);
  }
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  if (!ok) return std::nullopt;
  return signature;
}

std::optional<std::string> make_jwt_assertion(const RsaSigner& signer, std::string_view key_id,
                                              const JwtClaims& claims) {
  json::object header{{"alg", "RS256"}, {"typ", "JWT"}};
  if (!key_id.empty()) header["kid"] = key_id;
  std::int64_t iat = unix_seconds(claims.issued_at);
  json::object body{{"iss", claims.issuer},
                    {"scope", claims.scope},
                    {"aud", claims.audience},
                    {"iat", iat},
                    {"exp", iat + claims.lifetime.count()}};
  std::string signed_part = encoded_json(header) + "." + encoded_json(body);
  auto signature = signer.sign(signed_part);
  if (!signature) return std::nullopt;
  return signed_part + "." + base64url_encode(*signature);
}

}  // namespace kettle::auth
