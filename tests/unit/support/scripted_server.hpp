// Test support for the REST clients' unit suites: a scripted HTTP/1.1 server
// on 127.0.0.1 that answers each request from a script and records what it
// saw, and an HTTP client config with short deadlines and quick retries.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kettle/auth/credentials.hpp"
#include "kettle/net/config.hpp"
#include "kettle/net/http_client.hpp"
#include "kettle/net/retry.hpp"

namespace kettle::test_support {

// One request as the server saw it.
struct Seen {
  std::string method;
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

struct Reply {
  int status = 200;
  std::string body{};
  std::vector<std::pair<std::string, std::string>> headers{};
  std::chrono::milliseconds delay{0};  // before answering
};

using Script = std::function<Reply(const Seen&, int index)>;

class ScriptedServer {
 public:
  ScriptedServer(boost::asio::io_context& ioc, Script script)
      : ioc_(ioc),
        acceptor_(ioc, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)),
        base_url_("http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port())),
        script_(std::move(script)) {
    boost::asio::co_spawn(ioc, accept_loop(), boost::asio::detached);
  }

  // Still valid after stop().
  const std::string& base_url() const { return base_url_; }

  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& weak : sockets_) {
      if (auto socket = weak.lock()) socket->close(ignored);
    }
  }

  std::vector<Seen> seen;

 private:
  using tcp = boost::asio::ip::tcp;
  static constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

  boost::asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      auto shared = std::make_shared<tcp::socket>(std::move(socket));
      sockets_.push_back(shared);
      boost::asio::co_spawn(ioc_, serve(shared), boost::asio::detached);
    }
  }

  boost::asio::awaitable<void> serve(std::shared_ptr<tcp::socket> socket) {
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    while (true) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(std::size_t{64} << 20);
      auto [ec, n] = co_await http::async_read(*socket, buffer, parser, use_tuple);
      if (ec) co_return;
      const auto& request = parser.get();
      Seen s{
          std::string(request.method_string()), std::string(request.target()), request.body(), {}};
      for (const auto& field : request) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        s.headers[name] = std::string(field.value());
      }
      seen.push_back(s);
      Reply reply = script_(s, static_cast<int>(seen.size()));
      if (reply.delay.count() > 0) {
        boost::asio::steady_timer timer(ioc_, reply.delay);
        co_await timer.async_wait(use_tuple);
      }
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      for (const auto& [name, value] : reply.headers) response.set(name, value);
      response.body() = reply.body;
      response.prepare_payload();
      auto [write_ec, written] = co_await http::async_write(*socket, response, use_tuple);
      if (write_ec) co_return;
    }
  }

  boost::asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  std::string base_url_;
  Script script_;
  std::vector<std::weak_ptr<tcp::socket>> sockets_;
};

// Short deadlines and quick retries so failure paths finish fast.
inline net::Config quick_net_config() {
  using namespace std::chrono_literals;
  net::Config config;
  config.timeouts.headers = 2s;
  config.timeouts.total = 10s;
  config.retry = net::RetryConfig{
      .max_attempts = 2, .initial_backoff = 1ms, .max_backoff = 5ms, .max_total = 5s};
  return config;
}

// Runs `body` on `ioc` with a watchdog: fails the test if it never
// finishes; `on_done` stops the server and client so the context drains.
inline bool run_with_watchdog(boost::asio::io_context& ioc, const std::function<boost::asio::awaitable<void>()>& body,
                              const std::function<void()>& on_done, std::exception_ptr& failure) {
  bool finished = false;
  boost::asio::co_spawn(ioc, body(), [&](std::exception_ptr e) {
    finished = true;
    failure = e;
    on_done();
  });
  ioc.run_for(std::chrono::seconds(60));
  return finished;
}

// A scripted server, an HTTP client, and an API client (gcs, pubsub,
// bigquery) whose base URL is the server.
template <class ApiClient, class ApiConfig>
struct ClientFixture {
  ClientFixture(Script script, ApiConfig config, net::Config net_config,
                std::shared_ptr<auth::Credentials> credentials)
      : server(ioc, std::move(script)),
        http(ioc.get_executor(), std::move(net_config)),
        client(http, std::move(credentials), with_base(std::move(config))) {}

  ApiConfig with_base(ApiConfig config) {
    config.base_url = server.base_url();
    return config;
  }

  // Runs `body` with a watchdog that fails the test if it never finishes.
  void run(const std::function<boost::asio::awaitable<void>()>& body) {
    std::exception_ptr failure;
    bool finished = run_with_watchdog(ioc, body, [this] {
      server.stop();
      http.stop();
    }, failure);
    BOOST_REQUIRE_MESSAGE(finished, "the test did not finish before its watchdog");
    if (failure) std::rethrow_exception(failure);
  }

  boost::asio::io_context ioc;
  ScriptedServer server;
  net::HttpClient http;
  ApiClient client;
};

}  // namespace kettle::test_support
