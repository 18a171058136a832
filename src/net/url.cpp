#include "kettle/net/url.hpp"

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

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

// Splits "host[:port]" or "[v6]:port"; false when malformed.
bool split_authority(std::string_view authority, Url& url) {
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return false;
  }
  if (host.empty()) return false;
  for (char c : host) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '?' || c == '#' || c == '%')
      return false;
  }
  url.host = lower(host);
  if (!port.empty()) {
    auto number = parse_port(port);
    if (!number) return false;
    url.port = *number;
  }
  return true;
}

}  // namespace

std::optional<Url> Url::parse(std::string_view text) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  Url url;
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") return std::nullopt;
  url.port = url.tls() ? 443 : 80;

  std::string_view rest = text.substr(sep + 3);
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no credentials in URLs
  if (!split_authority(authority, url)) return std::nullopt;

  std::string_view target =
      path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7F)
      return std::nullopt;  // would break the request line
  }
  url.target = target.starts_with('/') ? std::string(target) : "/" + std::string(target);
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
  std::string path = url->target == "/" ? "" : url->target;
  return url->origin() + path;
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
