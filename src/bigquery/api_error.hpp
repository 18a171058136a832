// Errors for answers a BigQuery call did not expect (private to bigquery/).
#pragma once

#include <string>
#include <string_view>

#include "kettle/net/api_error.hpp"
#include "kettle/net/error.hpp"

namespace kettle::bigquery::detail {

// What an error answer says: Google's JSON error (error.errors[0].reason and
// error.message), else the start of the body (e.g. of an HTML page);
// credentials redacted.
struct ServerWords {
  std::string reason;
  std::string message;
};
ServerWords server_words(std::string_view body);

// An answer with an unexpected status: kind http_status, the status, the URL,
// and the server's words.
net::Error status_error(const std::string& url, std::string_view what, int status,
                        std::string_view body);
// A 2xx answer whose body is not what was expected: kind protocol.
using net::malformed_error;

}  // namespace kettle::bigquery::detail
