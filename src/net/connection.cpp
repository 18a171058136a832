#include "connection.hpp"

#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <variant>

#include "kettle/obs/log.hpp"
#include "response_parser.hpp"

namespace kettle::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string format_duration(Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// One step of an attempt with its own deadline, also capped by the attempt's.
struct Phase {
  const char* name;
  Duration limit;
  Clock::time_point deadline;
  bool attempt_bound;  // the attempt deadline comes first

  Phase(const char* phase_name, Duration phase_limit, Clock::time_point attempt_deadline)
      : name(phase_name), limit(phase_limit) {
    auto own = Clock::now() + phase_limit;
    attempt_bound = attempt_deadline < own;
    deadline = attempt_bound ? attempt_deadline : own;
  }

  std::string timeout_message() const {
    if (attempt_bound) return std::string("attempt deadline passed while waiting for ") + name;
    return std::string("no ") + name + " within " + format_duration(limit);
  }
};

Error make_error(ErrorKind kind, const Url& url, std::string message) {
  return Error{
      .kind = kind, .status = 0, .url = url.str(), .message = std::move(message), .attempts = 0};
}

bool is_connect_failure(const error_code& ec) {
  return ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
         ec == asio::error::network_unreachable || ec == asio::error::host_not_found ||
         ec == asio::error::host_not_found_try_again || ec == asio::error::no_data ||
         ec == asio::error::no_recovery || ec == asio::error::address_family_not_supported;
}

// Maps an I/O failure during `phase` to a typed error in words.
Error transport_error(const error_code& ec, const Phase& phase, const Url& url) {
  std::string during = std::string(" (") + phase.name + ")";
  if (ec == beast::error::timeout)
    return make_error(ErrorKind::timeout, url, phase.timeout_message());
  if (ec == asio::error::operation_aborted)
    return make_error(ErrorKind::cancelled, url, "request cancelled");
  if (ec == http::error::body_limit)
    return make_error(ErrorKind::too_large, url, "response body over the limit");
  if (ec == http::error::header_limit) {
    return make_error(ErrorKind::too_large, url, "response header over the limit");
  }
  if (ec == http::error::end_of_stream) {
    return make_error(ErrorKind::reset, url, "connection closed by the server before a response");
  }
  if (ec == http::error::partial_message) {
    return make_error(ErrorKind::protocol, url,
                      "connection closed mid-response (truncated message)");
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return make_error(ErrorKind::protocol, url, "malformed response: " + ec.message());
  }
  if (ec == ssl::error::stream_truncated) {
    return make_error(ErrorKind::reset, url, "TLS stream truncated by the server" + during);
  }
  if (is_connect_failure(ec)) return make_error(ErrorKind::connect, url, ec.message() + during);
  return make_error(ErrorKind::reset, url, ec.message() + during);
}

// As above; a body over the limit also names the limit and the size the
// server announced, so a log line says how large the object was.
Error transport_error(const error_code& ec, const Phase& phase, const Url& url,
                      const ResponseParser& parser,
                      std::size_t body_limit) {
  Error error = transport_error(ec, phase, url);
  if (ec == http::error::body_limit) {
    error.message += " of " + std::to_string(body_limit) + " bytes";
    if (auto length = parser.content_length())
      error.message += " (Content-Length " + std::to_string(*length) + ")";
  }
  return error;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

asio::awaitable<Result<tcp::resolver::results_type>> resolve(const Url& url, const Phase& phase) {
  if (is_ip_literal(url.host)) {
    // No resolver thread for literal addresses.
    co_return tcp::resolver::results_type::create(
        tcp::endpoint(asio::ip::make_address(url.host), url.port), url.host,
        std::to_string(url.port));
  }
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  asio::steady_timer timer(executor, phase.deadline);
  // getaddrinfo has no timeout of its own: race it against the phase deadline.
  auto outcome = co_await (resolver.async_resolve(url.host, std::to_string(url.port), use_tuple) ||
                           timer.async_wait(use_tuple));
  if (outcome.index() == 1)
    co_return make_error(ErrorKind::timeout, url, phase.timeout_message() + " (DNS)");
  auto [ec, results] = std::get<0>(std::move(outcome));
  if (ec)
    co_return make_error(ErrorKind::connect, url,
                         "cannot resolve " + url.host + ": " + ec.message());
  co_return results;
}

// Why the handshake failed, in the words OpenSSL gives for certificate problems.
std::string handshake_failure(TlsStream& stream, const error_code& ec, const Url& url) {
  long verify = SSL_get_verify_result(stream.native_handle());
  if (verify != X509_V_OK) {
    return "certificate of " + url.host + " rejected: " + X509_verify_cert_error_string(verify);
  }
  return "TLS handshake with " + url.host + " failed: " + ec.message();
}

asio::awaitable<std::optional<Error>> handshake(TlsStream& stream, const Url& url,
                                                const Timeouts& timeouts,
                                                Clock::time_point deadline) {
  SSL* native = stream.native_handle();
  if (is_ip_literal(url.host)) {
    // SNI carries names only; the certificate must list the address instead.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), url.host.c_str());
  } else {
    if (!SSL_set_tlsext_host_name(native, url.host.c_str())) {
      co_return make_error(ErrorKind::tls, url, "cannot set SNI host name " + url.host);
    }
    // OpenSSL's own check gives "hostname mismatch" as the verify result.
    SSL_set1_host(native, url.host.c_str());
  }
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(url.host));

  Phase phase("TLS handshake", timeouts.handshake, deadline);
  beast::get_lowest_layer(stream).expires_at(phase.deadline);
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  if (!ec) co_return std::nullopt;
  if (ec.category() == asio::error::get_ssl_category()) {
    co_return make_error(ErrorKind::tls, url, handshake_failure(stream, ec, url));
  }
  co_return transport_error(ec, phase, url);
}

http::request<http::string_body> to_beast(const Request& request, const Url& url,
                                          const Limits& limits) {
  http::request<http::string_body> msg;
  auto verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) {
    msg.method_string(request.method);
  } else {
    msg.method(verb);
  }
  msg.target(url.target);
  msg.version(11);
  for (const auto& [name, value] : request.headers) msg.insert(name, value);
  msg.set(http::field::host, url.authority());
  if (msg.find(http::field::user_agent) == msg.end())
    msg.set(http::field::user_agent, limits.user_agent);
  if (limits.accept_gzip && msg.find(http::field::accept_encoding) == msg.end()) {
    msg.set(http::field::accept_encoding, "gzip");
  }
  msg.keep_alive(true);
  msg.body() = request.body;
  msg.prepare_payload();
  return msg;
}

std::optional<Error> check_request(const Request& request, const Url& url) {
  auto bad = [&](std::string what) {
    return make_error(ErrorKind::invalid_request, url, std::move(what));
  };
  if (request.method.empty() || has_line_break(request.method) ||
      request.method.find(' ') != std::string::npos) {
    return bad("bad method '" + request.method + "'");
  }
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || has_line_break(name) || has_line_break(value) ||
        name.find(':') != std::string::npos) {
      return bad("bad header field '" + name + "'");
    }
  }
  return std::nullopt;
}

// Body bytes one http::async_read_some may add: what the buffer already holds
// plus what it reads (Beast reads at most 64 KiB at a time; twice when a chunk
// header straddles two reads).
constexpr std::size_t kReadBytes = std::size_t{64} << 10;
// A body of known length reserves in steps of at least this, not every read.
constexpr std::size_t kReserveStep = std::size_t{1} << 20;

// Takes from the body budget, before a read, the memory the body may hold by
// its end; false when the wait was cancelled. A body of known length was
// allocated whole by the parser (virtual memory), but only what has arrived is
// resident: that is what is counted. A body of unknown length grows here, by
// doubling, so the parser never reallocates it: its whole capacity is counted,
// and the old copy too while both exist.
asio::awaitable<bool> reserve_for_read(BodyBudget::Lease& lease, std::string& body,
                                       std::optional<std::uint64_t> length, std::size_t buffered,
                                       std::size_t limit) {
  const std::size_t cap =
      length ? static_cast<std::size_t>(std::min<std::uint64_t>(*length, limit)) : limit;
  const std::size_t want = std::min(cap, body.size() + buffered + 2 * kReadBytes);
  if (length) {
    if (lease.held() >= want) co_return true;
    co_return co_await lease.grow_to(std::min(cap, std::max(want, lease.held() + kReserveStep)));
  }
  if (body.capacity() >= want) co_return true;
  const std::size_t grown_capacity = std::min(cap, std::max(want, 2 * body.capacity()));
  if (!co_await lease.grow_to(lease.held() + grown_capacity)) co_return false;
  {
    // Reserved on an empty string: exactly this capacity (reserve() on the
    // body itself may round up).
    std::string grown;
    grown.reserve(grown_capacity);
    grown.append(body);
    body.swap(grown);
  }
  lease.shrink_to(body.capacity());
  lease.force_to(body.capacity());
  co_return true;
}

// What the body holds after a read, counted whatever was reserved: a parser
// that reallocated despite reserve_for_read is still accounted for.
std::size_t resident_bytes(const std::string& body, bool known_length) {
  return known_length ? body.size() : body.capacity();
}

// One request and its response on an open stream (plain or TLS).
template <class Stream>
asio::awaitable<Exchange> exchange_on(Stream& stream, beast::flat_buffer& buffer,
                                      const Request& request, const Url& url, const Limits& limits,
                                      Clock::time_point deadline, BodyBudget::Lease& lease) {
  Exchange result{.response = Response{}, .reusable = false, .nothing_received = false};
  if (auto invalid = check_request(request, url)) {
    result.response = *invalid;
    co_return result;
  }
  beast::tcp_stream& tcp = beast::get_lowest_layer(stream);
  auto msg = to_beast(request, url, limits);

  Phase write_phase("request write", limits.timeouts.write, deadline);
  tcp.expires_at(write_phase.deadline);
  auto [write_ec, written] = co_await http::async_write(stream, msg, use_tuple);
  (void)written;
  if (write_ec) {
    result.response = transport_error(write_ec, write_phase, url);
    result.nothing_received = true;
    co_return result;
  }

  // A fresh parser per response; 1xx interim responses are skipped.
  std::optional<ResponseParser> parser;
  while (true) {
    start_response(parser, limits, msg.method() == http::verb::head);
    Phase header_phase("response headers", limits.timeouts.headers, deadline);
    tcp.expires_at(header_phase.deadline);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, *parser, use_tuple);
    (void)n;
    if (ec) {
      result.response = transport_error(ec, header_phase, url, *parser, limits.body_limit);
      result.nothing_received = !parser->got_some();
      co_return result;
    }
    if (!is_interim_status(static_cast<int>(parser->get().result_int()))) break;
  }

  std::optional<std::uint64_t> length;
  if (auto announced = parser->content_length()) length = *announced;
  std::string& body = parser->get().body();
  while (!parser->is_done()) {
    // The socket is not read while waiting for memory: that time is ours,
    // not the server's, so it moves the attempt's deadline back.
    const auto waiting_since = Clock::now();
    if (!co_await reserve_for_read(lease, body, length, buffer.size(), limits.body_limit)) {
      result.response = make_error(ErrorKind::cancelled, url, "request cancelled");
      co_return result;
    }
    deadline += Clock::now() - waiting_since;
    Phase body_phase("response body data", limits.timeouts.body_idle, deadline);
    tcp.expires_at(body_phase.deadline);
    auto [ec, n] = co_await http::async_read_some(stream, buffer, *parser, use_tuple);
    (void)n;
    lease.force_to(resident_bytes(body, length.has_value()));
    if (ec) {
      result.response = transport_error(ec, body_phase, url, *parser, limits.body_limit);
      co_return result;
    }
  }
  tcp.expires_never();
  result.reusable = keeps_alive(*parser) && buffer.size() == 0;
  result.response = take_response(*parser);
  co_return result;
}

}  // namespace

struct Connection::Impl {
  explicit Impl(beast::tcp_stream&& plain)
      : stream(std::in_place_type<beast::tcp_stream>, std::move(plain)) {}
  Impl(beast::tcp_stream&& plain, ssl::context& tls)
      : stream(std::in_place_type<TlsStream>, std::move(plain), tls) {}

  std::variant<beast::tcp_stream, TlsStream> stream;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream);
  }
};

std::shared_ptr<ssl::context> make_tls_context(const Config& config) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  error_code ec;
  context->set_default_verify_paths(ec);  // reads SSL_CERT_FILE / SSL_CERT_DIR when set
  if (ec) throw std::runtime_error("cannot load the system TLS trust store: " + ec.message());
  if (!config.ca_file.empty()) {
    context->load_verify_file(config.ca_file, ec);
    if (ec) throw std::runtime_error("cannot load CA file " + config.ca_file + ": " + ec.message());
  }
  context->set_verify_mode(ssl::verify_peer);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  return context;
}

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

asio::awaitable<Result<std::unique_ptr<Connection>>> Connection::open(ssl::context& tls,
                                                                      const Url& url,
                                                                      const Timeouts& timeouts,
                                                                      Clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  Phase phase("connect", timeouts.connect, deadline);
  auto endpoints = co_await resolve(url, phase);
  if (!endpoints) co_return endpoints.error();

  beast::tcp_stream tcp(executor);
  tcp.expires_at(phase.deadline);
  auto [ec, endpoint] = co_await tcp.async_connect(*endpoints, use_tuple);
  (void)endpoint;
  if (ec) {
    Error error = transport_error(ec, phase, url);
    if (error.kind == ErrorKind::reset)
      error.kind = ErrorKind::connect;  // nothing was connected yet
    co_return error;
  }
  tcp.socket().set_option(tcp::no_delay(true), ec);  // small requests: don't wait for Nagle

  auto impl = url.tls() ? std::make_unique<Impl>(std::move(tcp), tls)
                        : std::make_unique<Impl>(std::move(tcp));
  if (url.tls()) {
    if (auto failure =
            co_await handshake(std::get<TlsStream>(impl->stream), url, timeouts, deadline)) {
      co_return *failure;
    }
    impl->tcp().expires_never();
  }
  co_return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

asio::awaitable<Exchange> Connection::exchange(const Request& request, const Url& url,
                                               const Limits& limits, Clock::time_point deadline,
                                               BodyBudget::Lease& lease) {
  if (auto* tls = std::get_if<TlsStream>(&impl_->stream)) {
    co_return co_await exchange_on(*tls, impl_->buffer, request, url, limits, deadline, lease);
  }
  co_return co_await exchange_on(std::get<beast::tcp_stream>(impl_->stream), impl_->buffer, request,
                                 url, limits, deadline, lease);
}

bool Connection::looks_alive() const {
  auto& socket = impl_->tcp().socket();
  if (!socket.is_open()) return false;
  char byte = 0;
  // A readable idle socket means EOF, a reset or bytes nobody asked for.
  ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

asio::awaitable<void> Connection::close_gracefully(std::unique_ptr<Connection> connection) {
  auto* tls = std::get_if<TlsStream>(&connection->impl_->stream);
  if (tls != nullptr) {
    connection->impl_->tcp().expires_after(std::chrono::seconds(2));
    auto [ec] = co_await tls->async_shutdown(use_tuple);
    // stream_truncated: the server closed without its close_notify. The
    // response was complete (we framed it by its length), so nothing is lost.
    if (ec && ec != ssl::error::stream_truncated && ec != asio::error::eof) {
      KLOG(debug) << "TLS shutdown: " << ec.message();
    }
  }
  error_code ignored;
  connection->impl_->tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
  connection->impl_->tcp().close();
}

}  // namespace kettle::net::detail
