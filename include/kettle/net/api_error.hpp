// Errors for answers a Google REST API call did not expect, shared by the
// API clients (bigquery/, pubsub/).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "kettle/net/error.hpp"

namespace kettle::net {

// Google's JSON error body: {"error": {"message", "status", "errors": [{"reason"}]}}.
struct GoogleError {
  std::optional<std::string> message;  // error.message, when it is a string
  std::string reason;                  // error.errors[0].reason, else error.status; may be empty
};
// nullopt when `body` is not a JSON object whose "error" is an object.
std::optional<GoogleError> parse_google_error(std::string_view body);

// The start of a body (e.g. of an HTML page) for a log line or an error
// message: at most 200 bytes, line breaks and tabs as spaces, "..." when cut,
// credentials redacted (obs::redact_secrets).
std::string error_excerpt(std::string_view body);

// An answer with an unexpected status: kind http_status, the status, the URL,
// and "<what> answered HTTP <status>", followed by ": <server_words>" when
// those are not empty (redacted and escaped: they may quote the request).
Error status_error(const std::string& url, std::string_view what, int status,
                   std::string_view server_words);
// A 2xx answer whose body is not what was expected: kind protocol.
Error malformed_error(const std::string& url, std::string_view what, std::string_view why);

}  // namespace kettle::net
