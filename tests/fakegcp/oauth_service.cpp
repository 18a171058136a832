#include "oauth_service.hpp"

#include <boost/json/value.hpp>

namespace fakegcp {
namespace {

constexpr std::string_view kTokenPath = "/token";
constexpr std::string_view kMetadataPrefix = "/computeMetadata/v1/";
constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";

Response invalid_grant(std::string_view why) {
  return Response::json(
      400, boost::json::object{{"error", "invalid_grant"}, {"error_description", why}});
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
  if (req.method != "POST")
    return Response::json(
        405, boost::json::object{{"error", "invalid_request"}, {"error_description", "use POST"}});
  Params form = parse_params(req.body);
  auto grant = find_param(form, "grant_type");
  if (!grant || *grant != kJwtBearer)
    return Response::json(400, boost::json::object{{"error", "unsupported_grant_type"},
                                                   {"error_description", "Invalid grant_type"}});
  auto assertion = find_param(form, "assertion");
  if (!assertion || assertion->empty()) return invalid_grant("missing assertion");
  if (!verifier_) return invalid_grant("the fake was started without --sa-public-key");
  JwtCheck check = verifier_->verify(*assertion, audiences(req), std::chrono::system_clock::now());
  if (!check.ok) return invalid_grant(check.error);
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
