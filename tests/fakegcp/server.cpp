#include "server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "api_error.hpp"
#include "bigquery_service.hpp"
#include "control_service.hpp"
#include "gcs_service.hpp"
#include "kettle/obs/log.hpp"
#include "oauth_service.hpp"
#include "pubsub_service.hpp"

namespace fakegcp {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kTlsShutdownGrace = std::chrono::seconds(1);  // peers that never answer close_notify
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);  // e.g. after EMFILE

std::string read_text_file(const std::string& path, std::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string(flag) + " " + path + ": cannot read the file");
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

std::unique_ptr<ssl::context> make_tls_context(const ServerConfig& config) {
  if (config.tls_cert.empty() && config.tls_key.empty()) return nullptr;
  if (config.tls_cert.empty() || config.tls_key.empty())
    throw std::runtime_error("--tls-cert and --tls-key go together");
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  error_code ec;
  ctx->use_certificate_chain_file(config.tls_cert, ec);
  if (ec) throw std::runtime_error("--tls-cert " + config.tls_cert + ": " + ec.message());
  ctx->use_private_key_file(config.tls_key, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("--tls-key " + config.tls_key + ": " + ec.message());
  return ctx;
}

asio::ip::address loopback_address(const std::string& host) {
  if (host == "localhost") return asio::ip::address_v4::loopback();
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("--host " + host + ": not an IP address");
  if (!address.is_loopback())
    throw std::runtime_error("--host " + host + ": the fake serves loopback only");
  return address;
}

Request to_request(http::request<http::string_body>&& in) {
  Request r;
  r.method = std::string(in.method_string());
  r.target = std::string(in.target());
  r.headers.reserve(8);
  for (const auto& field : in) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  r.body = std::move(in.body());
  return r;
}

http::response<http::string_body> to_beast(Response&& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(r.status), version};
  for (auto& [name, value] : r.headers) out.set(name, value);
  out.keep_alive(keep_alive);
  out.body() = std::move(r.body);
  out.prepare_payload();
  return out;
}

tcp::socket& raw_socket(tcp::socket& s) { return s; }
tcp::socket& raw_socket(ssl::stream<tcp::socket>& s) { return s.next_layer(); }

// Closes with SO_LINGER 0 so the peer gets a TCP RST instead of an orderly FIN.
void reset_connection(tcp::socket& socket) {
  error_code ec;
  socket.set_option(asio::socket_base::linger(true, 0), ec);
  socket.close(ec);
}

asio::awaitable<void> graceful_close(tcp::socket& socket) {
  error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  co_return;
}

asio::awaitable<void> graceful_close(ssl::stream<tcp::socket>& stream) {
  // Bounded: a peer that never answers close_notify must not pin the session.
  asio::steady_timer guard(stream.get_executor(), kTlsShutdownGrace);
  guard.async_wait([&stream](error_code ec) {
    if (!ec) {
      error_code ignored;
      stream.next_layer().close(ignored);
    }
  });
  co_await stream.async_shutdown(kUseTuple);
  guard.cancel();
}

// The client sent something that is not HTTP (as opposed to going away).
bool is_malformed_request(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// Counts a request as in flight from routing to its last byte (or abandonment).
class InFlight {
 public:
  InFlight(Stats& stats, std::string_view kind) : stats_(stats) { stats_.request_started(kind); }
  ~InFlight() { stats_.request_finished(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  void answered(unsigned status) { stats_.request_answered(status); }

 private:
  Stats& stats_;
};

// Services schedule work (a held pull's next check) through this, so only
// server.cpp deals with Asio timers.
class IoScheduler : public Scheduler {
 public:
  explicit IoScheduler(asio::io_context& ioc) : ioc_(ioc) {}
  void run_after(std::chrono::milliseconds delay, std::function<void()> fn) override {
    auto timer = std::make_shared<asio::steady_timer>(ioc_, delay);
    timer->async_wait([timer, fn = std::move(fn)](error_code ec) {
      if (ec) return;
      try {
        fn();
      } catch (const std::exception& e) {  // never let a service take an io thread down
        KLOG(error) << "fakegcp: scheduled work failed: " << e.what();
      }
    });
  }

 private:
  asio::io_context& ioc_;
};

// A response a service may deliver later, from any thread. The connection's
// coroutine waits on its timer; the deliverer cancels that wait through the
// connection's strand, so the timer is only ever touched on the strand.
struct PendingReply {
  std::mutex mutex;
  std::optional<Response> response;
  asio::steady_timer* waiter = nullptr;  // set while the coroutine waits
  asio::any_io_executor strand;

  static Reply make(std::shared_ptr<PendingReply> self) {
    return [self](Response r) {
      std::lock_guard lock(self->mutex);
      if (self->response) return;
      self->response = std::move(r);
      if (!self->waiter) return;
      asio::post(self->strand, [self] {
        std::lock_guard again(self->mutex);
        if (self->waiter) self->waiter->cancel();
      });
    };
  }
};

class OpenConnection {
 public:
  explicit OpenConnection(Stats& stats) : stats_(stats) { stats_.connection_accepted(); }
  ~OpenConnection() { stats_.connection_closed(); }
  OpenConnection(const OpenConnection&) = delete;
  OpenConnection& operator=(const OpenConnection&) = delete;

 private:
  Stats& stats_;
};

}  // namespace

struct Server::Impl {
  explicit Impl(ServerConfig cfg)
      : config(std::move(cfg)),
        faults(config.seed),
        tokens(std::chrono::seconds(config.token_ttl_seconds)),
        scheduler(ioc),
        ctx{config, stats, faults, tokens, scheduler, {}},
        tls(make_tls_context(config)),
        acceptor(ioc) {
    // Order matters: the first service that classifies a request serves it.
    // Pub/Sub, BigQuery and GCS come before Control: they own their /_fake/ paths.
    auto pubsub_service = std::make_unique<PubSubService>(ctx);
    pubsub = pubsub_service.get();
    services.push_back(std::move(pubsub_service));
    auto bigquery_service = std::make_unique<BigQueryService>(ctx);
    bigquery = bigquery_service.get();
    services.push_back(std::move(bigquery_service));
    auto gcs_service = std::make_unique<GcsService>(ctx);  // owns /_fake/synthetic
    gcs = gcs_service.get();
    services.push_back(std::move(gcs_service));
    services.push_back(std::make_unique<ControlService>(ctx));
    services.push_back(std::make_unique<OAuthService>(ctx));
    gcs->on_finalize(
        [ps = pubsub](const FinalizedObject& object) { ps->object_finalized(object); });
    if (!config.faults_file.empty()) {
      std::string error;
      auto rules = parse_fault_rules(read_text_file(config.faults_file, "--faults"), error);
      if (!rules) throw std::runtime_error("--faults " + config.faults_file + ": " + error);
      faults.replace(std::move(*rules));
    }
  }

  struct Routed {
    Service* service = nullptr;
    std::string_view kind = "unknown";
  };
  Routed route(const Request& req) {
    for (auto& s : services)
      if (auto kind = s->classify(req)) return {s.get(), *kind};
    return {};
  }

  Response dispatch(const Routed& routed, const Request& req) {
    if (!routed.service)
      return api_error(404, "Not Found: " + req.method + " " + req.target, "notFound");
    try {
      return routed.service->handle(req);
    } catch (const std::exception& e) {
      KLOG(error) << "fakegcp: " << req.method << " " << req.target << " failed: " << e.what();
      return api_error(500, std::string("fake internal error: ") + e.what(), "internalError");
    }
  }

  // Like dispatch, but the service may answer later (a held long poll);
  // waits on `timer` until it does.
  asio::awaitable<Response> dispatch_async(const Routed& routed, const Request& req,
                                           asio::steady_timer& timer);

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream);
  template <class Stream>
  asio::awaitable<bool> answer(Stream& stream, asio::steady_timer& timer,
                               http::request<http::string_body>&& beast_req);
  asio::awaitable<void> run_connection(tcp::socket socket);
  asio::awaitable<void> accept_loop();

  ServerConfig config;
  Stats stats;
  FaultSet faults;
  TokenStore tokens;
  IoScheduler scheduler;  // refers to ioc below, used only once it runs
  ServiceContext ctx;
  std::vector<std::unique_ptr<Service>> services;
  GcsService* gcs = nullptr;
  PubSubService* pubsub = nullptr;
  BigQueryService* bigquery = nullptr;
  std::unique_ptr<ssl::context> tls;
  // Declared last among what sessions use: destroying the io_context destroys
  // the suspended sessions, which still reference the members above.
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  unsigned short port = 0;
  bool stopped = false;
};

namespace {

// Holds a hung request's connection open, reading and discarding, until the
// client gives up or the server stops.
template <class Stream>
asio::awaitable<void> hold_open(Stream& stream) {
  char sink[1024];
  for (;;) {
    auto [ec, n] = co_await raw_socket(stream).async_read_some(asio::buffer(sink), kUseTuple);
    if (ec) co_return;
  }
}

// Sends the headers (with the full Content-Length) and half the body, then closes.
template <class Stream>
asio::awaitable<void> send_truncated(Stream& stream, http::response<http::string_body>& res) {
  http::response_serializer<http::string_body> serializer{res};
  auto [ec, n] = co_await http::async_write_header(stream, serializer, kUseTuple);
  if (!ec) {
    std::size_t half = res.body().size() / 2;
    co_await asio::async_write(stream, asio::buffer(res.body().data(), half), kUseTuple);
  }
  error_code ignored;
  raw_socket(stream).shutdown(tcp::socket::shutdown_both, ignored);
  raw_socket(stream).close(ignored);
}

}  // namespace

asio::awaitable<Response> Server::Impl::dispatch_async(const Routed& routed, const Request& req,
                                                       asio::steady_timer& timer) {
  if (!routed.service)
    co_return api_error(404, "Not Found: " + req.method + " " + req.target, "notFound");
  auto pending = std::make_shared<PendingReply>();
  pending->strand = co_await asio::this_coro::executor;
  Reply reply = PendingReply::make(pending);
  try {
    routed.service->handle_async(req, reply);
  } catch (const std::exception& e) {
    KLOG(error) << "fakegcp: " << req.method << " " << req.target << " failed: " << e.what();
    reply(api_error(500, std::string("fake internal error: ") + e.what(), "internalError"));
  }
  // The timer is armed before the waiter is published; a cancel posted by the
  // deliverer runs on this strand only after async_wait has started.
  timer.expires_at(asio::steady_timer::time_point::max());
  for (;;) {
    {
      std::lock_guard lock(pending->mutex);
      if (pending->response) {
        pending->waiter = nullptr;
        break;
      }
      pending->waiter = &timer;
    }
    co_await timer.async_wait(kUseTuple);
  }
  Response out = std::move(*pending->response);
  co_return out;
}

// One request: faults, latency, the service, the reply. Returns whether the
// connection stays open for the next request.
template <class Stream>
asio::awaitable<bool> Server::Impl::answer(Stream& stream, asio::steady_timer& timer,
                                           http::request<http::string_body>&& beast_req) {
  unsigned version = beast_req.version();
  bool keep_alive = beast_req.keep_alive();
  Request req = to_request(std::move(beast_req));
  Routed routed = route(req);
  if (routed.service && routed.service->is_control(req)) {
    auto res = to_beast(dispatch(routed, req), version, keep_alive);
    auto [ec, n] = co_await http::async_write(stream, res, kUseTuple);
    co_return !ec && !res.need_eof();
  }
  InFlight in_flight(stats, routed.kind);

  FaultDecision fault;
  std::chrono::milliseconds delay{0};
  {
    fault = faults.decide(req.method, req.target);
    delay = fault.delay + std::chrono::milliseconds(config.latency_ms);
  }
  for (FaultKind k : fault.fired) stats.fault_injected(to_string(k));
  if (delay.count() > 0) {
    timer.expires_after(delay);
    co_await timer.async_wait(kUseTuple);
  }
  if (fault.action == FaultKind::hang) {
    co_await hold_open(stream);
    co_return false;
  }
  if (fault.action == FaultKind::reset) {
    reset_connection(raw_socket(stream));
    co_return false;
  }

  Response response;
  if (fault.action == FaultKind::status) {
    response =
        google_error(fault.status, "Injected fault (fakegcp).", reason_for_status(fault.status));
    if (fault.retry_after) response.set_header("Retry-After", std::to_string(*fault.retry_after));
  } else {
    response = co_await dispatch_async(routed, req, timer);
  }
  auto res = to_beast(std::move(response), version, keep_alive);
  in_flight.answered(res.result_int());
  if (fault.action == FaultKind::truncate) {
    co_await send_truncated(stream, res);
    co_return false;
  }
  auto [ec, n] = co_await http::async_write(stream, res, kUseTuple);
  if (ec) co_return false;
  if (res.need_eof()) {
    co_await graceful_close(stream);
    co_return false;
  }
  co_return true;
}

template <class Stream>
asio::awaitable<void> Server::Impl::serve(Stream& stream) {
  beast::flat_buffer buffer;
  asio::steady_timer timer(stream.get_executor());  // the one timer for latency faults
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(config.header_limit));
    parser.body_limit(config.body_limit);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
    if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      // curl and others wait for this before sending a large upload body.
      http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
      std::tie(ec, n) = co_await http::async_write(stream, go_on, kUseTuple);
    }
    if (!ec && !parser.is_done())
      std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kUseTuple);
    if (ec) {
      if (is_malformed_request(ec)) {
        // A malformed request still gets an answer, then the connection closes.
        auto res = to_beast(api_error(400, "Malformed HTTP request: " + ec.message(), "invalid"),
                            11, false);
        co_await http::async_write(stream, res, kUseTuple);
      }
      co_return;
    }
    if (!co_await answer(stream, timer, parser.release())) co_return;
  }
}

asio::awaitable<void> Server::Impl::run_connection(tcp::socket socket) {
  OpenConnection open(stats);
  error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  if (!tls) {
    co_await serve(socket);
    co_return;
  }
  ssl::stream<tcp::socket> stream(std::move(socket), *tls);
  auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
  if (handshake_ec) co_return;
  co_await serve(stream);
}

asio::awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc));
    auto [ec] = co_await acceptor.async_accept(socket, kUseTuple);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {  // out of descriptors and the like: wait, then accept again
      asio::steady_timer pause(ioc, kAcceptRetryDelay);
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, run_connection(std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        KLOG(warning) << "fakegcp: connection ended by exception: " << ex.what();
      }
    });
  }
}

Server::Server(ServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Server::~Server() { stop(); }

void Server::start() {
  Impl& im = *impl_;
  tcp::endpoint endpoint(loopback_address(im.config.host), im.config.port);
  im.acceptor.open(endpoint.protocol());
  im.acceptor.set_option(asio::socket_base::reuse_address(true));
  im.acceptor.bind(endpoint);
  im.acceptor.listen(asio::socket_base::max_listen_connections);
  im.port = im.acceptor.local_endpoint().port();
  std::string host = endpoint.address().is_v6() ? "[" + im.config.host + "]" : im.config.host;
  im.ctx.base_url =
      std::string(im.tls ? "https" : "http") + "://" + host + ":" + std::to_string(port());
  asio::co_spawn(im.ioc, im.accept_loop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      KLOG(error) << "fakegcp: accept loop ended: " << ex.what();
    }
  });
  unsigned n = std::max(1u, im.config.threads);
  for (unsigned i = 0; i < n; ++i) im.threads.emplace_back([&im] { im.ioc.run(); });
}

void Server::stop() {
  Impl& im = *impl_;
  if (im.stopped) return;
  im.stopped = true;
  im.ioc.stop();
  for (auto& t : im.threads) t.join();
  im.threads.clear();
  for (auto& s : im.services) s->shutdown();  // held replies refer to the io_context
}

unsigned short Server::port() const { return impl_->port; }
const std::string& Server::base_url() const { return impl_->ctx.base_url; }
Stats& Server::stats() { return impl_->stats; }
FaultSet& Server::faults() { return impl_->faults; }
TokenStore& Server::tokens() { return impl_->tokens; }
GcsService& Server::gcs() { return *impl_->gcs; }
PubSubService& Server::pubsub() { return *impl_->pubsub; }
BigQueryService& Server::bigquery() { return *impl_->bigquery; }

}  // namespace fakegcp
