#include "kettle/net/error.hpp"

#include <boost/throw_exception.hpp>

namespace kettle::net {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_request:
      return "invalid request";
    case ErrorKind::connect:
      return "connect";
    case ErrorKind::tls:
      return "TLS";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::reset:
      return "connection reset";
    case ErrorKind::protocol:
      return "protocol";
    case ErrorKind::too_large:
      return "too large";
    case ErrorKind::http_status:
      return "HTTP status";
    case ErrorKind::cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::string Error::what() const {
  std::string out = "HTTP request to ";
  out += url.empty() ? std::string("(no URL)") : url;
  out += " failed (";
  out += to_string(kind);
  if (status != 0) out += " " + std::to_string(status);
  out += ")";
  if (attempts > 1) out += " after " + std::to_string(attempts) + " attempts";
  if (!message.empty()) out += ": " + message;
  return out;
}

RequestError::RequestError(Error error)
    : std::runtime_error(error.what()), error_(std::move(error)) {}

void throw_exception_from_error(const Error& error, const boost::source_location& loc) {
  boost::throw_exception(RequestError(error), loc);
}

}  // namespace kettle::net
