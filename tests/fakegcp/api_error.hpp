// Google API error bodies, as GCS (and later Pub/Sub, BigQuery) send them:
// {"error":{"code":404,"message":"...","errors":[{"message":"...","domain":"global","reason":"notFound"}]}}
#pragma once

#include <string>
#include <string_view>

#include "http_message.hpp"

namespace fakegcp {

Response api_error(unsigned status, std::string_view message, std::string_view reason);

// The conventional reason for a status ("backendError" for 503, ...).
std::string_view reason_for_status(unsigned status);

// 401 for a missing or dead bearer token, with the WWW-Authenticate challenge.
Response unauthorized_error();

}  // namespace fakegcp
