#include "jwt.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include "base64url.hpp"

namespace fakegcp {
namespace json = boost::json;

struct JwtVerifier::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

constexpr std::int64_t kMaxLifetimeSeconds = 3600;  // Google refuses longer assertions
constexpr std::int64_t kClockSkewSeconds = 60;

EVP_PKEY* read_pem_key(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return nullptr;
  EVP_PKEY* key = PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  if (!key) {  // not a bare public key: maybe a certificate
    std::rewind(f);
    if (X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr)) {
      key = X509_get_pubkey(cert);
      X509_free(cert);
    }
  }
  std::fclose(f);
  return key;
}

std::optional<json::object> decode_json_part(std::string_view part) {
  auto bytes = base64url_decode(part);
  if (!bytes) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*bytes, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::optional<std::int64_t> number_claim(const json::object& claims, std::string_view key) {
  const json::value* v = claims.if_contains(key);
  if (!v || !v->is_number()) return std::nullopt;
  return static_cast<std::int64_t>(v->to_number<double>());
}

std::string string_claim(const json::object& claims, std::string_view key) {
  const json::value* v = claims.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool audience_ok(const json::value* aud, const std::vector<std::string>& audiences) {
  auto accepted = [&](const json::value& v) {
    return v.is_string() && std::find(audiences.begin(), audiences.end(),
                                      std::string_view(v.as_string())) != audiences.end();
  };
  if (!aud) return false;
  if (aud->is_array()) return std::any_of(aud->as_array().begin(), aud->as_array().end(), accepted);
  return accepted(*aud);
}

JwtCheck refuse(std::string why) {
  JwtCheck c;
  c.error = std::move(why);
  return c;
}

}  // namespace

JwtVerifier::JwtVerifier(std::unique_ptr<Key> key) : key_(std::move(key)) {}
JwtVerifier::~JwtVerifier() = default;

std::unique_ptr<JwtVerifier> JwtVerifier::from_pem_file(const std::string& path) {
  auto key = std::make_unique<Key>();
  key->pkey = read_pem_key(path);
  if (!key->pkey) throw std::runtime_error("no PEM public key or certificate readable in " + path);
  if (EVP_PKEY_base_id(key->pkey) != EVP_PKEY_RSA)
    throw std::runtime_error("the key in " + path + " is not an RSA key (RS256 needs one)");
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(key)));
}

bool JwtVerifier::signature_ok(std::string_view signed_part, std::string_view signature) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key_->pkey) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

JwtCheck JwtVerifier::verify(std::string_view assertion, const std::vector<std::string>& audiences,
                             std::chrono::system_clock::time_point now) const {
  auto dot1 = assertion.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : assertion.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || assertion.find('.', dot2 + 1) != std::string_view::npos)
    return refuse("assertion is not a JWT (header.claims.signature)");

  auto header = decode_json_part(assertion.substr(0, dot1));
  if (!header) return refuse("JWT header is not base64url JSON");
  if (string_claim(*header, "alg") != "RS256") return refuse("JWT alg must be RS256");

  auto claims = decode_json_part(assertion.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!claims) return refuse("JWT claim set is not base64url JSON");

  auto signature = base64url_decode(assertion.substr(dot2 + 1));
  if (!signature) return refuse("JWT signature is not base64url");
  if (!signature_ok(assertion.substr(0, dot2), *signature)) return refuse("Invalid JWT Signature.");

  JwtCheck check;
  check.claims.issuer = string_claim(*claims, "iss");
  check.claims.scope = string_claim(*claims, "scope");
  if (check.claims.issuer.empty()) return refuse("JWT claim iss is missing");
  if (check.claims.scope.empty()) return refuse("JWT claim scope is missing");
  if (!audience_ok(claims->if_contains("aud"), audiences))
    return refuse("Invalid JWT: aud must be this server's token URL");

  auto iat = number_claim(*claims, "iat");
  auto exp = number_claim(*claims, "exp");
  if (!iat || !exp) return refuse("JWT claims iat and exp are required");
  std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (*exp <= now_s) return refuse("Invalid JWT: Token must be a short-lived token and expired");
  if (*iat > now_s + kClockSkewSeconds) return refuse("Invalid JWT: iat is in the future");
  if (*exp <= *iat || *exp - *iat > kMaxLifetimeSeconds)
    return refuse("Invalid JWT: exp must be after iat and at most 3600 s later");
  check.ok = true;
  return check;
}

}  // namespace fakegcp
