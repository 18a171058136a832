// Typed failures of an HTTP request and the result type every net call returns.
#pragma once

#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kettle::net {

// What went wrong; decides whether a retry can help (see retry.hpp).
enum class ErrorKind {
  invalid_request,  // bad URL or header (CR/LF); not retried
  connect,          // DNS resolution or TCP connect failed
  tls,              // TLS handshake or certificate verification failed (not retried)
  timeout,          // a phase deadline or the attempt deadline passed
  reset,            // the peer closed or reset the connection before a response
  protocol,         // malformed or truncated response, bad Content-Length, bad gzip
  too_large,        // body or header over its limit (not retried)
  http_status,      // retryable status (408, 429, 5xx) still failing after retries
  cancelled,        // the client was stopped
};

std::string_view to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::protocol;
  int status = 0;         // HTTP status for http_status, else 0
  std::string url{};      // the request's URL
  std::string message{};  // what happened, in words (phase, deadline, server text)
  int attempts = 0;       // attempts made before giving up (0: none started)

  // One line naming the kind, the URL and the message, for logs and users.
  std::string what() const;
};

template <class T>
using Result = boost::system::result<T, Error>;

// Thrown by Result<T>::value() when it holds an Error.
class RequestError : public std::runtime_error {
 public:
  explicit RequestError(Error error);
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

// Found by boost::system::result through argument-dependent lookup.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

}  // namespace kettle::net
