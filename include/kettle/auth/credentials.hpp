// Credentials as Google's client libraries have them: something that yields
// the Authorization header of a request, refreshing its token when needed.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "kettle/auth/config.hpp"
#include "kettle/net/error.hpp"
#include "kettle/net/message.hpp"

namespace kettle::auth {

// A credentials source that cannot be used as configured (unreadable or
// invalid key file, bad PEM): the message names the file or variable.
struct SetupError {
  std::string message;
};

class SetupException : public std::runtime_error {
 public:
  explicit SetupException(const SetupError& error) : std::runtime_error(error.message) {}
};

// Found by boost::system::result through argument-dependent lookup.
[[noreturn]] void throw_exception_from_error(const SetupError& error,
                                             const boost::source_location& loc);

template <class T>
using SetupResult = boost::system::result<T, SetupError>;

// Used from one io_context thread, like net::HttpClient. Held by shared_ptr:
// requests' 401 hooks keep it alive.
class Credentials {
 public:
  virtual ~Credentials() = default;

  // The Authorization header value ("Bearer ..."), or nullopt for anonymous
  // access; an Error when no token could be had.
  virtual boost::asio::awaitable<net::Result<std::optional<std::string>>> authorization() = 0;
  // Drops the cached token so the next authorization() fetches a new one
  // (the server answered 401 to it).
  virtual void invalidate() = 0;
  // What the credentials are and where they come from, for logs and error
  // hints, e.g. "service account x@y from /k.json (GOOGLE_APPLICATION_CREDENTIALS)"
  // or "anonymous"; never contains a secret.
  virtual std::string description() const = 0;
};

std::shared_ptr<Credentials> make_anonymous_credentials();

// Sets the request's Authorization header from `credentials` (none when
// anonymous) and installs an on_unauthorized hook that, on a 401, replaces
// the token that was refused with a fresh one and has the request resent
// once. An Error when no token could be had.
boost::asio::awaitable<net::Result<void>> apply_credentials(
    std::shared_ptr<Credentials> credentials, net::Request& request);

}  // namespace kettle::auth
