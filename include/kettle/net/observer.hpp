// Hooks through which the HTTP client reports its attempts, so metrics, logs
// or tests can follow the transport without net/ depending on them.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "kettle/net/error.hpp"
#include "kettle/net/retry.hpp"

namespace kettle::net {

// Every method does nothing by default; override the ones you need and set
// Config::observer. Calls come from the client's thread, inline with its I/O:
// keep them quick, never throw (some come from destructors), and make them
// thread-safe if one observer serves clients on several threads. `api` is
// Request::api.
class Observer {
 public:
  virtual ~Observer() = default;

  // An attempt took an in-flight slot (it may still queue for a connection
  // to its host).
  virtual void attempt_started(std::string_view /*api*/) {}

  // An attempt ended: exactly one call for each attempt_started.
  // `status`: the HTTP status, 0 when no usable response came back.
  // `error`: why not, when status is 0; ErrorKind::cancelled when stop() or
  //   shutdown() abandoned the attempt or kept it from reaching the wire.
  // `took`: connect to last body byte; zero when it never reached the wire.
  virtual void attempt_finished(std::string_view /*api*/, int /*status*/,
                                std::optional<ErrorKind> /*error*/, Duration /*took*/) {}

  // A failed attempt will be followed by another after `delay`.
  virtual void retry_scheduled(std::string_view /*api*/, Duration /*delay*/) {}

  // The response bytes held against Config::body_budget changed: `in_use`
  // of `limit` bytes, `waiting` attempts waiting for room.
  virtual void body_budget_changed(std::size_t /*in_use*/, std::size_t /*limit*/,
                                   std::size_t /*waiting*/) {}
};

}  // namespace kettle::net
