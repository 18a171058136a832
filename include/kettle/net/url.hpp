// URL parsing and percent-encoding for the REST APIs we call.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kettle::net {

// An absolute http(s) URL split into what a connection and a request need.
struct Url {
  std::string scheme;  // "http" or "https" (lower case)
  std::string host;    // name or IP; IPv6 without brackets
  std::uint16_t port = 0;
  std::string target;  // path and query, always starting with '/'; no fragment

  // Accepts an RFC 3986 http:// or https:// URL with an optional port 1-65535.
  // The host is a name of unreserved characters (lower-cased), a dotted IPv4
  // address or a bracketed IPv6 literal (kept canonical, without brackets).
  // Rejects user info (credentials would be logged), other schemes, empty
  // hosts, spaces, controls, non-ASCII bytes and malformed %XX escapes. The
  // path and query are kept encoded as given; the fragment is dropped.
  // Whatever it accepts, parse(str()) gives back the same parts.
  static std::optional<Url> parse(std::string_view text);

  bool tls() const { return scheme == "https"; }
  bool default_port() const { return port == (tls() ? 443 : 80); }
  // "host" or "host:port" (port only when not the default), brackets for IPv6.
  std::string authority() const;
  // scheme://authority: the key of a connection pool.
  std::string origin() const;
  std::string str() const { return origin() + target; }

  bool operator==(const Url&) const = default;
};

// Percent-encodes everything except the unreserved A-Z a-z 0-9 - . _ ~ ('/' becomes
// %2F): a GCS object name as one path segment.
std::string encode_path_segment(std::string_view text);
// The same rule for a query key or value (space becomes %20, never '+').
std::string encode_query_value(std::string_view text);
// Decodes %XX escapes; nullopt on a malformed escape. '+' stays '+'.
std::optional<std::string> percent_decode(std::string_view text);

// Builds "?k=v&k2=v2" with encoded keys and values, in insertion order.
class Query {
 public:
  Query& add(std::string_view key, std::string_view value);
  // Adds only when value is not empty (optional API parameters).
  Query& add_if(std::string_view key, std::string_view value);
  // "" when empty, else "?..." ready to append to a path.
  std::string str() const;
  bool empty() const { return params_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// base ("https://host[:port][/prefix]", trailing '/' ignored) + target ("/path?q").
std::string join_url(std::string_view base, std::string_view target);

// The base URL an emulator variable (STORAGE_EMULATOR_HOST etc.) points at:
// "host:port" becomes "http://host:port"; "http://host:port[/]" and
// "https://..." are kept (trailing '/' removed). nullopt when empty or unparsable.
std::optional<std::string> emulator_base_url(std::string_view env_value);
// emulator_base_url of the named environment variable; nullopt when unset.
std::optional<std::string> emulator_base_url_from_env(const char* variable);

// Where an API client sends its requests; `emulator` tells whether to skip auth.
struct Endpoint {
  std::string base_url;
  bool emulator = false;
};
// The endpoint from the environment: the first of `emulator_variables` that
// holds a usable emulator_base_url (plain HTTP, no credentials), else
// `custom_variable` when set and not empty (trailing '/' removed), else
// `default_url`.
Endpoint endpoint_from_env(std::initializer_list<const char*> emulator_variables,
                           const char* custom_variable, std::string_view default_url);

}  // namespace kettle::net
