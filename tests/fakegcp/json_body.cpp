#include "json_body.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>

#include "gzip_codec.hpp"

namespace fakegcp {
namespace json = boost::json;

std::optional<std::string> decoded_body(const Request& req) {
  std::string_view encoding = req.header("content-encoding");
  if (encoding == "gzip" || encoding == "x-gzip") return gunzip(req.body);
  return req.body;
}

std::optional<json::object> parse_object(std::string_view text, std::string& error) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object{};
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    error = "Invalid JSON payload received. " + ec.message() + ".";
    return std::nullopt;
  }
  if (!v.is_object()) {
    error = "Invalid JSON payload received. Expected an object at the top level.";
    return std::nullopt;
  }
  return std::move(v.as_object());
}

std::optional<std::int64_t> json_int(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) {
    if (v.as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(v.as_uint64());
  }
  if (v.is_double()) {
    double d = v.as_double();
    if (d != std::trunc(d) || std::fabs(d) > 9e18) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  if (v.is_string()) {
    std::string_view s = v.as_string();
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return n;
  }
  return std::nullopt;
}

std::string string_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace fakegcp
