#include "api_error.hpp"

namespace kettle::pubsub::detail {

net::Error status_error(const std::string& url, std::string_view what, int status,
                        std::string_view body) {
  // Google's error.message when the body is its JSON error, else the start of the body.
  auto error = net::parse_google_error(body);
  std::string words =
      error && error->message ? std::move(*error->message) : net::error_excerpt(body);
  return net::status_error(url, what, status, words);
}

}  // namespace kettle::pubsub::detail
