// JSON text exactly as Python's json.dumps writes it (SPEC §3.4): separators
// ", " and ": ", non-ASCII as \uXXXX (surrogate pairs above U+FFFF), floats in
// repr form (1e-05, 3900.0, 1e+16), optional sorted keys.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace kettle::rows::pyjson {

void append(std::string& out, const boost::json::value& v, bool sort_keys);
std::string dumps(const boost::json::value& v, bool sort_keys);

// A JSON string literal with quotes; invalid UTF-8 becomes \ufffd.
void append_string(std::string& out, std::string_view utf8);
// Python float repr: shortest round-trip digits; NaN, Infinity and -Infinity as
// json.dumps writes them (parse_json reads them back).
void append_double(std::string& out, double d);

}  // namespace kettle::rows::pyjson
