// net/: URL encoding, retry policy, gzip, the in-flight semaphore, and the HTTP
// client against a scripted server on 127.0.0.1 (plain and TLS).

#include <zlib.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kettle/net/async_semaphore.hpp"
#include "kettle/net/gzip.hpp"
#include "kettle/net/http_client.hpp"
#include "kettle/net/retry.hpp"
#include "kettle/net/url.hpp"
#include "response_parser.hpp"
#include "support/poll_until.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace kettle::net;
using namespace std::chrono_literals;
using kettle::test_support::poll_until;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// ---------------------------------------------------------------------------
// Test helpers: gzip, a scripted HTTP(S) server, throwaway certificates.

std::string gzip_text(const std::string& text) {
  z_stream zs{};
  BOOST_REQUIRE(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
                Z_OK);
  std::string out(deflateBound(&zs, text.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  BOOST_REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

using ServerRequest = http::request<http::string_body>;

// What the scripted server does with one request.
struct Reply {
  enum class Action {
    respond,        // a normal response
    hang,           // never answer; wait until the client goes away
    raw_close,      // write `raw` as it is, then close
    raw_hang,       // write `raw`, then never send more
    reset,          // close with RST
    respond_close,  // respond (keep-alive headers) and then close silently
  };
  Action action = Action::respond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
  std::string raw{};
  std::chrono::milliseconds delay{0};  // before acting
  bool held = false;                   // act only once the test calls release()
  bool connection_close = false;       // send Connection: close and close
};

std::string why(const Result<Response>& result) {
  return result ? std::string() : result.error().what();
}

Reply ok(std::string body) { return Reply{.body = std::move(body)}; }
Reply status(int code, std::string body = "") {
  return Reply{.status = code, .body = std::move(body)};
}

using Script = std::function<Reply(const ServerRequest&, int index)>;

// An HTTP/1.1 server on 127.0.0.1 that answers from a script (index counts
// requests from 1) and counts what it sees.
class TestServer {
 public:
  TestServer(asio::io_context& ioc, Script script, ssl::context* tls = nullptr)
      : ioc_(ioc),
        acceptor_(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        port_(acceptor_.local_endpoint().port()),
        script_(std::move(script)),
        tls_(tls),
        gate_(ioc, asio::steady_timer::time_point::max()) {
    asio::co_spawn(ioc, accept_loop(), asio::detached);
  }

  unsigned short port() const { return port_; }
  std::string url(std::string_view target, std::string_view host = "127.0.0.1") const {
    return std::string(tls_ ? "https://" : "http://") + std::string(host) + ":" +
           std::to_string(port()) + std::string(target);
  }

  // Lets every held reply go ahead, now and from now on.
  void release() {
    released_ = true;
    gate_.cancel();
  }

  void stop() {
    release();  // held replies then find their connection closed
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& close : closers_) close();
    closers_.clear();
  }

  int connections = 0;
  int hangups = 0;  // connections that ended while the server waited for a request
  int requests = 0;
  int concurrent = 0;
  int max_concurrent = 0;
  std::vector<ServerRequest> seen;

 private:
  asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      ++connections;
      if (tls_) {
        auto stream = std::make_shared<ssl::stream<tcp::socket>>(std::move(socket), *tls_);
        track(stream);
        asio::co_spawn(ioc_, serve_tls(stream), asio::detached);
      } else {
        auto stream = std::make_shared<tcp::socket>(std::move(socket));
        track(stream);
        asio::co_spawn(ioc_, serve(stream), asio::detached);
      }
    }
  }

  static tcp::socket& lowest(tcp::socket& s) { return s; }
  static tcp::socket& lowest(ssl::stream<tcp::socket>& s) { return s.next_layer(); }

  template <class Stream>
  void track(const std::shared_ptr<Stream>& stream) {
    closers_.push_back([weak = std::weak_ptr<Stream>(stream)] {
      if (auto s = weak.lock()) {
        boost::system::error_code ignored;
        lowest(*s).close(ignored);
      }
    });
  }

  asio::awaitable<void> serve_tls(std::shared_ptr<ssl::stream<tcp::socket>> stream) {
    auto [ec] = co_await stream->async_handshake(ssl::stream_base::server, use_tuple);
    if (ec) co_return;  // the client refused our certificate
    co_await serve(stream);
  }

  template <class Stream>
  asio::awaitable<void> serve(std::shared_ptr<Stream> stream) {
    beast::flat_buffer buffer;
    while (true) {
      ServerRequest request;
      auto [ec, n] = co_await http::async_read(*stream, buffer, request, use_tuple);
      if (ec) {
        ++hangups;
        co_return;
      }
      int index = ++requests;
      seen.push_back(request);
      max_concurrent = std::max(max_concurrent, ++concurrent);
      Reply reply = script_(request, index);
      if (reply.delay.count() > 0) {
        asio::steady_timer timer(ioc_, reply.delay);
        co_await timer.async_wait(use_tuple);
      }
      while (reply.held && !released_) co_await gate_.async_wait(use_tuple);
      --concurrent;
      if (!co_await act(*stream, buffer, request, reply)) co_return;
    }
  }

  // Carries out one reply; false when the connection is finished.
  template <class Stream>
  asio::awaitable<bool> act(Stream& stream, beast::flat_buffer& buffer,
                            const ServerRequest& request, const Reply& reply) {
    boost::system::error_code ignored;
    switch (reply.action) {
      case Reply::Action::respond:
      case Reply::Action::respond_close: {
        http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
        for (const auto& [name, value] : reply.headers) response.set(name, value);
        response.body() = reply.body;
        response.keep_alive(!reply.connection_close);
        if (request.method() == http::verb::head) {
          response.content_length(reply.body.size());
          response.body().clear();
        } else {
          response.prepare_payload();
        }
        auto [ec, n] = co_await http::async_write(stream, response, use_tuple);
        if (ec || reply.connection_close || reply.action == Reply::Action::respond_close) {
          lowest(stream).close(ignored);
          co_return false;
        }
        co_return true;
      }
      case Reply::Action::hang:
        co_await drain_until_closed(stream, buffer);
        co_return false;
      case Reply::Action::raw_close:
        co_await asio::async_write(stream, asio::buffer(reply.raw), use_tuple);
        lowest(stream).close(ignored);
        co_return false;
      case Reply::Action::raw_hang:
        co_await asio::async_write(stream, asio::buffer(reply.raw), use_tuple);
        co_await drain_until_closed(stream, buffer);
        co_return false;
      case Reply::Action::reset:
        lowest(stream).set_option(asio::socket_base::linger(true, 0), ignored);
        lowest(stream).close(ignored);
        co_return false;
    }
    co_return false;
  }

  template <class Stream>
  static asio::awaitable<void> drain_until_closed(Stream& stream, beast::flat_buffer& buffer) {
    while (true) {
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), use_tuple);
      if (ec) co_return;
      buffer.consume(buffer.size());
    }
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  unsigned short port_;
  Script script_;
  ssl::context* tls_;
  std::vector<std::function<void()>> closers_;
  asio::steady_timer gate_;  // never expires; release() wakes the held replies
  bool released_ = false;
};

// Small deadlines and quick retries so failure paths finish fast.
Config quick_config() {
  Config config;
  config.timeouts.connect = 2s;
  config.timeouts.handshake = 2s;
  config.timeouts.write = 2s;
  config.timeouts.headers = 2s;
  config.timeouts.body_idle = 2s;
  config.timeouts.total = 5s;
  config.retry =
      RetryConfig{.max_attempts = 3, .initial_backoff = 5ms, .max_backoff = 20ms, .max_total = 10s};
  return config;
}

// quick_config() whose deadlines never end an attempt within a test: a held
// or hanging reply lasts until the test acts (release, shutdown, stop).
Config patient_config() {
  Config config = quick_config();
  config.timeouts.headers = 60s;
  config.timeouts.total = 60s;
  return config;
}

// Runs `body` on `ioc` with a watchdog; `shutdown` runs once the body ends so
// the io_context runs out of work.
void run(asio::io_context& ioc, const std::function<asio::awaitable<void>()>& body,
         const std::function<void()>& shutdown) {
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(ioc, body(), [&](std::exception_ptr e) {
    finished = true;
    failure = e;
    shutdown();
  });
  ioc.run_for(30s);
  BOOST_REQUIRE_MESSAGE(finished, "the test did not finish before its watchdog");
  if (failure) std::rethrow_exception(failure);
}

// A server and a client on one io_context.
struct Harness {
  explicit Harness(Script script, Config config = quick_config(), ssl::context* tls = nullptr)
      : server(ioc, std::move(script), tls), client(ioc.get_executor(), std::move(config)) {}

  void run(const std::function<asio::awaitable<void>()>& body) {
    ::run(ioc, body, [this] {
      server.stop();
      client.stop();
    });
  }

  asio::awaitable<Result<Response>> get(std::string target) {
    co_return co_await client.request(Request(server.url(target)));
  }

  asio::io_context ioc;
  TestServer server;
  HttpClient client;
};

// A port on 127.0.0.1 with nothing listening: connections to it are refused.
unsigned short closed_port(asio::io_context& ioc) {
  tcp::acceptor probe(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return probe.local_endpoint().port();
}

// Writes down every observer call as one line, in order.
struct RecordingObserver : Observer {
  void attempt_started(std::string_view api) override {
    events.push_back("started " + std::string(api));
  }
  void attempt_finished(std::string_view api, int status, std::optional<ErrorKind> error,
                        Duration) override {
    events.push_back("finished " + std::string(api) + " " + std::to_string(status) + " " +
                     (error ? std::string(to_string(*error)) : "-"));
  }
  void retry_scheduled(std::string_view api, Duration) override {
    events.push_back("retry " + std::string(api));
  }
  std::vector<std::string> events;
};

bool mentions(const Error& error, std::string_view words) {
  return error.message.find(words) != std::string::npos;
}

// A throwaway CA and certificates, made once with the openssl CLI.
class Certificates {
 public:
  static const Certificates& get() {
    static Certificates instance;
    return instance;
  }
  fs::path dir;
  fs::path ca() const { return dir / "ca.pem"; }

  // A server TLS context presenting certificate `name` (good, other, self).
  std::unique_ptr<ssl::context> server_context(const std::string& name) const {
    auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
    context->use_certificate_chain_file((dir / (name + ".pem")).string());
    context->use_private_key_file((dir / (name + ".key")).string(), ssl::context::pem);
    return context;
  }

  ~Certificates() {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }

 private:
  Certificates() {
    std::string pattern = (fs::temp_directory_path() / "kettle-net-test-XXXXXX").string();
    BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh("openssl req -x509 " + key + " -keyout ca.key -out ca.pem -days 2 -subj /CN=kettle-test-ca" +
       " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
    signed_by_ca("good", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    signed_by_ca("other", "subjectAltName=DNS:other.invalid");
    sh("openssl req -x509 " + key + " -keyout self.key -out self.pem -days 2 -subj /CN=localhost" +
       " -addext subjectAltName=DNS:localhost,IP:127.0.0.1");
  }

  void signed_by_ca(const std::string& name, const std::string& san) {
    std::ofstream(dir / (name + ".ext"))
        << san << "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
       ".key -out " + name + ".csr -subj /CN=" + name);
    sh("openssl x509 -req -in " + name +
       ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out " + name + ".pem -extfile " +
       name + ".ext");
  }

  void sh(const std::string& command) const {
    std::string full = "cd '" + dir.string() + "' && " + command + " >/dev/null 2>&1";
    BOOST_REQUIRE_MESSAGE(std::system(full.c_str()) == 0, "failed: " + command);
  }
};

}  // namespace

// ---------------------------------------------------------------------------
// URLs and encoding

BOOST_AUTO_TEST_SUITE(net_url)

BOOST_AUTO_TEST_CASE(parses_scheme_host_port_and_target) {
  auto url = Url::parse("HTTPS://Storage.GoogleAPIs.com/storage/v1/b/x/o?prefix=a#frag");
  BOOST_REQUIRE(url);
  BOOST_TEST(url->scheme == "https");
  BOOST_TEST(url->host == "storage.googleapis.com");
  BOOST_TEST(url->port == 443);
  BOOST_TEST(url->target == "/storage/v1/b/x/o?prefix=a");
  BOOST_TEST(url->origin() == "https://storage.googleapis.com");

  auto local = Url::parse("http://127.0.0.1:9023");
  BOOST_REQUIRE(local);
  BOOST_TEST(local->port == 9023);
  BOOST_TEST(local->target == "/");
  BOOST_TEST(local->authority() == "127.0.0.1:9023");

  auto query_only = Url::parse("http://h?x=1");
  BOOST_REQUIRE(query_only);
  BOOST_TEST(query_only->target == "/?x=1");

  auto v6 = Url::parse("http://[::1]:8085/v1");
  BOOST_REQUIRE(v6);
  BOOST_TEST(v6->host == "::1");
  BOOST_TEST(v6->origin() == "http://[::1]:8085");
}

BOOST_AUTO_TEST_CASE(rejects_bad_urls) {
  for (const char* bad : {"", "storage.googleapis.com/x", "ftp://host/x", "http://", "http://:80/",
                          "http://h:0/", "http://h:65536/", "http://h:12ab/", "http://user:pw@h/",
                          "http://[::1/", "http://h/a b", "http://h/a\r\nX: y", "http://h:/",
                          // brackets outside an IP literal, two ports, ports out of range
                          "http://a[b]c:80/", "http://a:1:2/", "http://h:99999/", "http://h:-1/",
                          "http://h:4294967376/", "http://[::1]x/", "http://[::1]:/", "http://[]/",
                          "http://[v1.x]/", "http://[::1%25eth0]/", "http://[1.2.3.4]/",
                          // empty hosts and hosts the resolver and Host header would read apart
                          "http:///x", "https://:443", "http://h%41/", "http://h,i/", "http://h!/",
                          // credentials, even empty ones
                          "http://user@h/", "http://:@h/", "http://@h/", "https://u:p@[::1]:8080/",
                          // no authority (Boost.URL 1.81 fails an assertion on the last three)
                          "http:/x", "http:x", "https:", "http:?", "http:#", "a:#",
                          // spaces, controls, non-ASCII and bad escapes anywhere
                          " http://h/", "http://h/ ", "http://h /", "http://h/\t", "http://h/\x7F",
                          "http://h/\xC3\xBC", "http://h/?q=a b", "http://h/#a b", "http://h/%zz",
                          "http://h/%4", "http://h/a\\b", "http://h/{x}", "http://h/a|b"}) {
    BOOST_TEST(!Url::parse(bad).has_value(), "accepted: " << bad);
  }
  BOOST_TEST(!Url::parse(std::string_view("http://h/a\0b", 11)).has_value());
}

BOOST_AUTO_TEST_CASE(accepts_ip_literals_ports_and_odd_paths) {
  auto v6 = Url::parse("http://[::1]:8080/x");
  BOOST_REQUIRE(v6);
  BOOST_TEST(v6->host == "::1");
  BOOST_TEST(v6->port == 8080);
  BOOST_TEST(v6->target == "/x");
  BOOST_TEST(v6->str() == "http://[::1]:8080/x");

  // IPv6 in canonical form, so equal addresses make the same pool key.
  auto long_v6 = Url::parse("https://[0:0:0:0:0:0:0:1]/");
  BOOST_REQUIRE(long_v6);
  BOOST_TEST(long_v6->host == "::1");
  BOOST_TEST(long_v6->origin() == "https://[::1]");
  auto upper_v6 = Url::parse("http://[FE80::A]:1/");
  BOOST_REQUIRE(upper_v6);
  BOOST_TEST(upper_v6->host == "fe80::a");

  auto explicit_default = Url::parse("https://h:443/x");
  BOOST_REQUIRE(explicit_default);
  BOOST_TEST(explicit_default->port == 443);
  BOOST_TEST(explicit_default->str() == "https://h/x");
  BOOST_TEST(Url::parse("http://h:65535/").value().port == 65535);
  BOOST_TEST(Url::parse("http://h:0080/").value().port == 80);

  // The path and query go to the request line as given, escapes included.
  auto encoded = Url::parse("https://h/storage/v1/b/x/o/a%2Fb%20c?prefix=p%2F&x=&&y=?#frag");
  BOOST_REQUIRE(encoded);
  BOOST_TEST(encoded->target == "/storage/v1/b/x/o/a%2Fb%20c?prefix=p%2F&x=&&y=?");
  BOOST_TEST(Url::parse("http://h/v1/projects/p/subscriptions/s:pull").value().target ==
             "/v1/projects/p/subscriptions/s:pull");
  BOOST_TEST(Url::parse("http://h#f").value().target == "/");
  BOOST_TEST(Url::parse("http://h?").value().target == "/?");
  BOOST_TEST(Url::parse("http://h//x").value().target == "//x");
  BOOST_TEST(Url::parse("http://h_1.example-x~/").value().host == "h_1.example-x~");
}

BOOST_AUTO_TEST_CASE(what_parses_prints_a_url_that_parses_to_the_same_parts) {
  for (const char* text : {"http://h",
                           "HTTP://H",
                           "hTtPs://Storage.GoogleAPIs.com:443/a?b#c",
                           "http://h:80",
                           "https://h:80/",
                           "http://h:0080/",
                           "http://127.0.0.1:9023",
                           "http://[::1]:8080/x",
                           "http://[0:0::1]/",
                           "http://[::FFFF:1.2.3.4]/",
                           "http://[2001:DB8::1]:65535/a",
                           "http://h?x=1",
                           "http://h/?",
                           "http://h#",
                           "http://h//x//",
                           "http://h/.././a/./b",
                           "http://h/a%2Fb%zz",
                           "http://h/a%2fb?c=%3D&d",
                           "http://h/a:b@c!$&'()*+,;=",
                           "http://h/?q=/?:@",
                           "http://h./",
                           "http://1.2.3.4.5/",
                           "http://999.1.1.1/",
                           "http://0x7f.1/",
                           "http://h:1/p?q#f#g",
                           "https://h.example:65535?"}) {
    auto url = Url::parse(text);
    if (!url) continue;  // refusals are covered above; this is about what is accepted
    auto again = Url::parse(url->str());
    BOOST_TEST_REQUIRE(again.has_value(), text << " printed as unparsable " << url->str());
    BOOST_TEST((*again == *url), text << " -> " << url->str() << " -> " << again->str());
    BOOST_TEST(again->str() == url->str(), text);
    BOOST_TEST(url->target.starts_with('/'), text);
    BOOST_TEST(url->target.find('#') == std::string::npos, text);
  }
}

BOOST_AUTO_TEST_CASE(encodes_weird_object_names_as_one_segment) {
  BOOST_TEST(encode_path_segment("pr-logs/pull/123/job name/1#2?x%y+z") ==
             "pr-logs%2Fpull%2F123%2Fjob%20name%2F1%232%3Fx%25y%2Bz");
  BOOST_TEST(encode_path_segment("A-z_0.9~") == "A-z_0.9~");
  BOOST_TEST(encode_path_segment("\xC3\xBC\xE2\x9C\x93") == "%C3%BC%E2%9C%93");  // ü ✓ in UTF-8
  BOOST_TEST(encode_path_segment(std::string("a\0b", 3)) == "a%00b");
  for (std::string name : {"a b/c#d?e%f", "\xC3\xBC/\xE2\x9C\x93", "%%%", ""}) {
    BOOST_TEST(percent_decode(encode_path_segment(name)).value() == name);
  }
  BOOST_TEST(!percent_decode("%").has_value());
  BOOST_TEST(!percent_decode("%4").has_value());
  BOOST_TEST(!percent_decode("%zz").has_value());
  BOOST_TEST(percent_decode("a+b%2f").value() == "a+b/");
}

BOOST_AUTO_TEST_CASE(builds_queries_in_order) {
  Query query;
  query.add("prefix", "pr-logs/directory/")
      .add("delimiter", "/")
      .add_if("pageToken", "")
      .add("q", "a b&c=d");
  BOOST_TEST(query.str() == "?prefix=pr-logs%2Fdirectory%2F&delimiter=%2F&q=a%20b%26c%3Dd");
  BOOST_TEST(Query{}.str() == "");
  BOOST_TEST(join_url("http://h:1/", "/storage/v1/b") == "http://h:1/storage/v1/b");
  BOOST_TEST(join_url("https://h/base", "x?y=1") == "https://h/base/x?y=1");
}

BOOST_AUTO_TEST_CASE(emulator_variables_become_http_base_urls) {
  BOOST_TEST(emulator_base_url("localhost:9023").value() == "http://localhost:9023");
  BOOST_TEST(emulator_base_url("http://127.0.0.1:8085/").value() == "http://127.0.0.1:8085");
  BOOST_TEST(emulator_base_url("https://gcs.local").value() == "https://gcs.local");
  BOOST_TEST(emulator_base_url("[::1]:8085").value() == "http://[::1]:8085");
  BOOST_TEST(!emulator_base_url("").has_value());
  BOOST_TEST(!emulator_base_url("host:notaport").has_value());
  BOOST_TEST(emulator_base_url("fake-gcs:4443").value() == "http://fake-gcs:4443");
  BOOST_TEST(emulator_base_url("http://fake-gcs:4443").value() == "http://fake-gcs:4443");
  BOOST_TEST(emulator_base_url(" http://Fake-GCS:4443/ ").value() == "http://fake-gcs:4443");
  BOOST_TEST(emulator_base_url("http://h:1/prefix/").value() == "http://h:1/prefix");
  // No trailing '/' left once the fragment goes: a base is its own base.
  BOOST_TEST(emulator_base_url("http://h:1/prefix//#x/").value() == "http://h:1/prefix");
  BOOST_TEST(emulator_base_url("http://h:1/#x").value() == "http://h:1");
  BOOST_TEST(emulator_base_url("127.0.0.1:8085").value() == "http://127.0.0.1:8085");
  BOOST_TEST(!emulator_base_url("user:pw@h:1").has_value());
  BOOST_TEST(!emulator_base_url("h:1:2").has_value());
  BOOST_TEST(!emulator_base_url("h:70000").has_value());
  BOOST_TEST(!emulator_base_url("gs://h:1").has_value());
  ::setenv("KETTLE_NET_TEST_EMULATOR", "fake:4443", 1);
  BOOST_TEST(emulator_base_url_from_env("KETTLE_NET_TEST_EMULATOR").value() == "http://fake:4443");
  ::unsetenv("KETTLE_NET_TEST_EMULATOR");
  BOOST_TEST(!emulator_base_url_from_env("KETTLE_NET_TEST_EMULATOR").has_value());
}

BOOST_AUTO_TEST_CASE(endpoint_prefers_a_usable_emulator_variable) {
  const char* first = "KETTLE_NET_TEST_EMULATOR_A";
  const char* second = "KETTLE_NET_TEST_EMULATOR_B";
  const char* custom = "KETTLE_NET_TEST_CUSTOM";
  ::setenv(first, "user:pw@h:1", 1);  // unusable: skipped, not an error
  ::setenv(second, "fake:4443", 1);
  auto emulator = endpoint_from_env({first, second}, custom, "https://api.example");
  BOOST_TEST(emulator.base_url == "http://fake:4443");
  BOOST_TEST(emulator.emulator);
  ::setenv(second, "http://[::1]:8085/", 1);
  BOOST_TEST(endpoint_from_env({first, second}, custom, "https://api.example").base_url ==
             "http://[::1]:8085");
  ::unsetenv(first);
  ::unsetenv(second);
  ::setenv(custom, "https://custom.example/", 1);
  auto custom_endpoint = endpoint_from_env({first, second}, custom, "https://api.example");
  BOOST_TEST(custom_endpoint.base_url == "https://custom.example");
  BOOST_TEST(!custom_endpoint.emulator);
  ::unsetenv(custom);
  BOOST_TEST(endpoint_from_env({first, second}, custom, "https://api.example").base_url ==
             "https://api.example");
}

BOOST_AUTO_TEST_CASE(headers_are_case_insensitive) {
  Headers headers;
  headers.add("Content-Type", "text/plain");
  headers.add("X-A", "1");
  headers.add("x-a", "2");
  BOOST_TEST(headers.get("content-type").value() == "text/plain");
  BOOST_TEST(headers.get("X-A").value() == "1");
  headers.set("X-a", "3");
  BOOST_TEST(headers.size() == 2u);
  BOOST_TEST(headers.get("x-A").value() == "3");
  headers.erase("CONTENT-TYPE");
  BOOST_TEST(!headers.contains("content-type"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Retry policy (pure)

BOOST_AUTO_TEST_SUITE(net_retry)

BOOST_AUTO_TEST_CASE(classifies_statuses_and_errors) {
  for (int code : {408, 429, 500, 502, 503, 504, 599}) BOOST_TEST(is_retryable_status(code), code);
  for (int code : {200, 204, 301, 304, 400, 401, 403, 404, 409, 412, 600})
    BOOST_TEST(!is_retryable_status(code), code);
  for (auto kind :
       {ErrorKind::connect, ErrorKind::timeout, ErrorKind::reset, ErrorKind::protocol}) {
    BOOST_TEST(is_retryable(kind));
  }
  for (auto kind :
       {ErrorKind::invalid_request, ErrorKind::tls, ErrorKind::too_large, ErrorKind::cancelled}) {
    BOOST_TEST(!is_retryable(kind));
  }
}

BOOST_AUTO_TEST_CASE(parses_retry_after_seconds_only) {
  BOOST_TEST(parse_retry_after("1").value() == Duration(1s));
  BOOST_TEST(parse_retry_after(" 120 ").value() == Duration(120s));
  BOOST_TEST(!parse_retry_after("").has_value());
  BOOST_TEST(!parse_retry_after("-1").has_value());
  BOOST_TEST(!parse_retry_after("1.5").has_value());
  BOOST_TEST(!parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  BOOST_TEST(!parse_retry_after("99999999999999999999").has_value());
}

BOOST_AUTO_TEST_CASE(backoff_is_random_below_a_doubling_capped_ceiling) {
  RetryPolicy policy(
      RetryConfig{.max_attempts = 100, .initial_backoff = 1s, .max_backoff = 60s, .max_total = 24h},
      42);
  BOOST_TEST(policy.backoff_ceiling(1) == Duration(1s));
  BOOST_TEST(policy.backoff_ceiling(2) == Duration(2s));
  BOOST_TEST(policy.backoff_ceiling(6) == Duration(32s));
  BOOST_TEST(policy.backoff_ceiling(7) == Duration(60s));
  BOOST_TEST(policy.backoff_ceiling(1000) == Duration(60s));
  Duration smallest = 1h, largest{};
  for (int i = 0; i < 200; ++i) {
    auto delay = policy.next_delay(7, 0s);
    BOOST_REQUIRE(delay);
    BOOST_TEST((*delay >= Duration{} && *delay < Duration(60s)));
    smallest = std::min(smallest, *delay);
    largest = std::max(largest, *delay);
  }
  BOOST_TEST((largest - smallest > Duration(10s)));  // really random, not a fixed sleep
  auto first = policy.next_delay(1, 0s);
  BOOST_TEST((first && *first < Duration(1s)));
}

BOOST_AUTO_TEST_CASE(stops_after_max_attempts_or_max_total) {
  RetryPolicy policy(RetryConfig{
      .max_attempts = 3, .initial_backoff = 1s, .max_backoff = 60s, .max_total = 10min});
  BOOST_TEST(policy.next_delay(1, 0s).has_value());
  BOOST_TEST(policy.next_delay(2, 0s).has_value());
  BOOST_TEST(!policy.next_delay(3, 0s).has_value());
  BOOST_TEST(!policy.next_delay(1, 10min).has_value());
  BOOST_TEST(
      !policy.next_delay(1, 9min + 59s, 2s).has_value());  // the sleep would end past the budget
}

BOOST_AUTO_TEST_CASE(retry_after_replaces_random_delay_within_cap) {
  RetryPolicy policy(RetryConfig{
      .max_attempts = 10, .initial_backoff = 1s, .max_backoff = 60s, .max_total = 10min});
  BOOST_TEST(policy.next_delay(1, 0s, Duration(5s)).value() == Duration(5s));
  BOOST_TEST(policy.next_delay(1, 0s, Duration(1h)).value() == Duration(60s));
  BOOST_TEST(policy.next_delay(1, 0s, Duration(0s)).value() == Duration(0s));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// gzip decoding and the in-flight semaphore

BOOST_AUTO_TEST_SUITE(net_parts)

BOOST_AUTO_TEST_CASE(gunzip_decodes_within_limit) {
  std::string text(100000, 'k');
  for (std::size_t i = 0; i < text.size(); i += 7) text[i] = static_cast<char>('a' + i % 26);
  std::string out;
  BOOST_TEST((gunzip(gzip_text(text), text.size(), out) == GunzipStatus::ok));
  BOOST_TEST(out == text);
  // Concatenated members are one valid gzip stream.
  BOOST_TEST((gunzip(gzip_text("ab") + gzip_text("cd"), 100, out) == GunzipStatus::ok));
  BOOST_TEST(out == "abcd");
  BOOST_TEST((gunzip(gzip_text(text), text.size() - 1, out) == GunzipStatus::too_large));
  std::string packed = gzip_text(text);
  BOOST_TEST(
      (gunzip(packed.substr(0, packed.size() / 2), text.size(), out) == GunzipStatus::corrupt));
  BOOST_TEST((gunzip("not gzip at all", 100, out) == GunzipStatus::corrupt));
  BOOST_TEST((gunzip("", 100, out) == GunzipStatus::corrupt));
}

// A parser as the client sets one up (body limit `body_limit`, headers 128
// bytes), fed `wire` as a socket would; returns the first error.
boost::system::error_code parse_wire(std::optional<detail::ResponseParser>& parser, std::string_view wire,
                                     std::size_t body_limit, bool head = false) {
  const detail::Limits limits{.timeouts = {}, .body_limit = body_limit, .header_limit = 128,
                              .accept_gzip = false, .user_agent = "test"};
  detail::start_response(parser, limits, head);
  boost::system::error_code ec;
  while (!ec && !wire.empty() && !parser->is_done())
    wire.remove_prefix(parser->put(asio::buffer(wire.data(), wire.size()), ec));
  return ec;
}

BOOST_AUTO_TEST_CASE(response_parser_applies_the_attempt_limits) {
  std::optional<detail::ResponseParser> parser;
  const auto chunked = parse_wire(parser,
                                  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n"
                                  "5\r\nhello\r\n0\r\n\r\n",
                                  5);
  BOOST_REQUIRE(!chunked);
  BOOST_REQUIRE(parser->is_done());
  BOOST_TEST(detail::keeps_alive(*parser));
  const Response response = detail::take_response(*parser);
  BOOST_TEST(response.status == 200);
  BOOST_TEST(response.body == "hello");
  BOOST_TEST(response.headers.get("x-a").value_or("") == "b");

  // Over the body limit, announced or as chunks arrive; over the header limit.
  BOOST_TEST((parse_wire(parser, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello!", 5) ==
              http::error::body_limit));
  BOOST_TEST((parse_wire(parser, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello!\r\n", 5) ==
              http::error::body_limit));
  BOOST_TEST((parse_wire(parser, "HTTP/1.1 200 OK\r\nX: " + std::string(200, 'a') + "\r\n\r\n", 5) ==
              http::error::header_limit));

  // A HEAD answer has no body, whatever its Content-Length says.
  BOOST_TEST(!parse_wire(parser, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 5, true));
  BOOST_TEST(parser->is_done());

  BOOST_TEST(detail::is_interim_status(100));
  BOOST_TEST(detail::is_interim_status(103));
  BOOST_TEST(!detail::is_interim_status(101));  // Switching Protocols is final
  BOOST_TEST(!detail::is_interim_status(200));
  BOOST_TEST(!detail::is_interim_status(99));
}

BOOST_AUTO_TEST_CASE(semaphore_bounds_and_serves_in_order) {
  asio::io_context ioc;
  AsyncSemaphore semaphore(ioc.get_executor(), 2);
  std::vector<int> order;
  int holding = 0, most = 0;
  auto worker = [&](int id) -> asio::awaitable<void> {
    auto permit = co_await semaphore.acquire();
    BOOST_REQUIRE(permit);
    order.push_back(id);
    most = std::max(most, ++holding);
    asio::steady_timer timer(ioc, 5ms);
    co_await timer.async_wait(use_tuple);
    --holding;
  };
  for (int id = 0; id < 6; ++id) asio::co_spawn(ioc, worker(id), asio::detached);
  ioc.run_for(10s);
  BOOST_TEST(most == 2);
  BOOST_TEST(order == (std::vector<int>{0, 1, 2, 3, 4, 5}));
  BOOST_TEST(semaphore.available() == 2u);
  BOOST_TEST(semaphore.waiting() == 0u);

  auto held = semaphore.try_acquire();
  auto second = semaphore.try_acquire();
  BOOST_TEST((held && second && !semaphore.try_acquire()));
  held.release();
  BOOST_TEST(semaphore.available() == 1u);
}

// A waiter handed a permit still counts as waiting until it resumes: the
// client keeps idle connections for it rather than closing them under it.
BOOST_AUTO_TEST_CASE(semaphore_counts_a_granted_waiter_until_it_resumes) {
  asio::io_context ioc;
  AsyncSemaphore semaphore(ioc.get_executor(), 1);
  auto held = semaphore.try_acquire();
  bool resumed = false;
  auto waiter = [&]() -> asio::awaitable<void> {
    auto permit = co_await semaphore.acquire();
    resumed = static_cast<bool>(permit);
  };
  asio::co_spawn(ioc, waiter(), asio::detached);
  ioc.poll();
  BOOST_TEST(semaphore.waiting() == 1u);
  held.release();  // granted now, resumed only when the io_context runs
  BOOST_TEST(!resumed);
  BOOST_TEST(semaphore.waiting() == 1u);
  BOOST_TEST(semaphore.available() == 0u);
  ioc.run_for(10s);
  BOOST_TEST(resumed);
  BOOST_TEST(semaphore.waiting() == 0u);
  BOOST_TEST(semaphore.available() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// The client against the scripted server

BOOST_AUTO_TEST_SUITE(net_client)

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection) {
  Harness h([](const ServerRequest& r, int i) {
    return ok(std::string(r.target()) + " #" + std::to_string(i));
  });
  h.run([&]() -> asio::awaitable<void> {
    for (int i = 1; i <= 5; ++i) {
      auto result = co_await h.get("/o/" + std::to_string(i));
      BOOST_REQUIRE(result);
      BOOST_TEST(result->status == 200);
      BOOST_TEST(result->body == "/o/" + std::to_string(i) + " #" + std::to_string(i));
    }
  });
  BOOST_TEST(h.server.connections == 1);
  BOOST_TEST(h.client.stats().connections_opened == 1u);
  BOOST_TEST(h.client.stats().connections_reused == 4u);
  BOOST_TEST(h.client.stats().requests_ok == 5u);
  BOOST_TEST(h.client.stats().in_flight == 0);
  BOOST_TEST(std::string(h.server.seen[0][http::field::user_agent]) == "kettle/0.1");
  BOOST_TEST(std::string(h.server.seen[0][http::field::host]) ==
             "127.0.0.1:" + std::to_string(h.server.port()));
}

BOOST_AUTO_TEST_CASE(post_sends_body_and_headers) {
  Harness h([](const ServerRequest& r, int) {
    return ok(std::string(r.method_string()) + " " + std::string(r["Content-Type"]) + " " +
              r.body());
  });
  h.run([&]() -> asio::awaitable<void> {
    Request request("POST", h.server.url("/insert"), R"({"rows":[]})");
    request.headers.set("Content-Type", "application/json");
    auto result = co_await h.client.request(request);
    BOOST_REQUIRE(result);
    BOOST_TEST(result->body == R"(POST application/json {"rows":[]})");
    auto head = co_await h.client.request(Request("HEAD", h.server.url("/x")));
    BOOST_REQUIRE(head);
    BOOST_TEST(head->status == 200);
    BOOST_TEST(head->body.empty());
    auto after = co_await h.get("/after-head");  // the HEAD left the connection usable
    BOOST_REQUIRE(after);
    BOOST_TEST(after->body.starts_with("GET"));
  });
  BOOST_TEST(h.server.connections == 1);
}

BOOST_AUTO_TEST_CASE(connection_close_is_not_reused) {
  Harness h(
      [](const ServerRequest&, int) { return Reply{.body = "bye", .connection_close = true}; });
  h.run([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) BOOST_TEST((co_await h.get("/x")).value().body == "bye");
  });
  BOOST_TEST(h.server.connections == 3);
  BOOST_TEST(h.client.stats().connections_reused == 0u);
}

BOOST_AUTO_TEST_CASE(server_closing_idle_connections_is_harmless) {
  // The server drops every connection after answering, without saying so.
  Harness h([](const ServerRequest&, int i) {
    return Reply{.action = Reply::Action::respond_close, .body = std::to_string(i)};
  });
  h.run([&]() -> asio::awaitable<void> {
    for (int i = 1; i <= 4; ++i) {
      auto result = co_await h.get("/x");
      BOOST_REQUIRE_MESSAGE(result.has_value(), why(result));
      BOOST_TEST(result->body == std::to_string(i));
    }
  });
  BOOST_TEST(h.server.requests == 4);
  BOOST_TEST(h.client.stats().retries == 0u);
}

BOOST_AUTO_TEST_CASE(stale_pooled_connection_is_resent_on_a_new_one) {
  Config config = quick_config();
  config.retry.max_attempts = 1;  // the resend is not a retry
  // The second request reaches the kept-alive connection, which closes unanswered.
  Harness h(
      [](const ServerRequest&, int i) {
        return i == 2 ? Reply{.action = Reply::Action::raw_close} : ok(std::to_string(i));
      },
      config);
  h.run([&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await h.get("/1")).value().body == "1");
    auto second = co_await h.get("/2");
    BOOST_REQUIRE_MESSAGE(second.has_value(), why(second));
    BOOST_TEST(second->body == "3");
  });
  BOOST_TEST(h.server.connections == 2);
  BOOST_TEST(h.client.stats().retries == 0u);
}

BOOST_AUTO_TEST_CASE(timeout_on_pooled_connection_is_not_resent) {
  Config config = quick_config();
  config.timeouts.headers = 200ms;
  config.retry.max_attempts = 1;
  Harness h([](const ServerRequest&,
               int i) { return i == 1 ? ok("first") : Reply{.action = Reply::Action::hang}; },
            config);
  h.run([&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await h.get("/1")).value().body == "first");
    auto hung = co_await h.get("/2");
    BOOST_REQUIRE(!hung);
    BOOST_TEST((hung.error().kind == ErrorKind::timeout));
  });
  BOOST_TEST(h.server.requests == 2);  // one deadline spent, not two
}

BOOST_AUTO_TEST_CASE(retries_503_then_succeeds) {
  Harness h([](const ServerRequest&, int i) { return i == 1 ? status(503, "busy") : ok("done"); });
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/x");
    BOOST_REQUIRE(result);
    BOOST_TEST(result->body == "done");
  });
  BOOST_TEST(h.server.requests == 2);
  BOOST_TEST(h.client.stats().retries == 1u);
}

BOOST_AUTO_TEST_CASE(persistent_5xx_becomes_http_status_error) {
  Harness h([](const ServerRequest&, int) { return status(500, "backend exploded"); });
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/x");
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::http_status));
    BOOST_TEST(result.error().status == 500);
    BOOST_TEST(result.error().attempts == 3);
    BOOST_TEST(result.error().what().find(h.server.url("/x")) != std::string::npos);
    BOOST_TEST(result.error().what().find("backend exploded") != std::string::npos);
    BOOST_CHECK_THROW(result.value(), RequestError);
  });
  BOOST_TEST(h.server.requests == 3);
  BOOST_TEST(h.client.stats().requests_failed == 1u);
}

BOOST_AUTO_TEST_CASE(honours_retry_after_on_429) {
  // Random backoff here would be hours, past the total budget: only the
  // server's Retry-After: 1 lets the retry happen at all.
  Config config = quick_config();
  config.retry = RetryConfig{
      .max_attempts = 3, .initial_backoff = 10000h, .max_backoff = 10000h, .max_total = 20s};
  Harness h(
      [](const ServerRequest&, int i) {
        if (i > 1) return ok("finally");
        Reply reply = status(429, "slow down");
        reply.headers = {{"Retry-After", "1"}};
        return reply;
      },
      config);
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/x");
    BOOST_REQUIRE(result);
    BOOST_TEST(result->body == "finally");
  });
  BOOST_TEST(h.server.requests == 2);
}

BOOST_AUTO_TEST_CASE(without_retry_after_the_same_budget_gives_up) {
  Config config = quick_config();
  config.retry = RetryConfig{
      .max_attempts = 3, .initial_backoff = 10000h, .max_backoff = 10000h, .max_total = 20s};
  Harness h([](const ServerRequest&, int) { return status(429); }, config);
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/x");
    BOOST_REQUIRE(!result);
    BOOST_TEST(result.error().status == 429);
  });
  BOOST_TEST(h.server.requests == 1);
}

BOOST_AUTO_TEST_CASE(not_found_is_final_and_returned) {
  Harness h([](const ServerRequest&, int) { return status(404, "No such object"); });
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/absent");
    BOOST_REQUIRE(result);
    BOOST_TEST(result->status == 404);
    BOOST_TEST(result->body == "No such object");
  });
  BOOST_TEST(h.server.requests == 1);
  BOOST_TEST(h.client.stats().retries == 0u);
}

BOOST_AUTO_TEST_CASE(hung_server_times_out_after_bounded_attempts) {
  Config config = quick_config();
  config.timeouts.headers = 200ms;
  config.retry.max_attempts = 2;
  Harness h([](const ServerRequest&, int) { return Reply{.action = Reply::Action::hang}; }, config);
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/stall");
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::timeout));
    BOOST_TEST(result.error().attempts == 2);
    BOOST_TEST(result.error().message.find("response headers") != std::string::npos);
  });
  BOOST_TEST(h.server.requests == 2);
}

BOOST_AUTO_TEST_CASE(attempt_deadline_bounds_a_slow_trickle) {
  Config config = quick_config();
  config.timeouts.total = 300ms;
  config.retry.max_attempts = 1;
  // Headers arrive, then the body never completes: the attempt deadline ends it.
  Harness h(
      [](const ServerRequest&, int) {
        return Reply{.action = Reply::Action::raw_hang,
                     .raw = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"};
      },
      config);
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/x");
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::timeout));
    BOOST_TEST(result.error().message.find("attempt deadline") != std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(stall_mid_body_times_out) {
  Config config = quick_config();
  config.timeouts.body_idle = 200ms;
  Harness h(
      [](const ServerRequest&, int) {
        return Reply{.action = Reply::Action::raw_hang,
                     .raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart"};
      },
      config);
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/x");
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::timeout));
    BOOST_TEST(result.error().message.find("body") != std::string::npos);
  });
  BOOST_TEST(h.server.requests == 3);
}

BOOST_AUTO_TEST_CASE(truncated_body_is_retried_then_reported) {
  Harness h([](const ServerRequest&, int) {
    return Reply{.action = Reply::Action::raw_close,
                 .raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"};
  });
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/x");
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::protocol));
    BOOST_TEST(result.error().message.find("truncated") != std::string::npos);
  });
  BOOST_TEST(h.server.requests == 3);
}

BOOST_AUTO_TEST_CASE(truncation_then_success) {
  Harness h([](const ServerRequest&, int i) {
    if (i == 1)
      return Reply{.action = Reply::Action::raw_close,
                   .raw = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab"};
    return ok("abcdefghi");
  });
  h.run([&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await h.get("/x")).value().body == "abcdefghi");
  });
  BOOST_TEST(h.server.requests == 2);
}

BOOST_AUTO_TEST_CASE(malformed_response_is_a_protocol_error) {
  Harness h([](const ServerRequest&, int) {
    return Reply{.action = Reply::Action::raw_close,
                 .raw = "HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\nx"};
  });
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/x");
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::protocol));
  });
}

BOOST_AUTO_TEST_CASE(reset_connection_is_retried) {
  Harness h([](const ServerRequest&, int i) {
    return i == 1 ? Reply{.action = Reply::Action::reset} : ok("ok");
  });
  h.run(
      [&]() -> asio::awaitable<void> { BOOST_TEST((co_await h.get("/x")).value().body == "ok"); });
  BOOST_TEST(h.server.requests == 2);
  BOOST_TEST(h.client.stats().retries == 1u);
}

BOOST_AUTO_TEST_CASE(persistent_reset_is_reported) {
  Harness h([](const ServerRequest&, int) { return Reply{.action = Reply::Action::reset}; });
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.get("/x");
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::reset));
    BOOST_TEST(result.error().attempts == 3);
  });
}

BOOST_AUTO_TEST_CASE(gzip_body_is_decoded) {
  const std::string text = std::string(5000, 'x') + "<testsuite/>";
  Harness h([&](const ServerRequest&, int) {
    Reply reply = ok(gzip_text(text));
    reply.headers = {{"Content-Encoding", "gzip"}};
    return reply;
  });
  h.run([&]() -> asio::awaitable<void> {
    Request request(h.server.url("/junit.xml"));
    request.options.accept_gzip = true;
    auto result = co_await h.client.request(request);
    BOOST_REQUIRE(result);
    BOOST_TEST(result->body == text);
    BOOST_TEST(!result->headers.contains("Content-Encoding"));
    auto plain = co_await h.get("/again");  // decoded whether asked or not
    BOOST_TEST(plain.value().body == text);
  });
  BOOST_TEST(std::string(h.server.seen[0][http::field::accept_encoding]) == "gzip");
  BOOST_TEST((h.server.seen[1].find(http::field::accept_encoding) == h.server.seen[1].end()));
}

BOOST_AUTO_TEST_CASE(body_over_limit_is_too_large_and_not_retried) {
  Config config = quick_config();
  config.body_limit = 1000;
  Harness h(
      [](const ServerRequest& r, int) {
        if (r.target() == "/bomb") {
          Reply reply = ok(gzip_text(std::string(100000, 'z')));  // small on the wire, huge decoded
          reply.headers = {{"Content-Encoding", "gzip"}};
          return reply;
        }
        return ok(std::string(5000, 'b'));
      },
      config);
  h.run([&]() -> asio::awaitable<void> {
    auto big = co_await h.get("/big");
    BOOST_REQUIRE(!big);
    BOOST_TEST((big.error().kind == ErrorKind::too_large));
    auto bomb = co_await h.get("/bomb");
    BOOST_REQUIRE(!bomb);
    BOOST_TEST((bomb.error().kind == ErrorKind::too_large));
    Request allowed(h.server.url("/big"));
    allowed.options.body_limit = 10000;  // per-request override
    BOOST_TEST((co_await h.client.request(allowed)).value().body.size() == 5000u);
  });
  BOOST_TEST(h.server.requests == 3);
}

BOOST_AUTO_TEST_CASE(in_flight_bound_is_respected) {
  Config config = quick_config();
  config.max_in_flight = 3;
  Harness h([](const ServerRequest&, int) { return Reply{.body = "x", .delay = 20ms}; }, config);
  h.run([&]() -> asio::awaitable<void> {
    int done = 0;
    auto one = [&]() -> asio::awaitable<void> {
      auto result = co_await h.get("/x");
      BOOST_TEST(result.has_value());
      ++done;
    };
    for (int i = 0; i < 20; ++i) asio::co_spawn(h.ioc, one(), asio::detached);
    asio::steady_timer poll(h.ioc);
    while (done < 20) {
      poll.expires_after(10ms);
      co_await poll.async_wait(use_tuple);
    }
  });
  BOOST_TEST(h.server.requests == 20);
  BOOST_TEST(h.server.max_concurrent <= 3);
  BOOST_TEST(h.server.max_concurrent >= 2);
  BOOST_TEST(h.server.connections <= 3);
  BOOST_TEST(h.client.stats().in_flight == 0);
}

// Keeps the highest body budget figures the client reported.
struct BudgetObserver : Observer {
  void body_budget_changed(std::size_t in_use, std::size_t limit, std::size_t waiting) override {
    most_in_use = std::max(most_in_use, in_use);
    most_waiting = std::max(most_waiting, waiting);
    last_in_use = in_use;
    this->limit = limit;
  }
  std::size_t most_in_use = 0, most_waiting = 0, last_in_use = 0, limit = 0;
};

BOOST_AUTO_TEST_CASE(body_budget_throttles_bodies_and_every_one_completes) {
  // Twelve 1 MiB bodies at once against a 256 KiB budget: of known length,
  // read until close, and gzip-decoded. Each fits the budget only alone;
  // all arrive intact, and the bytes held stay within the budget plus one
  // response (its capacity doubling: old and new buffer) while others wait.
  const std::string text(std::size_t{1} << 20, 'k');
  const std::string packed = gzip_text(text);
  auto observer = std::make_shared<BudgetObserver>();
  Config config = patient_config();
  config.body_budget = std::size_t{256} << 10;
  config.observer = observer;
  Harness h(
      [&](const ServerRequest& r, int) {
        if (r.target() == "/close") {
          return Reply{.action = Reply::Action::raw_close,
                       .raw = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + text};
        }
        if (r.target() == "/gzip") {
          Reply reply = ok(packed);
          reply.headers = {{"Content-Encoding", "gzip"}};
          return reply;
        }
        return ok(text);
      },
      config);
  h.run([&]() -> asio::awaitable<void> {
    int done = 0;
    auto one = [&](std::string target) -> asio::awaitable<void> {
      auto result = co_await h.get(target);
      BOOST_TEST(why(result) == "");
      BOOST_TEST((result && result->body == text));
      ++done;
    };
    for (const char* target : {"/length", "/close", "/gzip"}) {
      for (int i = 0; i < 4; ++i) asio::co_spawn(h.ioc, one(target), asio::detached);
    }
    asio::steady_timer poll(h.ioc);
    while (done < 12) {
      poll.expires_after(10ms);
      co_await poll.async_wait(use_tuple);
    }
  });
  BOOST_TEST(observer->limit == config.body_budget);
  BOOST_TEST(observer->most_waiting > 0u);
  BOOST_TEST(observer->most_in_use <= config.body_budget + 3 * text.size() + (256 << 10));
  BOOST_TEST(observer->last_in_use == 0u);
  BOOST_TEST(h.client.stats().body_bytes_held == 0u);
  BOOST_TEST(h.client.stats().body_budget_waiting == 0u);
}

BOOST_AUTO_TEST_CASE(stop_wakes_attempts_waiting_for_the_body_budget) {
  // One body never ends and holds the whole budget; the others wait for room
  // and end cancelled on stop(), without a hang.
  auto observer = std::make_shared<BudgetObserver>();
  Config config = patient_config();
  config.body_budget = std::size_t{64} << 10;
  config.observer = observer;
  const std::string endless(std::size_t{1} << 20, 'e');
  Harness h(
      [&](const ServerRequest& r, int) {
        if (r.target() == "/endless")
          return Reply{.action = Reply::Action::raw_hang,
                       .raw = "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n" + endless};
        return ok(endless);
      },
      config);
  std::vector<ErrorKind> outcomes;
  h.run([&]() -> asio::awaitable<void> {
    auto one = [&](std::string target) -> asio::awaitable<void> {
      auto result = co_await h.get(target);
      outcomes.push_back(result ? ErrorKind::invalid_request : result.error().kind);
    };
    asio::co_spawn(h.ioc, one("/endless"), asio::detached);
    for (int i = 0; i < 3; ++i) asio::co_spawn(h.ioc, one("/x"), asio::detached);
    asio::steady_timer poll(h.ioc);
    while (observer->most_waiting < 3) {
      poll.expires_after(5ms);
      co_await poll.async_wait(use_tuple);
    }
    h.client.stop();
    while (outcomes.size() < 4) {
      poll.expires_after(5ms);
      co_await poll.async_wait(use_tuple);
    }
  });
  BOOST_TEST(outcomes.size() == 4u);
  for (ErrorKind kind : outcomes) BOOST_TEST((kind == ErrorKind::cancelled));
  BOOST_TEST(h.client.stats().body_bytes_held == 0u);
  BOOST_TEST(h.client.stats().body_budget_waiting == 0u);
}

BOOST_AUTO_TEST_CASE(per_host_connection_cap_is_respected) {
  Config config = quick_config();
  config.max_in_flight = 50;
  config.max_connections_per_host = 2;
  Harness h([](const ServerRequest&, int) { return Reply{.body = "x", .delay = 10ms}; }, config);
  h.run([&]() -> asio::awaitable<void> {
    int done = 0;
    auto one = [&]() -> asio::awaitable<void> {
      BOOST_TEST((co_await h.get("/x")).has_value());
      ++done;
    };
    for (int i = 0; i < 10; ++i) asio::co_spawn(h.ioc, one(), asio::detached);
    asio::steady_timer poll(h.ioc);
    while (done < 10) {
      poll.expires_after(10ms);
      co_await poll.async_wait(use_tuple);
    }
  });
  BOOST_TEST(h.server.connections <= 2);
  BOOST_TEST(h.server.max_concurrent <= 2);
}

BOOST_AUTO_TEST_CASE(weird_object_names_arrive_intact) {
  Harness h([](const ServerRequest& r, int) { return ok(std::string(r.target())); });
  const std::vector<std::string> names = {"logs/a b/c.txt", "pr#12?x=1", "100%/done",
                                          "\xC3\xBC\xE2\x9C\x93/+&="};
  h.run([&]() -> asio::awaitable<void> {
    for (const auto& name : names) {
      std::string target = "/storage/v1/b/bucket/o/" + encode_path_segment(name) +
                           Query().add("alt", "media").add("prefix", name).str();
      auto result = co_await h.get(target);
      BOOST_REQUIRE(result);
      std::string received = result->body;
      auto query_at = received.find('?');
      std::string segment =
          received.substr(std::string("/storage/v1/b/bucket/o/").size(),
                          query_at - std::string("/storage/v1/b/bucket/o/").size());
      BOOST_TEST(segment.find('/') == std::string::npos);
      BOOST_TEST(percent_decode(segment).value() == name);
      BOOST_TEST(received.substr(query_at) == "?alt=media&prefix=" + encode_query_value(name));
    }
  });
}

BOOST_AUTO_TEST_CASE(unauthorized_hook_refreshes_once) {
  Harness h([](const ServerRequest& r, int) {
    return r["Authorization"] == "Bearer fresh" ? ok("secret") : status(401, "expired");
  });
  h.run([&]() -> asio::awaitable<void> {
    int refreshes = 0;
    Request request(h.server.url("/x"));
    request.headers.set("Authorization", "Bearer stale");
    request.on_unauthorized = [&](Request& r) -> asio::awaitable<bool> {
      ++refreshes;
      r.headers.set("Authorization", "Bearer fresh");
      co_return true;
    };
    BOOST_TEST((co_await h.client.request(request)).value().body == "secret");
    BOOST_TEST(refreshes == 1);

    request.headers.set("Authorization", "Bearer stale");
    request.on_unauthorized = [&](Request& r) -> asio::awaitable<bool> {
      ++refreshes;
      r.headers.set("Authorization", "Bearer still-wrong");
      co_return true;
    };
    auto denied = co_await h.client.request(request);
    BOOST_TEST(denied.value().status == 401);  // refreshed once, then the 401 is final
    BOOST_TEST(refreshes == 2);
  });
  BOOST_TEST(h.server.requests == 4);
}

BOOST_AUTO_TEST_CASE(stop_cancels_requests_in_flight) {
  Config config = quick_config();
  config.timeouts.headers = 60s;  // only stop() can end this request
  config.max_in_flight = 1;
  Harness h([](const ServerRequest&, int) { return Reply{.action = Reply::Action::hang}; }, config);
  h.run([&]() -> asio::awaitable<void> {
    std::vector<ErrorKind> kinds;
    auto one = [&]() -> asio::awaitable<void> {
      auto result = co_await h.get("/hang");
      BOOST_REQUIRE(!result);
      kinds.push_back(result.error().kind);
    };
    asio::co_spawn(h.ioc, one(), asio::detached);  // on the wire
    asio::co_spawn(h.ioc, one(), asio::detached);  // queued for the in-flight slot
    asio::steady_timer pause(h.ioc, 100ms);
    co_await pause.async_wait(use_tuple);
    h.client.stop();
    while (kinds.size() < 2) {
      pause.expires_after(5ms);
      co_await pause.async_wait(use_tuple);
    }
    BOOST_TEST((kinds == std::vector<ErrorKind>{ErrorKind::cancelled, ErrorKind::cancelled}));
    auto late = co_await h.get("/after-stop");
    BOOST_REQUIRE(!late);
    BOOST_TEST((late.error().kind == ErrorKind::cancelled));
  });
  BOOST_TEST(h.server.requests == 1);
  BOOST_TEST(h.client.stats().requests_cancelled == 2u);
  BOOST_TEST(h.client.stats().in_flight == 0);
}

BOOST_AUTO_TEST_CASE(hundreds_in_flight) {
  Config config = quick_config();
  config.max_in_flight = 150;
  Harness h([](const ServerRequest&, int) { return Reply{.body = "x", .delay = 50ms}; }, config);
  h.run([&]() -> asio::awaitable<void> {
    int done = 0, failed = 0;
    auto one = [&]() -> asio::awaitable<void> {
      auto result = co_await h.get("/x");
      failed += result ? 0 : 1;
      ++done;
    };
    for (int i = 0; i < 300; ++i) asio::co_spawn(h.ioc, one(), asio::detached);
    asio::steady_timer poll(h.ioc);
    while (done < 300) {
      poll.expires_after(10ms);
      co_await poll.async_wait(use_tuple);
    }
    BOOST_TEST(failed == 0);
  });
  BOOST_TEST(h.server.requests == 300);
  BOOST_TEST(h.server.max_concurrent <= 150);
  BOOST_TEST(h.server.max_concurrent > 100);  // the bound allows hundreds, not a handful
  BOOST_TEST(h.server.connections <= 150,
             "opened " << h.client.stats().connections_opened << " reused "
                       << h.client.stats().connections_reused << " retries "
                       << h.client.stats().retries << " attempts " << h.client.stats().attempts);
}

BOOST_AUTO_TEST_CASE(throwing_unauthorized_hook_is_an_error_not_a_hang) {
  Harness h([](const ServerRequest&, int) { return status(401); });
  h.run([&]() -> asio::awaitable<void> {
    Request request(h.server.url("/x"));
    request.on_unauthorized = [](Request&) -> asio::awaitable<bool> {
      throw std::runtime_error("token endpoint unreachable");
      co_return false;
    };
    auto result = co_await h.client.request(request);
    BOOST_REQUIRE(!result);
    BOOST_TEST(result.error().message.find("token endpoint unreachable") != std::string::npos);
  });
}

// A peer that accepts connections and then neither reads nor writes.
class SilentPeer {
 public:
  explicit SilentPeer(asio::io_context& ioc)
      : acceptor_(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        port_(acceptor_.local_endpoint().port()) {
    asio::co_spawn(ioc, accept_loop(), asio::detached);
  }
  unsigned short port() const { return port_; }
  void stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    held_.clear();
  }

 private:
  asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      socket.set_option(asio::socket_base::receive_buffer_size(4096), ec);
      held_.push_back(std::move(socket));
    }
  }
  tcp::acceptor acceptor_;
  unsigned short port_;
  std::vector<tcp::socket> held_;
};

BOOST_AUTO_TEST_CASE(silent_peer_costs_at_most_the_phase_deadlines) {
  asio::io_context ioc;
  SilentPeer peer(ioc);
  Config config = quick_config();
  config.timeouts.handshake = 200ms;
  config.timeouts.write = 200ms;
  config.retry.max_attempts = 1;
  HttpClient client(ioc.get_executor(), config);
  std::string base = "://127.0.0.1:" + std::to_string(peer.port());
  run(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto tls = co_await client.request(Request("https" + base + "/"));
        BOOST_REQUIRE(!tls);
        BOOST_TEST((tls.error().kind == ErrorKind::timeout));
        BOOST_TEST(tls.error().message.find("TLS handshake") != std::string::npos,
                   tls.error().message);
        // Far more than the socket buffers hold: the write itself stalls.
        auto upload = co_await client.request(
            Request("PUT", "http" + base + "/o", std::string(64 << 20, 'u')));
        BOOST_REQUIRE(!upload);
        BOOST_TEST((upload.error().kind == ErrorKind::timeout));
        BOOST_TEST(upload.error().message.find("request write") != std::string::npos,
                   upload.error().message);
      },
      [&] {
        peer.stop();
        client.stop();
      });
}

BOOST_AUTO_TEST_CASE(bad_requests_fail_without_sending) {
  Harness h([](const ServerRequest&, int) { return ok("x"); });
  h.run([&]() -> asio::awaitable<void> {
    auto bad_url = co_await h.client.request(Request("gs://bucket/object"));
    BOOST_REQUIRE(!bad_url);
    BOOST_TEST((bad_url.error().kind == ErrorKind::invalid_request));
    BOOST_TEST(bad_url.error().what().find("gs://bucket/object") != std::string::npos);
    Request injected(h.server.url("/x"));
    injected.headers.set("X-Evil", "a\r\nX-Injected: 1");
    auto bad_header = co_await h.client.request(injected);
    BOOST_REQUIRE(!bad_header);
    BOOST_TEST((bad_header.error().kind == ErrorKind::invalid_request));
  });
  BOOST_TEST(h.server.requests == 0);
}

BOOST_AUTO_TEST_CASE(refused_connection_is_a_connect_error) {
  asio::io_context ioc;
  unsigned short port = closed_port(ioc);
  HttpClient client(ioc.get_executor(), quick_config());
  run(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto result =
            co_await client.request(Request("http://127.0.0.1:" + std::to_string(port) + "/"));
        BOOST_REQUIRE(!result);
        BOOST_TEST((result.error().kind == ErrorKind::connect));
        BOOST_TEST(result.error().attempts == 3);
      },
      [&] { client.stop(); });
}

BOOST_AUTO_TEST_CASE(observer_sees_attempts_and_retries_in_order) {
  auto recorder = std::make_shared<RecordingObserver>();
  Config config = quick_config();
  config.observer = recorder;
  Harness h([](const ServerRequest&, int i) { return i == 1 ? status(503) : ok("fine"); }, config);
  unsigned short refusing = closed_port(h.ioc);
  h.run([&]() -> asio::awaitable<void> {
    Request listing(h.server.url("/storage/v1/b/x/o"));
    listing.api = "gcs";
    BOOST_TEST((co_await h.client.request(listing)).value().body == "fine");

    Request token("http://127.0.0.1:" + std::to_string(refusing) + "/token");
    token.api = "oauth";
    token.options.retry = RetryConfig{.max_attempts = 1};
    auto refused = co_await h.client.request(token);
    BOOST_TEST((!refused && refused.error().kind == ErrorKind::connect));
  });
  BOOST_TEST(recorder->events ==
                 (std::vector<std::string>{"started gcs", "finished gcs 503 -", "retry gcs",
                                           "started gcs", "finished gcs 200 -", "started oauth",
                                           "finished oauth 0 connect"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Graceful shutdown. Every wait is on an event (a request reaching the
// server, a counter, a result) with a generous bound.

BOOST_AUTO_TEST_SUITE(net_shutdown)

BOOST_AUTO_TEST_CASE(shutdown_wakes_a_backoff_sleep_and_ends_cancelled) {
  asio::io_context ioc;
  Config config = quick_config();
  config.retry =
      RetryConfig{.max_attempts = 10, .initial_backoff = 60s, .max_backoff = 60s, .max_total = 1h};
  HttpClient client(ioc.get_executor(), config);
  Request request("http://127.0.0.1:" + std::to_string(closed_port(ioc)) + "/");
  run(
      ioc,
      [&]() -> asio::awaitable<void> {
        std::optional<Result<Response>> outcome;
        auto send = [&]() -> asio::awaitable<void> { outcome = co_await client.request(request); };
        asio::co_spawn(ioc, send(), asio::detached);
        auto sleeping = [&] { return client.stats().retries >= 1; };
        BOOST_REQUIRE(co_await poll_until(sleeping));
        // From another thread, twice: shutdown() is thread-safe and idempotent.
        std::thread([&] {
          client.shutdown();
          client.shutdown();
        }).join();
        std::uint64_t attempts = client.stats().attempts;

        // Far below the 60 s backoff ceiling, and without stop().
        auto ended = [&] { return outcome.has_value(); };
        const auto well_below_the_ceiling = 10s;
        BOOST_REQUIRE_MESSAGE(co_await poll_until(ended, well_below_the_ceiling),
                              "the backoff sleep went on");
        BOOST_TEST(!client.stopped());
        BOOST_TEST(client.shutting_down());
        BOOST_REQUIRE(!outcome->has_value());
        const Error& error = outcome->error();
        BOOST_TEST((error.kind == ErrorKind::cancelled), error.what());  // not its connect failure
        BOOST_TEST(mentions(error, "shutting down"), error.what());
        BOOST_TEST(error.attempts == static_cast<int>(attempts));
        BOOST_TEST(client.stats().attempts == attempts);  // none started after shutdown()
        BOOST_TEST(client.stats().requests_cancelled == 1u);
        BOOST_TEST(client.stats().requests_failed == 0u);
      },
      [&] { client.stop(); });
}

BOOST_AUTO_TEST_CASE(shutdown_lets_an_attempt_on_the_wire_finish) {
  Harness h(
      [](const ServerRequest&, int) {
        Reply reply = ok("late answer");
        reply.held = true;
        return reply;
      },
      patient_config());
  h.run([&]() -> asio::awaitable<void> {
    std::optional<Result<Response>> outcome;
    Request request(h.server.url("/slow"));
    auto send = [&]() -> asio::awaitable<void> { outcome = co_await h.client.request(request); };
    asio::co_spawn(h.ioc, send(), asio::detached);
    auto arrived = [&] { return h.server.requests == 1; };
    BOOST_REQUIRE(co_await poll_until(arrived));

    h.client.shutdown();
    BOOST_TEST(!outcome.has_value());  // the server holds its answer
    h.server.release();
    auto ended = [&] { return outcome.has_value(); };
    BOOST_REQUIRE(co_await poll_until(ended));
    BOOST_REQUIRE_MESSAGE(outcome->has_value(), why(*outcome));
    BOOST_TEST((*outcome)->status == 200);
    BOOST_TEST((*outcome)->body == "late answer");
    BOOST_TEST(!h.client.stopped());
    // Closed, not pooled: no attempt will use it again.
    auto closed = [&] { return h.server.hangups == 1; };
    BOOST_TEST(co_await poll_until(closed));
  });
  BOOST_TEST(h.server.requests == 1);
  BOOST_TEST(h.client.stats().requests_ok == 1u);
}

BOOST_AUTO_TEST_CASE(shutdown_abandons_an_interruptible_request_mid_attempt) {
  Config config = patient_config();
  auto recorder = std::make_shared<RecordingObserver>();
  config.observer = recorder;
  Harness h([](const ServerRequest&, int) { return Reply{.action = Reply::Action::hang}; }, config);
  h.run([&]() -> asio::awaitable<void> {
    std::optional<Result<Response>> outcome;
    Request pull(h.server.url("/v1/projects/p/subscriptions/s:pull"));
    pull.api = "pubsub";
    pull.options.interruptible = true;
    auto send = [&]() -> asio::awaitable<void> { outcome = co_await h.client.request(pull); };
    asio::co_spawn(h.ioc, send(), asio::detached);
    auto arrived = [&] { return h.server.requests == 1; };
    BOOST_REQUIRE(co_await poll_until(arrived));

    h.client.shutdown();
    auto ended = [&] { return outcome.has_value(); };
    BOOST_REQUIRE(co_await poll_until(ended));
    BOOST_TEST(!h.client.stopped());
    BOOST_REQUIRE(!outcome->has_value());
    BOOST_TEST((outcome->error().kind == ErrorKind::cancelled), outcome->error().what());
    BOOST_TEST(mentions(outcome->error(), "shutting down"), outcome->error().what());
  });
  BOOST_TEST(h.client.stats().in_flight == 0);
  BOOST_TEST(h.client.stats().requests_cancelled == 1u);
  BOOST_TEST(recorder->events ==
                 (std::vector<std::string>{"started pubsub", "finished pubsub 0 cancelled"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(shutdown_closes_idle_connections) {
  Harness h([](const ServerRequest&, int) { return ok("x"); });
  h.run([&]() -> asio::awaitable<void> {
    Request request(h.server.url("/x"));
    BOOST_TEST((co_await h.client.request(request)).has_value());
    BOOST_TEST(h.server.hangups == 0);  // kept alive in the pool
    h.client.shutdown();
    auto closed = [&] { return h.server.hangups == 1; };
    BOOST_TEST(co_await poll_until(closed));
  });
  BOOST_TEST(h.server.connections == 1);
}

BOOST_AUTO_TEST_CASE(requests_after_shutdown_are_refused_at_once) {
  auto recorder = std::make_shared<RecordingObserver>();
  Config config = quick_config();
  config.observer = recorder;
  Harness h([](const ServerRequest&, int) { return ok("must not be seen"); }, config);
  h.run([&]() -> asio::awaitable<void> {
    h.client.shutdown();
    Request late(h.server.url("/late"));
    auto result = co_await h.client.request(late);
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::cancelled));
    BOOST_TEST(result.error().message == "HTTP client shutting down");
    BOOST_TEST(result.error().attempts == 0);
  });
  BOOST_TEST(h.server.connections == 0);
  BOOST_TEST(h.client.stats().requests_started == 0u);
  BOOST_TEST(h.client.stats().attempts == 0u);
  BOOST_TEST(recorder->events.empty());
}

BOOST_AUTO_TEST_CASE(queued_attempts_end_without_reaching_the_server) {
  // Queued for the in-flight slot, then for the one connection to the host.
  Config slot_bound = patient_config();
  slot_bound.max_in_flight = 1;
  Config host_bound = patient_config();
  host_bound.max_in_flight = 8;
  host_bound.max_connections_per_host = 1;
  for (const Config& config : {slot_bound, host_bound}) {
    BOOST_TEST_CONTEXT("max_in_flight " << config.max_in_flight << ", per host "
                                        << config.max_connections_per_host) {
      Harness h(
          [](const ServerRequest&, int) {
            Reply reply = ok("first");
            reply.held = true;
            return reply;
          },
          config);
      h.run([&]() -> asio::awaitable<void> {
        std::optional<Result<Response>> first;
        std::vector<Result<Response>> queued;
        Request request(h.server.url("/x"));
        auto send_first = [&]() -> asio::awaitable<void> {
          first = co_await h.client.request(request);
        };
        auto send_queued = [&]() -> asio::awaitable<void> {
          queued.push_back(co_await h.client.request(request));
        };
        asio::co_spawn(h.ioc, send_first(), asio::detached);
        auto arrived = [&] { return h.server.requests == 1; };
        BOOST_REQUIRE(co_await poll_until(arrived));
        for (int i = 0; i < 3; ++i) asio::co_spawn(h.ioc, send_queued(), asio::detached);
        auto waiting = [&] { return h.client.stats().attempts == 4; };
        BOOST_REQUIRE(co_await poll_until(waiting));

        h.client.shutdown();
        // They end while the first is still held: not when a slot frees.
        auto refused = [&] { return queued.size() == 3; };
        BOOST_REQUIRE(co_await poll_until(refused));
        BOOST_TEST(!first.has_value());
        for (const auto& result : queued) {
          BOOST_REQUIRE(!result);
          BOOST_TEST((result.error().kind == ErrorKind::cancelled), result.error().what());
          BOOST_TEST(mentions(result.error(), "attempt not started"), result.error().what());
        }

        h.server.release();
        auto ended = [&] { return first.has_value(); };
        BOOST_REQUIRE(co_await poll_until(ended));
        BOOST_TEST(first->value().body == "first");
      });
      BOOST_TEST(h.server.requests == 1);
      BOOST_TEST(h.server.connections == 1);
      BOOST_TEST(h.client.stats().in_flight == 0);
      BOOST_TEST(h.client.stats().requests_cancelled == 3u);
    }
  }
}

BOOST_AUTO_TEST_CASE(stop_after_shutdown_ends_what_is_still_on_the_wire) {
  Harness h([](const ServerRequest&, int) { return Reply{.action = Reply::Action::hang}; },
            patient_config());
  h.run([&]() -> asio::awaitable<void> {
    std::optional<Result<Response>> outcome;
    Request request(h.server.url("/hang"));
    auto send = [&]() -> asio::awaitable<void> { outcome = co_await h.client.request(request); };
    asio::co_spawn(h.ioc, send(), asio::detached);
    auto arrived = [&] { return h.server.requests == 1; };
    BOOST_REQUIRE(co_await poll_until(arrived));

    h.client.shutdown();
    // A whole request through the client since: the one on the wire went on.
    Request late(h.server.url("/late"));
    auto refused = co_await h.client.request(late);
    BOOST_TEST((!refused && refused.error().kind == ErrorKind::cancelled));
    BOOST_TEST(!outcome.has_value());

    h.client.stop();
    auto ended = [&] { return outcome.has_value(); };
    BOOST_REQUIRE(co_await poll_until(ended));
    BOOST_REQUIRE(!outcome->has_value());
    BOOST_TEST((outcome->error().kind == ErrorKind::cancelled));
    BOOST_TEST(outcome->error().message == "HTTP client stopped");
  });
  BOOST_TEST(h.server.requests == 1);
  BOOST_TEST(h.client.stats().in_flight == 0);
}

BOOST_AUTO_TEST_CASE(no_resend_after_401_once_shutting_down) {
  Harness h([](const ServerRequest& r, int) {
    return r["Authorization"] == "Bearer fresh" ? ok("secret") : status(401, "expired");
  });
  h.run([&]() -> asio::awaitable<void> {
    int refreshes = 0;
    // shutdown() arrives while the credentials are being refreshed.
    Request during(h.server.url("/x"));
    during.on_unauthorized = [&](Request& r) -> asio::awaitable<bool> {
      ++refreshes;
      h.client.shutdown();
      r.headers.set("Authorization", "Bearer fresh");
      co_return true;
    };
    auto result = co_await h.client.request(during);
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::cancelled));
    BOOST_TEST(mentions(result.error(), "no resend after 401"), result.error().what());
    BOOST_TEST(refreshes == 1);
    BOOST_TEST(h.server.requests == 1);
  });
}

BOOST_AUTO_TEST_CASE(no_refresh_for_a_401_answered_after_shutdown) {
  Harness h(
      [](const ServerRequest&, int) {
        Reply reply = status(401, "expired");
        reply.held = true;
        return reply;
      },
      patient_config());
  h.run([&]() -> asio::awaitable<void> {
    int refreshes = 0;
    std::optional<Result<Response>> outcome;
    Request request(h.server.url("/x"));
    request.on_unauthorized = [&](Request&) -> asio::awaitable<bool> {
      ++refreshes;
      co_return true;
    };
    auto send = [&]() -> asio::awaitable<void> { outcome = co_await h.client.request(request); };
    asio::co_spawn(h.ioc, send(), asio::detached);
    auto arrived = [&] { return h.server.requests == 1; };
    BOOST_REQUIRE(co_await poll_until(arrived));

    h.client.shutdown();
    h.server.release();
    auto ended = [&] { return outcome.has_value(); };
    BOOST_REQUIRE(co_await poll_until(ended));
    BOOST_REQUIRE(!outcome->has_value());
    BOOST_TEST((outcome->error().kind == ErrorKind::cancelled));
    BOOST_TEST(refreshes == 0);
  });
  BOOST_TEST(h.server.requests == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// TLS

BOOST_AUTO_TEST_SUITE(net_tls)

Config tls_config() {
  Config config = quick_config();
  config.ca_file = Certificates::get().ca().string();
  return config;
}

BOOST_AUTO_TEST_CASE(trusted_certificate_by_name_and_address) {
  auto server_tls = Certificates::get().server_context("good");
  Harness h([](const ServerRequest& r, int) { return ok("tls " + std::string(r.target())); },
            tls_config(), server_tls.get());
  h.run([&]() -> asio::awaitable<void> {
    auto by_name = co_await h.client.request(Request(h.server.url("/a", "localhost")));
    BOOST_REQUIRE_MESSAGE(by_name.has_value(), why(by_name));
    BOOST_TEST(by_name->body == "tls /a");
    auto again = co_await h.client.request(Request(h.server.url("/b", "localhost")));
    BOOST_TEST(again.value().body == "tls /b");
    auto by_ip = co_await h.client.request(Request(h.server.url("/c")));
    BOOST_REQUIRE_MESSAGE(by_ip.has_value(), why(by_ip));
    BOOST_TEST(by_ip->body == "tls /c");
  });
  BOOST_TEST(h.server.connections == 2);  // localhost reused; 127.0.0.1 is another pool
}

BOOST_AUTO_TEST_CASE(ssl_cert_file_environment_is_honoured) {
  auto server_tls = Certificates::get().server_context("good");
  ::setenv("SSL_CERT_FILE", Certificates::get().ca().c_str(), 1);
  Harness h([](const ServerRequest&, int) { return ok("env"); }, quick_config(), server_tls.get());
  ::unsetenv("SSL_CERT_FILE");
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.client.request(Request(h.server.url("/", "localhost")));
    BOOST_REQUIRE_MESSAGE(result.has_value(), why(result));
    BOOST_TEST(result->body == "env");
  });
}

BOOST_AUTO_TEST_CASE(wrong_host_name_is_refused) {
  auto server_tls = Certificates::get().server_context("other");
  Harness h([](const ServerRequest&, int) { return ok("must not be seen"); }, tls_config(),
            server_tls.get());
  h.run([&]() -> asio::awaitable<void> {
    for (auto host : {"localhost", "127.0.0.1"}) {
      auto result = co_await h.client.request(Request(h.server.url("/", host)));
      BOOST_REQUIRE(!result);
      BOOST_TEST((result.error().kind == ErrorKind::tls));
      BOOST_TEST(result.error().attempts == 1);  // not retried
      BOOST_TEST_MESSAGE(result.error().what());
      BOOST_TEST(result.error().message.find("mismatch") != std::string::npos,
                 result.error().message);
    }
  });
  BOOST_TEST(h.server.requests == 0);
}

BOOST_AUTO_TEST_CASE(untrusted_certificate_is_refused) {
  auto server_tls = Certificates::get().server_context("self");
  Harness h([](const ServerRequest&, int) { return ok("must not be seen"); }, tls_config(),
            server_tls.get());
  h.run([&]() -> asio::awaitable<void> {
    auto result = co_await h.client.request(Request(h.server.url("/", "localhost")));
    BOOST_REQUIRE(!result);
    BOOST_TEST((result.error().kind == ErrorKind::tls));
    BOOST_TEST_MESSAGE(result.error().what());
    BOOST_TEST(result.error().message.find("certificate") != std::string::npos,
               result.error().message);
  });
  BOOST_TEST(h.server.requests == 0);
}

BOOST_AUTO_TEST_CASE(unreadable_ca_file_is_reported_at_construction) {
  asio::io_context ioc;
  Config config;
  config.ca_file = "/nonexistent/ca.pem";
  BOOST_CHECK_THROW(HttpClient(ioc.get_executor(), config), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
