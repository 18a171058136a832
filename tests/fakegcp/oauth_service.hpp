// OAuth2 token endpoint (jwt-bearer and refresh_token grants) and the GCE
// metadata server.
#pragma once

#include <memory>

#include "jwt.hpp"
#include "service.hpp"

namespace fakegcp {

class OAuthService : public Service {
 public:
  // Loads --sa-public-key when set (throws naming the file when unreadable).
  explicit OAuthService(ServiceContext& ctx);
  std::optional<std::string_view> classify(const Request& req) const override;
  Response handle(const Request& req) override;

 private:
  Response token_grant(const Request& req);
  Response jwt_grant(const Request& req, const Params& form);
  Response refresh_grant(const Params& form);
  Response metadata(const Request& req);
  Response token_json();
  // Token URLs an assertion may name as aud: ours by bound address and by Host header.
  std::vector<std::string> audiences(const Request& req) const;

  ServiceContext& ctx_;
  std::unique_ptr<JwtVerifier> verifier_;
};

}  // namespace fakegcp
