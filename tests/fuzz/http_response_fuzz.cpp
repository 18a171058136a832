// HTTP/1.1 response framing (status line, headers, Content-Length, chunked,
// read to EOF, 1xx interim answers) as the HTTP client reads it: Beast's
// parser set up by the client's own start_response() with its limits, fed
// bytes as a socket would deliver them, then gzip decoding within the body
// limit. Invariants: bodies stay within the limit, and the outcome does not
// depend on how the bytes arrive.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <optional>
#include <string>

#include "check.hpp"
#include "kettle/net/gzip.hpp"
#include "response_parser.hpp"

using namespace kettle;
namespace http = boost::beast::http;
using net::detail::ResponseParser;

namespace {

struct Reading {
  std::size_t body_limit;
  std::size_t header_limit;
  std::size_t piece;  // bytes per read: how the network delivers them
  bool head = false;
};

// A socket that hands out `wire` a piece at a time, into a buffer the parser
// consumes from, as Connection's flat_buffer and Beast's read loops do.
class Wire {
 public:
  Wire(std::string_view wire, std::size_t piece) : wire_(wire), piece_(piece) {}

  // Runs the parser until `done()`; false on a parse error, a limit, or an
  // end of input the message cannot end at.
  template <class Done>
  bool parse(ResponseParser& parser, Done done) {
    while (!done()) {
      if (!buffer_.empty()) {
        boost::system::error_code ec;
        const std::size_t used = parser.put(boost::asio::buffer(buffer_), ec);
        buffer_.erase(0, used);
        if (ec && ec != http::error::need_more) return false;
        if (!ec && used > 0) continue;
      }
      if (offset_ < wire_.size()) {
        const std::size_t n = std::min(piece_, wire_.size() - offset_);
        buffer_.append(wire_.substr(offset_, n));
        offset_ += n;
        continue;
      }
      // Beast's reads end with end_of_stream when nothing came at all.
      if (!parser.got_some()) return false;
      boost::system::error_code ec;
      parser.put_eof(ec);
      return !ec && done();
    }
    return true;
  }

 private:
  std::string_view wire_;
  std::size_t piece_;
  std::size_t offset_ = 0;
  std::string buffer_;
};

// One response read as Connection::exchange reads it, or nullopt.
std::optional<net::Response> read_response(std::string_view wire, const Reading& reading) {
  const net::detail::Limits limits{.timeouts = {},
                                   .body_limit = reading.body_limit,
                                   .header_limit = reading.header_limit,
                                   .accept_gzip = true,
                                   .user_agent = "fuzz"};
  Wire socket(wire, reading.piece);
  std::optional<ResponseParser> parser;
  do {
    net::detail::start_response(parser, limits, reading.head);
    if (!socket.parse(*parser, [&] { return parser->is_header_done(); })) return std::nullopt;
  } while (net::detail::is_interim_status(static_cast<int>(parser->get().result_int())));
  if (!socket.parse(*parser, [&] { return parser->is_done(); })) return std::nullopt;
  (void)net::detail::keeps_alive(*parser);
  net::Response response = net::detail::take_response(*parser);
  FUZZ_CHECK(response.body.size() <= reading.body_limit);
  FUZZ_CHECK(!reading.head || response.body.empty());
  return response;
}

bool same(const std::optional<net::Response>& a, const std::optional<net::Response>& b) {
  if (!a || !b) return !a && !b;
  if (a->status != b->status || a->body != b->body || a->headers.size() != b->headers.size())
    return false;
  return std::equal(a->headers.begin(), a->headers.end(), b->headers.begin());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view wire = fuzz::as_text(data, size);
  constexpr std::size_t kBig = std::size_t{1} << 20;

  const auto whole = read_response(wire, {.body_limit = kBig, .header_limit = 64 << 10, .piece = kBig});
  const auto pieces = read_response(wire, {.body_limit = kBig, .header_limit = 64 << 10, .piece = 5});
  FUZZ_CHECK(same(whole, pieces));
  (void)read_response(wire, {.body_limit = 64, .header_limit = 256, .piece = 7});
  (void)read_response(wire, {.body_limit = kBig, .header_limit = 64 << 10, .piece = 3, .head = true});

  // The client decodes a gzip body within the same limit (one byte past it
  // tells "too large").
  if (whole && whole->headers.contains("Content-Encoding")) {
    std::string decoded;
    for (const std::size_t limit : {std::size_t{64}, kBig}) {
      (void)net::gunzip(whole->body, limit, decoded);
      FUZZ_CHECK(decoded.size() <= limit + 1);
    }
  }
  return 0;
}
