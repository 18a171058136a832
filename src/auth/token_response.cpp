#include "kettle/auth/token_response.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "json_fields.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::auth {

namespace json = boost::json;

namespace {

constexpr std::size_t kExcerptLimit = 200;  // bytes of an unexpected body quoted in an error

net::Error token_error(net::ErrorKind kind, int status, const std::string& url,
                       std::string message) {
  return net::Error{
      .kind = kind, .status = status, .url = url, .message = std::move(message), .attempts = 0};
}

// A printable, one-line start of a body (an HTML error page, say). Redacted
// whole before it is cut, so a cut cannot hide a secret's shape.
std::string excerpt(std::string_view body) {
  std::string redacted = obs::redact_secrets(body);
  std::string out = redacted.substr(0, kExcerptLimit);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  if (redacted.size() > kExcerptLimit) out += "...";
  return out;
}

std::optional<json::object> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

// The field's text; empty when absent.
std::string string_field(const json::object& object, std::string_view key) {
  return detail::string_field(object, key).value_or("");
}

// The server's own words about a refusal: OAuth's error/error_description,
// or a Google API error's message, else the start of the body. Redacted: a
// hostile or broken endpoint may echo the assertion or the refresh token.
std::string refusal_reason(std::string_view body) {
  auto object = parse_object(body);
  if (!object) return body.empty() ? std::string("empty body") : excerpt(body);
  std::string reason = string_field(*object, "error");
  if (const json::value* e = object->if_contains("error"); e && e->is_object())
    reason = string_field(e->as_object(), "message");
  std::string detail = string_field(*object, "error_description");
  if (!detail.empty()) reason += reason.empty() ? detail : ": " + detail;
  return reason.empty() ? excerpt(body) : obs::printable(obs::redact_secrets(reason));
}

// expires_in as whole seconds; nullopt when absent or not a positive number.
std::optional<std::chrono::seconds> lifetime_of(const json::object& object) {
  const json::value* v = object.if_contains("expires_in");
  if (!v) return std::nullopt;
  double seconds = 0;
  if (v->is_number())
    seconds = v->to_number<double>();
  else if (v->is_string())  // some servers send it quoted
    seconds = std::strtod(std::string(v->as_string()).c_str(), nullptr);
  if (!std::isfinite(seconds) || seconds < 1 || seconds > 1e9) return std::nullopt;
  return std::chrono::seconds(static_cast<std::int64_t>(seconds));
}

}  // namespace

net::Result<AccessToken> parse_token_response(const net::Response& response, const std::string& url,
                                              std::chrono::system_clock::time_point now,
                                              std::chrono::seconds default_lifetime) {
  if (response.status != 200)
    return token_error(net::ErrorKind::http_status, response.status, url,
                       "token request refused: " + refusal_reason(response.body));
  auto object = parse_object(response.body);
  // Not quoted: a 200 body in another format may well hold a token.
  if (!object)
    return token_error(net::ErrorKind::protocol, 0, url,
                       "token answer is not a JSON object (" +
                           std::to_string(response.body.size()) + " bytes, Content-Type " +
                           std::string(response.headers.get("Content-Type").value_or("none")) +
                           ")");
  std::string token = string_field(*object, "access_token");
  if (token.empty())
    return token_error(net::ErrorKind::protocol, 0, url, "token answer has no access_token");
  // A token with CR/LF would make an invalid header (the client refuses it anyway).
  if (token.find_first_of("\r\n") != std::string::npos)
    return token_error(net::ErrorKind::protocol, 0, url,
                       "token answer has a malformed access_token");
  return AccessToken{.value = std::move(token),
                     .obtained = now,
                     .lifetime = lifetime_of(*object).value_or(default_lifetime)};
}

net::RetryConfig token_retry(const net::RetryConfig& client_policy, int max_attempts) {
  net::RetryConfig retry = client_policy;
  retry.max_attempts = std::min(retry.max_attempts, max_attempts);
  return retry;
}

}  // namespace kettle::auth
