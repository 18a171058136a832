#include "kettle/obs/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <pthread.h>

#include <csignal>
#include <stdexcept>
#include <thread>

#include "kettle/obs/health.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/obs/metrics.hpp"
#include "kettle/obs/kettle_metrics.hpp"

namespace kettle::obs {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// A scraper or probe that stalls mid-request loses its connection.
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);  // e.g. after EMFILE

struct Reply {
  http::status status = http::status::ok;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

Reply route(const http::request<http::empty_body>& request, std::chrono::steady_clock::duration stall_timeout) {
  if (request.method() != http::verb::get && request.method() != http::verb::head)
    return {http::status::method_not_allowed, "text/plain; charset=utf-8", "only GET and HEAD\n"};
  std::string_view target = request.target();
  target = target.substr(0, target.find('?'));
  if (target == "/metrics")
    return {http::status::ok, "text/plain; version=0.0.4; charset=utf-8", registry().render()};
  if (target == "/healthz") {
    auto report = check_health(stall_timeout);
    return {report.healthy ? http::status::ok : http::status::service_unavailable, "text/plain; charset=utf-8",
            report.text};
  }
  if (target == "/healthz/ready")
    return {ready() ? http::status::ok : http::status::service_unavailable, "text/plain; charset=utf-8",
            ready() ? "ready\n" : "starting\n"};
  return {http::status::not_found, "text/plain; charset=utf-8", "not found; try /metrics, /healthz, /healthz/ready\n"};
}

template <class Response>
void set_headers(Response& response, const Reply& reply, bool keep_alive) {
  response.set(http::field::content_type, reply.content_type);
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(keep_alive);
}

asio::awaitable<void> serve_connection(tcp::socket socket, std::chrono::steady_clock::duration stall_timeout) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(kRequestTimeout);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(16 * 1024);
    auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    if (read_error) co_return;  // closed, timed out or malformed: nothing to answer
    const auto& request = parser.get();
    Reply reply = route(request, stall_timeout);
    const bool keep_alive = request.keep_alive();
    stream.expires_after(kRequestTimeout);
    boost::system::error_code write_error;
    if (request.method() == http::verb::head) {
      // The GET answer's headers, Content-Length included, without its body.
      http::response<http::empty_body> response(reply.status, request.version());
      set_headers(response, reply, keep_alive);
      response.content_length(reply.body.size());
      auto [ec, written] = co_await http::async_write(stream, response, kUseTuple);
      write_error = ec;
    } else {
      http::response<http::string_body> response(reply.status, request.version(), std::move(reply.body));
      set_headers(response, reply, keep_alive);
      response.prepare_payload();
      auto [ec, written] = co_await http::async_write(stream, response, kUseTuple);
      write_error = ec;
    }
    if (write_error || !keep_alive) co_return;
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::chrono::steady_clock::duration stall_timeout) {
  for (;;) {
    tcp::socket socket(acceptor.get_executor());
    auto [ec] = co_await acceptor.async_accept(socket, kUseTuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      asio::steady_timer pause(acceptor.get_executor(), kAcceptRetryDelay);
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket), stall_timeout), asio::detached);
  }
}

std::string address_text(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

}  // namespace

std::optional<ListenAddress> parse_listen_address(const std::string& text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<ListenAddress> {
    if (error) *error = "'" + text + "': " + why + " (expected HOST:PORT or :PORT)";
    return std::nullopt;
  };
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return fail("no port");
  std::string host = text.substr(0, colon);
  std::string port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
    return fail("bad port");
  unsigned long port = std::stoul(port_text);
  if (port > 65535) return fail("port out of range");
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) return fail("host must be an IP address or localhost");
  return ListenAddress{host, static_cast<unsigned short>(port)};
}

struct Server::Impl {
  asio::io_context io{1};
  std::unique_ptr<tcp::acceptor> metrics, health;
  bool health_on_metrics = false;  // one address for both: one listener serves every path
  std::thread thread;

  // Null when off, or when a default address is taken (with a warning).
  std::unique_ptr<tcp::acceptor> listen(const std::string& flag, const std::string& text, bool is_default) {
    if (text.empty()) return nullptr;
    try {
      return bind(flag, text);
    } catch (const std::runtime_error& e) {
      if (!is_default) throw;
      KLOG(warning) << e.what() << "; running without it";
      return nullptr;
    }
  }

  std::unique_ptr<tcp::acceptor> bind(const std::string& flag, const std::string& text) {
    std::string error;
    auto address = parse_listen_address(text, &error);
    if (!address) throw std::runtime_error(flag + " " + error);
    tcp::endpoint endpoint(asio::ip::make_address(address->host), address->port);
    auto acceptor = std::make_unique<tcp::acceptor>(io);
    boost::system::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      throw std::runtime_error(flag + " " + text + ": cannot listen: " + ec.message() + " (pass " + flag +
                               " HOST:PORT for another address, or " + flag + " '' to turn it off)");
    return acceptor;
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->metrics = impl_->listen("--metrics-addr", options.metrics_addr, options.metrics_addr_is_default);
  // The same fixed address for both: one listener (port 0 asks for two ports).
  impl_->health_on_metrics = impl_->metrics && options.health_addr == options.metrics_addr &&
                             parse_listen_address(options.health_addr)->port != 0;
  if (!impl_->health_on_metrics)
    impl_->health = impl_->listen("--health-addr", options.health_addr, options.health_addr_is_default);
  for (auto* acceptor : {impl_->metrics.get(), impl_->health.get()}) {
    if (!acceptor) continue;
    asio::co_spawn(impl_->io, accept_loop(*acceptor, options.stall_timeout), asio::detached);
  }
  if (impl_->metrics) KLOG(info) << "serving /metrics on " << metrics_address();
  if (impl_->health || impl_->health_on_metrics)
    KLOG(info) << "serving /healthz and /healthz/ready on " << health_address();
  impl_->thread = std::thread([io = &impl_->io] {
    // Signals are the commands' business: never run their handlers here.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    try {
      io->run();
    } catch (const std::exception& e) {
      KLOG(error) << "metrics/health server stopped: " << e.what();
    }
  });
}

Server::~Server() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string Server::metrics_address() const {
  return impl_->metrics ? address_text(impl_->metrics->local_endpoint()) : std::string();
}

std::string Server::health_address() const {
  if (impl_->health) return address_text(impl_->health->local_endpoint());
  return impl_->health_on_metrics ? metrics_address() : std::string();
}

}  // namespace kettle::obs
