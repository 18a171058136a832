// Internal: reading the flat JSON objects of credentials files and token
// answers, where an empty string means the same as a missing field.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/system/result.hpp>
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

// The object of a credentials file whose "type" is `type`; else why not, in
// words for an error that names the file.
inline boost::system::result<boost::json::object, std::string> typed_object(std::string_view text,
                                                                            std::string_view type) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec) return "not valid JSON (" + ec.message() + ")";
  if (!value.is_object()) return std::string("not a JSON object");
  auto found = string_field(value.as_object(), "type");
  if (!found) return std::string("no \"type\" field");
  if (*found != type) return "type is \"" + *found + "\", expected \"" + std::string(type) + "\"";
  return std::move(value.as_object());
}

}  // namespace kettle::auth::detail
