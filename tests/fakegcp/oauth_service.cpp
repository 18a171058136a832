#include "oauth_service.hpp"

#include <boost/json/value.hpp>

namespace fakegcp {
namespace {

constexpr std::string_view kTokenPath = "/token";
constexpr std::string_view kMetadataPrefix = "/computeMetadata/v1/";
constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr std::string_view kRefreshToken = "refresh_token";

Response oauth_error(unsigned status, std::string_view error, std::string_view why) {
  return Response::json(status, boost::json::object{{"error", error}, {"error_description", why}});
}

Response invalid_grant(std::string_view why) { return oauth_error(400, "invalid_grant", why); }

// A configured value must match; an unconfigured one matches anything sent.
bool matches(const std::string& configured, const std::string& sent) {
  return configured.empty() || sent == configured;
}

Response metadata_text(unsigned status, std::string body) {
  Response r = Response::text(status, std::move(body), "application/text");
  r.set_header("Metadata-Flavor", "Google");
  return r;
}

}  // namespace

OAuthService::OAuthService(ServiceContext& ctx) : ctx_(ctx) {
  if (!ctx.config.sa_public_key.empty())
    verifier_ = JwtVerifier::from_pem_file(ctx.config.sa_public_key);
}

std::optional<std::string_view> OAuthService::classify(const Request& req) const {
  std::string_view path = req.path();
  if (path == kTokenPath) return "oauth.token";
  if (path.starts_with("/computeMetadata/")) return "metadata";
  return std::nullopt;
}

Response OAuthService::handle(const Request& req) {
  if (req.path() == kTokenPath) return token_grant(req);
  return metadata(req);
}

Response OAuthService::token_json() {
  auto issued = ctx_.tokens.issue();
  return Response::json(200, boost::json::object{{"access_token", issued.access_token},
                                                 {"expires_in", issued.expires_in.count()},
                                                 {"token_type", "Bearer"}});
}

std::vector<std::string> OAuthService::audiences(const Request& req) const {
  std::vector<std::string> out{ctx_.base_url + std::string(kTokenPath)};
  std::string_view host = req.header("host");
  if (!host.empty()) {
    std::string scheme = ctx_.base_url.substr(0, ctx_.base_url.find("://"));
    out.push_back(scheme + "://" + std::string(host) + std::string(kTokenPath));
  }
  return out;
}

Response OAuthService::token_grant(const Request& req) {
  if (req.method != "POST") return oauth_error(405, "invalid_request", "use POST");
  Params form = parse_params(req.body);
  auto grant = find_param(form, "grant_type");
  if (grant == kJwtBearer) return jwt_grant(req, form);
  if (grant == kRefreshToken) return refresh_grant(form);
  return oauth_error(400, "unsupported_grant_type", "Invalid grant_type");
}

Response OAuthService::jwt_grant(const Request& req, const Params& form) {
  auto assertion = find_param(form, "assertion");
  if (!assertion || assertion->empty()) return invalid_grant("missing assertion");
  if (!verifier_) return invalid_grant("the fake was started without --sa-public-key");
  JwtCheck check = verifier_->verify(*assertion, audiences(req), std::chrono::system_clock::now());
  if (!check.ok) return invalid_grant(check.error);
  return token_json();
}

// Google's answers, in Google's order: the client is checked before the
// refresh token. Nothing sent is echoed back (those are secrets).
Response OAuthService::refresh_grant(const Params& form) {
  struct Sent {
    std::string_view name;
    std::string value;
  };
  Sent client_id{"client_id", find_param(form, "client_id").value_or("")};
  Sent client_secret{"client_secret", find_param(form, "client_secret").value_or("")};
  Sent refresh_token{"refresh_token", find_param(form, "refresh_token").value_or("")};
  for (const Sent* sent : {&client_id, &client_secret, &refresh_token})
    if (sent->value.empty())
      return oauth_error(400, "invalid_request",
                         "Missing required parameter: " + std::string(sent->name));
  const ServerConfig& config = ctx_.config;
  if (!matches(config.oauth_client_id, client_id.value))
    return oauth_error(401, "invalid_client", "The OAuth client was not found.");
  if (!matches(config.oauth_client_secret, client_secret.value))
    return oauth_error(401, "invalid_client", "Unauthorized");
  if (!matches(config.refresh_token, refresh_token.value))
    return invalid_grant("Token has been expired or revoked.");
  return token_json();
}

Response OAuthService::metadata(const Request& req) {
  // Real metadata servers refuse requests without the header (SSRF guard).
  if (req.header("metadata-flavor") != "Google")
    return metadata_text(403, "Missing required header: Metadata-Flavor\n");
  if (req.method != "GET") return metadata_text(405, "Method not allowed\n");
  std::string_view path = req.path();
  if (!path.starts_with(kMetadataPrefix)) return metadata_text(404, "Not found\n");
  std::string_view rest = path.substr(kMetadataPrefix.size());
  if (rest.empty()) return metadata_text(200, "instance/\nproject/\n");
  if (rest == "instance/service-accounts/default/token") {
    Response r = token_json();
    r.set_header("Metadata-Flavor", "Google");
    return r;
  }
  if (rest == "instance/service-accounts/default/email")
    return metadata_text(200, "fake-sa@" + ctx_.config.project_id + ".iam.gserviceaccount.com");
  if (rest == "project/project-id") return metadata_text(200, ctx_.config.project_id);
  return metadata_text(404, "Not found\n");
}

}  // namespace fakegcp
