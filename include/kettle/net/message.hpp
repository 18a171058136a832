// HTTP requests and responses as plain values (no Beast types, so API clients
// stay cheap to compile).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kettle/net/retry.hpp"

namespace kettle::net {

// Header fields in order; names compare case-insensitively.
class Headers {
 public:
  using Field = std::pair<std::string, std::string>;

  // The first value of `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }
  // Replaces every field called `name` with one.
  void set(std::string_view name, std::string_view value);
  void add(std::string_view name, std::string_view value);
  void erase(std::string_view name);

  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  std::size_t size() const { return fields_.size(); }

 private:
  std::vector<Field> fields_;
};

// Per-request overrides of the client's Config; unset = the client's value.
struct RequestOptions {
  std::optional<std::size_t> body_limit{};
  std::optional<Duration> headers_timeout{};
  std::optional<Duration> body_idle_timeout{};
  std::optional<Duration> total_timeout{};
  std::optional<RetryConfig> retry{};  // e.g. {.max_attempts = 1} for no retries
  // Send Accept-Encoding: gzip. A gzip body is decoded either way, on the
  // network thread: leave this off for large objects GCS can decode itself.
  bool accept_gzip = false;
  // HttpClient::shutdown() abandons the request at once, even mid-attempt,
  // instead of letting an attempt on the wire finish: for long polls (Pub/Sub
  // pull) whose answer would only arrive after the grace period.
  bool interruptible = false;
};

struct Request;
// Called at most once per request when the server answers 401: refresh the
// credentials in the request's headers and return true to resend at once
// (not counted as a retry), or false to return the 401 to the caller.
using UnauthorizedHook = std::function<boost::asio::awaitable<bool>(Request&)>;

// Not an aggregate on purpose: g++ 12 miscompiles braced aggregate temporaries
// inside a co_await expression (`co_await f(Aggregate{...})` frees a dangling
// pointer); constructors keep `co_await client.request(Request(url))` safe.
struct Request {
  Request() = default;
  explicit Request(std::string get_url) : url(std::move(get_url)) {}
  Request(std::string verb, std::string target_url, std::string payload = {})
      : method(std::move(verb)), url(std::move(target_url)), body(std::move(payload)) {}

  std::string method = "GET";
  std::string url{};          // absolute http(s) URL; see join_url for base + target
  std::string api = "other";  // metrics label: gcs, pubsub, bigquery, oauth, metadata...
  Headers headers{};          // Host, User-Agent and Content-Length are filled in
  std::string body{};
  RequestOptions options{};
  UnauthorizedHook on_unauthorized{};
};

struct Response {
  int status = 0;
  Headers headers{};   // as received, less Content-Encoding/Content-Length once decoded
  std::string body{};  // decoded (gzip Content-Encoding removed)
};

}  // namespace kettle::net
