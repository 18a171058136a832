// Errors for answers a Pub/Sub call did not expect (private to pubsub/).
#pragma once

#include <string>
#include <string_view>

#include "kettle/net/api_error.hpp"
#include "kettle/net/error.hpp"

namespace kettle::pubsub::detail {

// An answer with an unexpected status: kind http_status, the status, the URL,
// and what the server said (Google's error.message when the body is its JSON
// error, else the start of the body, e.g. of an HTML page).
net::Error status_error(const std::string& url, std::string_view what, int status,
                        std::string_view body);
// A 2xx answer whose body is not what was expected: kind protocol.
using net::malformed_error;

}  // namespace kettle::pubsub::detail
