#include "kettle/cloud/context.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>

#include "kettle/auth/default_credentials.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::cloud {
namespace asio = boost::asio;

Context::Context(net::Config http_config) : io_(1), http_(io_.get_executor(), std::move(http_config)) {}

asio::awaitable<std::shared_ptr<auth::Credentials>> Context::credentials_for(bool emulator) {
  if (emulator) co_return nullptr;
  if (!credentials_) {
    // Named arguments: g++ 12 mishandles temporaries inside co_await expressions.
    auth::Environment env = auth::process_environment();
    auth::Config config;
    auto made = co_await auth::make_default_credentials(http_, env, config);
    if (!made) throw auth::SetupException(made.error());
    credentials_ = *made;
  }
  co_return credentials_;
}

int Context::run(std::function<asio::awaitable<int>()> main, std::function<void()> on_stop) {
  int code = 1;
  std::exception_ptr failure;
  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    KLOG(warning) << "signal " << sig << ": finishing the work in flight (again to abandon it)";
    if (on_stop) on_stop();
    signals.async_wait([&](const boost::system::error_code& ec2, int) {
      if (!ec2) http_.stop();
    });
  });
  asio::co_spawn(io_, main(), [&](std::exception_ptr e, int result) {
    failure = e;
    code = result;
    signals.cancel();
    http_.stop();
  });
  io_.run();
  if (failure) std::rethrow_exception(failure);
  return code;
}

}  // namespace kettle::cloud
