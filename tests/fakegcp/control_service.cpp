#include "control_service.hpp"

#include <boost/json/value.hpp>

#include "api_error.hpp"

namespace fakegcp {
namespace {

Response ok() { return Response::json(200, boost::json::object{{"ok", true}}); }

}  // namespace

std::optional<std::string_view> ControlService::classify(const Request& req) const {
  if (req.path().starts_with("/_fake/")) return "control";
  return std::nullopt;
}

Response ControlService::handle(const Request& req) {
  std::string_view path = req.path();
  bool get = req.method == "GET", post = req.method == "POST";
  if (path == "/_fake/stats" && get) return Response::json(200, ctx_.stats.to_json());
  if (path == "/_fake/reset-stats" && post) {
    ctx_.stats.reset();
    return ok();
  }
  if (path == "/_fake/revoke-tokens" && post) {
    ctx_.tokens.revoke_all();
    return ok();
  }
  if (path == "/_fake/faults" && get) return Response::json(200, ctx_.faults.to_json());
  if (path == "/_fake/faults" && post) {
    std::string error;
    auto rules = parse_fault_rules(req.body, error);
    if (!rules) return api_error(400, error, "invalid");
    ctx_.faults.replace(std::move(*rules));
    return Response::json(200, ctx_.faults.to_json());
  }
  if (path == "/_fake/healthz" && get) return Response::text(200, "ok\n");
  return api_error(404,
                   "no such control endpoint: " + std::string(req.method) + " " + std::string(path),
                   "notFound");
}

}  // namespace fakegcp
