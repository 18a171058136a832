// What every command that talks to Google APIs shares: one io_context thread,
// one HTTP client, and the application default credentials (looked up once,
// and only when some API is not an emulator).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>

#include "kettle/auth/credentials.hpp"
#include "kettle/net/config.hpp"
#include "kettle/net/http_client.hpp"

namespace kettle::cloud {

class Context {
 public:
  explicit Context(net::Config http_config = {});
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  boost::asio::io_context& io() { return io_; }
  net::HttpClient& http() { return http_; }

  // Null for an emulator endpoint (no Authorization header), else the
  // default credentials. Throws auth::SetupException.
  boost::asio::awaitable<std::shared_ptr<auth::Credentials>> credentials_for(bool emulator);

  // Runs `main` on the io thread until it returns; SIGINT/SIGTERM call
  // `on_stop` (first signal) and stop the HTTP client (second). Exceptions
  // from `main` are rethrown here.
  int run(std::function<boost::asio::awaitable<int>()> main, std::function<void()> on_stop = {});

 private:
  boost::asio::io_context io_;
  net::HttpClient http_;
  std::shared_ptr<auth::Credentials> credentials_;
};

}  // namespace kettle::cloud
