#include "api_error.hpp"

#include <boost/json/value.hpp>

namespace fakegcp {

Response api_error(unsigned status, std::string_view message, std::string_view reason) {
  boost::json::object detail{{"message", message}, {"domain", "global"}, {"reason", reason}};
  boost::json::object error{
      {"code", status}, {"message", message}, {"errors", boost::json::array{std::move(detail)}}};
  return Response::json(status, boost::json::object{{"error", std::move(error)}});
}

Response google_error(unsigned status, std::string_view message, std::string_view reason) {
  boost::json::object error{{"code", status}, {"message", message}};
  if (!reason.empty()) {
    boost::json::object detail{{"message", message}, {"domain", "global"}, {"reason", reason}};
    error["errors"] = boost::json::array{std::move(detail)};
  }
  error["status"] = status_name(status);
  return Response::json(status, boost::json::object{{"error", std::move(error)}});
}

std::string_view status_name(unsigned status) {
  switch (status) {
    case 400:
    case 413:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ALREADY_EXISTS";
    case 412:
      return "FAILED_PRECONDITION";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 501:
      return "UNIMPLEMENTED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
  }
}

std::string_view reason_for_status(unsigned status) {
  switch (status) {
    case 400:
      return "invalid";
    case 401:
      return "required";
    case 403:
      return "forbidden";
    case 404:
      return "notFound";
    case 408:
      return "requestTimeout";
    case 409:
      return "conflict";
    case 412:
      return "conditionNotMet";
    case 429:
      return "rateLimitExceeded";
    case 500:
      return "internalError";
    case 502:
      return "badGateway";
    case 503:
      return "backendError";
    case 504:
      return "gatewayTimeout";
    default:
      return status >= 500 ? "backendError" : "invalid";
  }
}

Response unauthorized_error() {
  Response r = api_error(
      401, "Anonymous caller does not have storage access (missing or expired token).", "required");
  r.set_header("WWW-Authenticate", "Bearer realm=\"https://accounts.google.com/\"");
  return r;
}

}  // namespace fakegcp
