#include "api_error.hpp"

#include "kettle/obs/log.hpp"

namespace kettle::bigquery::detail {

ServerWords server_words(std::string_view body) {
  auto error = net::parse_google_error(body);
  if (!error) return ServerWords{{}, net::error_excerpt(body)};
  // Redacted here because the message also reaches row outcomes and log lines,
  // not only status_error.
  return ServerWords{obs::redact_secrets(error->reason),
                     obs::redact_secrets(error->message.value_or(std::string()))};
}

net::Error status_error(const std::string& url, std::string_view what, int status,
                        std::string_view body) {
  return net::status_error(url, what, status, server_words(body).message);
}

}  // namespace kettle::bigquery::detail
