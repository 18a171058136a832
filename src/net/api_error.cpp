#include "kettle/net/api_error.hpp"

#include <boost/json.hpp>

#include "kettle/obs/log.hpp"

namespace kettle::net {
namespace json = boost::json;

namespace {

// Enough of a body to recognise it in a log line without flooding it.
constexpr std::size_t kExcerptBytes = 200;

std::string string_member(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

}  // namespace

std::optional<GoogleError> parse_google_error(std::string_view body) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  const auto* root = ec ? nullptr : doc.if_object();
  const auto* error_value = root ? root->if_contains("error") : nullptr;
  const auto* error = error_value ? error_value->if_object() : nullptr;
  if (!error) return std::nullopt;
  GoogleError words;
  if (const auto* message = error->if_contains("message"); message && message->is_string()) {
    words.message = std::string(message->get_string());
  }
  if (const auto* list = error->if_contains("errors"); list && list->is_array()) {
    const auto& array = list->get_array();
    if (!array.empty() && array[0].is_object()) {
      words.reason = string_member(array[0].get_object(), "reason");
    }
  }
  if (words.reason.empty()) words.reason = string_member(*error, "status");
  return words;
}

std::string error_excerpt(std::string_view body) {
  // Redacted whole before the cut, which could otherwise hide a secret's shape.
  std::string redacted = obs::redact_secrets(body);
  std::string text = redacted.substr(0, kExcerptBytes);
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (redacted.size() > kExcerptBytes) text += "...";
  return text;
}

Error status_error(const std::string& url, std::string_view what, int status,
                   std::string_view server_words) {
  Error e;
  e.kind = ErrorKind::http_status;
  e.status = status;
  e.url = url;
  e.message = std::string(what) + " answered HTTP " + std::to_string(status);
  // The words may be Google's error.message, which can quote the request.
  if (!server_words.empty()) e.message += ": " + obs::printable(obs::redact_secrets(server_words));
  return e;
}

Error malformed_error(const std::string& url, std::string_view what, std::string_view why) {
  Error e;
  e.kind = ErrorKind::protocol;
  e.url = url;
  e.message = std::string(what) + ": " + std::string(why);
  return e;
}

}  // namespace kettle::net
