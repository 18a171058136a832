#include "kettle/net/url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <cstdlib>

namespace kettle::net {
namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

// A host name goes into the Host header, TLS SNI and the resolver as it is, so
// only unreserved characters pass: no percent escapes or sub-delimiters that
// one of them would read differently from the others.
bool plain_host_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_unreserved(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::optional<Url> Url::parse(std::string_view text) {
  // Only scheme://authority names a server ("http:/x" does not). Checked
  // before Boost.URL sees the text: 1.81 fails an assertion on "http:?" and
  // "http:#" (no authority, an empty path, then a query or fragment).
  if (auto colon = text.find(':'); colon == std::string_view::npos || text.substr(colon + 1, 2) != "//")
    return std::nullopt;
  // RFC 3986 grammar: no spaces, controls or non-ASCII bytes anywhere, no '['
  // outside an IP literal, digits only after the port colon, valid %XX escapes.
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return std::nullopt;
  const boost::urls::url_view& uri = *parsed;

  Url url;
  switch (uri.scheme_id()) {
    case boost::urls::scheme::http:
      url.scheme = "http";
      break;
    case boost::urls::scheme::https:
      url.scheme = "https";
      break;
    default:
      return std::nullopt;
  }
  if (uri.has_userinfo()) return std::nullopt;    // credentials would end up in logs

  switch (uri.host_type()) {
    case boost::urls::host_type::name: {
      std::string_view name = uri.encoded_host();
      if (!plain_host_name(name)) return std::nullopt;
      url.host = lower(name);
      break;
    }
    // Canonical text, so that a round trip through str() gives the same host.
    case boost::urls::host_type::ipv4:
      url.host = uri.host_ipv4_address().to_string();
      break;
    case boost::urls::host_type::ipv6:
      url.host = uri.host_ipv6_address().to_string();
      break;
    default:
      return std::nullopt;  // IPvFuture: nothing we could connect to
  }

  url.port = url.tls() ? 443 : 80;
  if (uri.has_port()) {
    auto port = parse_port(uri.port());
    if (!port) return std::nullopt;  // "h:", ":0" and over 65535
    url.port = *port;
  }

  // After an authority the path must be empty or start with '/'. Boost.URL
  // 1.81 does not check it (boostorg/url#636) and would read "h:12ab/" as port
  // 12 and path "ab/", "a:1:2/" as port 1 and "[::1]x" as host "::1".
  std::string_view path = uri.encoded_path();
  if (!path.empty() && !path.starts_with('/')) return std::nullopt;

  // The path and query stay encoded as given: they go to the request line as
  // they are. The fragment is for the client alone and is dropped.
  url.target = path.empty() ? "/" : std::string(path);
  if (uri.has_query()) {
    url.target += '?';
    url.target += std::string_view(uri.encoded_query());
  }
  return url;
}

std::string Url::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port() ? h : h + ":" + std::to_string(port);
}

std::string Url::origin() const { return scheme + "://" + authority(); }

std::string encode_path_segment(std::string_view text) { return percent_encode(text); }

std::string encode_query_value(std::string_view text) { return percent_encode(text); }

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int hi = hex_value(text[i + 1]);
    int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

Query& Query::add(std::string_view key, std::string_view value) {
  params_.emplace_back(std::string(key), std::string(value));
  return *this;
}

Query& Query::add_if(std::string_view key, std::string_view value) {
  return value.empty() ? *this : add(key, value);
}

std::string Query::str() const {
  std::string out;
  for (const auto& [key, value] : params_) {
    out += out.empty() ? '?' : '&';
    out += encode_query_value(key);
    out += '=';
    out += encode_query_value(value);
  }
  return out;
}

std::string join_url(std::string_view base, std::string_view target) {
  while (base.ends_with('/')) base.remove_suffix(1);
  std::string out(base);
  if (!target.starts_with('/') && !target.starts_with('?')) out += '/';
  out += target;
  return out;
}

std::optional<std::string> emulator_base_url(std::string_view env_value) {
  while (!env_value.empty() && (env_value.back() == '/' || env_value.back() == ' '))
    env_value.remove_suffix(1);
  while (!env_value.empty() && env_value.front() == ' ') env_value.remove_prefix(1);
  if (env_value.empty()) return std::nullopt;
  std::string candidate = env_value.find("://") == std::string_view::npos
                              ? "http://" + std::string(env_value)
                              : std::string(env_value);
  auto url = Url::parse(candidate);
  if (!url) return std::nullopt;
  // Again after parsing: "h/p/#x" is "h/p/" without its fragment.
  std::string_view target = url->target;
  while (target.ends_with('/')) target.remove_suffix(1);
  return url->origin() + std::string(target);
}

std::optional<std::string> emulator_base_url_from_env(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr) return std::nullopt;
  return emulator_base_url(value);
}

Endpoint endpoint_from_env(std::initializer_list<const char*> emulator_variables,
                           const char* custom_variable, std::string_view default_url) {
  for (const char* variable : emulator_variables) {
    if (auto base = emulator_base_url_from_env(variable)) return {*base, true};
  }
  if (const char* custom = std::getenv(custom_variable); custom && *custom) {
    std::string base = custom;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return {base, false};
  }
  return {std::string(default_url), false};
}

}  // namespace kettle::net
