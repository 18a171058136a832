#include "kettle/auth/credentials.hpp"

#include <boost/throw_exception.hpp>

#include "kettle/obs/log.hpp"

namespace kettle::auth {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kAuthorization = "Authorization";

class AnonymousCredentials final : public Credentials {
 public:
  asio::awaitable<net::Result<std::optional<std::string>>> authorization() override {
    co_return std::optional<std::string>();
  }
  void invalidate() override {}
  std::string description() const override { return "anonymous"; }
};

// A free coroutine, not a lambda body: its frame owns copies of the
// arguments, so it does not depend on the hook object staying alive.
asio::awaitable<bool> replace_refused_token(std::shared_ptr<Credentials> credentials,
                                            std::string refused, net::Request& request) {
  // Another request may have refreshed the token since this one was sent.
  auto current = co_await credentials->authorization();
  if (!current || !*current || **current == refused) {
    credentials->invalidate();
    current = co_await credentials->authorization();
  }
  if (!current) {
    KLOG(warning) << "auth: could not refresh the token refused with 401 ("
                  << credentials->description() << "): " << current.error().what();
    co_return false;
  }
  if (!*current || **current == refused) co_return false;
  request.headers.set(kAuthorization, **current);
  co_return true;
}

}  // namespace

std::chrono::system_clock::time_point now(const Config& config) {
  return config.clock ? config.clock() : std::chrono::system_clock::now();
}

void throw_exception_from_error(const SetupError& error, const boost::source_location& loc) {
  boost::throw_exception(SetupException(error), loc);
}

std::shared_ptr<Credentials> make_anonymous_credentials() {
  return std::make_shared<AnonymousCredentials>();
}

asio::awaitable<net::Result<void>> apply_credentials(std::shared_ptr<Credentials> credentials,
                                                     net::Request& request) {
  auto header = co_await credentials->authorization();
  if (!header) co_return header.error();
  if (!*header) co_return net::Result<void>();  // anonymous: nothing to send or refresh
  request.headers.set(kAuthorization, **header);
  request.on_unauthorized = [credentials, refused = **header](net::Request& resent) {
    return replace_refused_token(credentials, refused, resent);
  };
  co_return net::Result<void>();
}

}  // namespace kettle::auth
