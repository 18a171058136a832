// Internal: reading the flat JSON objects of credentials files and token
// answers, where an empty string means the same as a missing field.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace kettle::auth::detail {

// A string field; nullopt when absent, empty or not a string.
inline std::optional<std::string> string_field(const boost::json::object& object,
                                               std::string_view key) {
  const boost::json::value* v = object.if_contains(key);
  if (!v || !v->is_string() || v->as_string().empty()) return std::nullopt;
  return std::string(v->as_string());
}

}  // namespace kettle::auth::detail
