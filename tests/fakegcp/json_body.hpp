// Reading JSON request bodies the way Google's JSON APIs accept them.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http_message.hpp"

namespace fakegcp {

// The body as sent, inflated when Content-Encoding says gzip; nullopt when
// that does not inflate.
std::optional<std::string> decoded_body(const Request& req);

// A JSON object body; an empty body counts as {}. nullopt with `error` set
// otherwise.
std::optional<boost::json::object> parse_object(std::string_view text, std::string& error);

// proto3 JSON integers: a number without fraction, or a decimal string.
std::optional<std::int64_t> json_int(const boost::json::value& v);

// The string at key, or empty when absent or not a string.
std::string string_at(const boost::json::object& o, std::string_view key);

}  // namespace fakegcp
