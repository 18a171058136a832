// Transport-neutral request/response values: services see these, never Beast,
// so only the server core pays Beast's compile time.
#pragma once

#include <boost/json/fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fakegcp {

struct Request {
  std::string method;  // upper case, e.g. "GET"
  std::string target;  // as sent: path plus optional "?query", still percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string_view path() const;   // target before '?'
  std::string_view query() const;  // target after '?', or empty
  // First header with this (lower-case) name, or empty.
  std::string_view header(std::string_view lower_name) const;
};

struct Response {
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  void set_header(std::string name, std::string value);
  // A JSON body with Content-Type application/json.
  static Response json(unsigned status, const boost::json::value& body);
  static Response text(unsigned status, std::string body, std::string content_type = "text/plain");
};

// Decodes %XX escapes; '+' becomes a space only when plus_is_space (query
// strings and form bodies). nullopt when an escape is malformed.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

// Encodes everything except unreserved characters (RFC 3986).
std::string percent_encode(std::string_view in);

// key=value pairs of a query string or form body, decoded, in order.
// Malformed escapes leave the raw text in place rather than failing the request.
using Params = std::vector<std::pair<std::string, std::string>>;
Params parse_params(std::string_view encoded);
std::optional<std::string> find_param(const Params& params, std::string_view key);

// True when an Accept-Encoding header value accepts gzip (a "gzip" coding
// whose q is not 0).
bool accepts_gzip(std::string_view accept_encoding);

}  // namespace fakegcp
