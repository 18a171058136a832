// Google API error bodies, as GCS (and later Pub/Sub, BigQuery) send them:
// {"error":{"code":404,"message":"...","errors":[{"message":"...","domain":"global","reason":"notFound"}]}}
#pragma once

#include <string>
#include <string_view>

#include "http_message.hpp"

namespace fakegcp {

Response api_error(unsigned status, std::string_view message, std::string_view reason);

// The newer Google error shape, with the canonical status name:
// {"error":{"code":404,"message":"...","status":"NOT_FOUND"}} (Pub/Sub), plus
// "errors":[{"message","domain","reason"}] when reason is not empty (BigQuery).
Response google_error(unsigned status, std::string_view message, std::string_view reason = {});

// The canonical status name for an HTTP status ("NOT_FOUND" for 404, ...).
std::string_view status_name(unsigned status);

// The conventional reason for a status ("backendError" for 503, ...).
std::string_view reason_for_status(unsigned status);

// 401 for a missing or dead bearer token, with the WWW-Authenticate challenge.
Response unauthorized_error();

}  // namespace fakegcp
