// Test helpers shared by the fake's test files: a temporary directory, a
// deliberately minimal raw HTTP/1.1 client (plain Asio sockets, no code shared
// with the production client it will test), and an in-process fake server.
#pragma once

#include <poll.h>
#include <stdlib.h>
#include <zlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server.hpp"

namespace fakegcp_test {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/fakegcp-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

inline void write_file(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string gzip(std::string_view plain) {
  z_stream z{};
  BOOST_REQUIRE(
      deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, plain.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  BOOST_REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Escapes everything but unreserved characters, as a careful client would.
inline std::string escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::size_t content_length = 0;
  boost::system::error_code error;  // transport error while reading, if any

  json::value json() const { return json::parse(body); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// One client connection; synchronous, HTTP/1.1, Content-Length bodies only
// (which is all the fake sends).
class Client {
 public:
  explicit Client(unsigned short port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
  }

  void send(const std::string& method, const std::string& target,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            const std::string& body = "") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT")
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    send_raw(req);
  }

  void send_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  HttpReply receive() {
    HttpReply reply;
    std::size_t header_end =
        asio::read_until(socket_, asio::dynamic_buffer(buffer_), "\r\n\r\n", reply.error);
    if (reply.error) return reply;
    std::string head = buffer_.substr(0, header_end);
    buffer_.erase(0, header_end);
    parse_head(head, reply);
    if (buffer_.size() < reply.content_length)
      asio::read(socket_, asio::dynamic_buffer(buffer_),
                 asio::transfer_exactly(reply.content_length - buffer_.size()), reply.error);
    std::size_t take = std::min(buffer_.size(), reply.content_length);
    reply.body = buffer_.substr(0, take);
    buffer_.erase(0, take);
    return reply;
  }

  HttpReply call(const std::string& method, const std::string& target,
                 const std::vector<std::pair<std::string, std::string>>& headers = {},
                 const std::string& body = "") {
    send(method, target, headers, body);
    return receive();
  }

  // True when a byte (or EOF) arrives within the window; used to prove a hang.
  bool readable_within(std::chrono::milliseconds window) {
    pollfd p{socket_.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(window.count())) > 0;
  }

  void close() {
    boost::system::error_code ec;
    socket_.close(ec);
  }

 private:
  static void parse_head(const std::string& head, HttpReply& reply) {
    std::size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    reply.status = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
    std::size_t pos = line_end + 2;
    while (pos < head.size()) {
      std::size_t end = head.find("\r\n", pos);
      std::string line = head.substr(pos, end - pos);
      pos = end + 2;
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::size_t v = line.find_first_not_of(' ', colon + 1);
      reply.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
    if (auto it = reply.headers.find("content-length"); it != reply.headers.end())
      reply.content_length = std::stoul(it->second);
  }

  asio::io_context ioc_;
  tcp::socket socket_;
  std::string buffer_;
};

// A fake on an ephemeral port over a fresh directory tree.
struct Fake {
  TempDir dir;
  std::unique_ptr<fakegcp::Server> server;

  explicit Fake(const std::function<void(fakegcp::ServerConfig&)>& tweak = {}) {
    fs::create_directories(dir.path / "bkt");
    fakegcp::ServerConfig config;
    config.root = dir.path;
    config.threads = 2;
    if (tweak) tweak(config);
    server = std::make_unique<fakegcp::Server>(config);
    server->start();
  }

  void put(const std::string& name, std::string_view bytes, const std::string& bucket = "bkt") {
    write_file(dir.path / bucket / name, bytes);
  }
  void put_meta(const std::string& name, std::string_view sidecar,
                const std::string& bucket = "bkt") {
    write_file(dir.path / ".meta" / bucket / (name + ".json"), sidecar);
  }
  unsigned short port() const { return server->port(); }
  HttpReply get(const std::string& target,
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Client(port()).call("GET", target, headers);
  }
  HttpReply post(const std::string& target, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Client(port()).call("POST", target, headers, body);
  }
  HttpReply call(const std::string& method, const std::string& target, const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Client(port()).call(method, target, headers, body);
  }
  json::object stats() { return get("/_fake/stats").json().as_object(); }
  void set_faults(const std::string& rules) {
    BOOST_REQUIRE_EQUAL(post("/_fake/faults", rules).status, 200);
  }
};

// Waits (boundedly) for a condition the server reaches asynchronously.
inline bool poll_until(const std::function<bool()>& done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

inline std::uint64_t count_at(const json::object& o, std::string_view group, std::string_view key) {
  const auto* g = o.if_contains(group);
  if (!g) return 0;
  const auto* v = g->as_object().if_contains(key);
  return v ? v->to_number<std::uint64_t>() : 0;
}

}  // namespace fakegcp_test
