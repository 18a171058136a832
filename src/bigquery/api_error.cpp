#include "api_error.hpp"

namespace kettle::bigquery::detail {

ServerWords server_words(std::string_view body) {
  auto error = net::parse_google_error(body);
  if (!error) return ServerWords{{}, net::error_excerpt(body)};
  return ServerWords{std::move(error->reason), error->message.value_or(std::string())};
}

net::Error status_error(const std::string& url, std::string_view what, int status,
                        std::string_view body) {
  return net::status_error(url, what, status, server_words(body).message);
}

}  // namespace kettle::bigquery::detail
