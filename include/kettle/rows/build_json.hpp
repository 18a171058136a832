// started.json / finished.json: from fetched bytes to the DB text, and the
// timestamp rules (SPEC §4, D4, D13).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace kettle::rows {

// JSON text to a value the way Python's json.loads reads it: floats correctly
// rounded (as the reference's repr round-trips them), the last of duplicate keys
// wins, invalid UTF-8 becomes U+FFFD, the literals NaN, Infinity and
// -Infinity are read (json.dumps writes them, e.g. for "1e400", read as inf).
// nullopt when malformed. Integers beyond 64 bits become doubles (Python would
// keep them exact).
std::optional<boost::json::value> parse_json(std::string_view text);

// started.json / finished.json bytes or DB text as an object: a UTF-8 BOM is
// skipped; nullopt unless it is a non-empty JSON object (D4).
std::optional<boost::json::object> parse_build_json(std::string_view bytes);

// Parses fetched bytes (a UTF-8 BOM is skipped). Anything that is not a
// non-empty JSON object counts as absent (nullopt). Otherwise the DB text:
// Python json.dumps with sorted keys.
std::optional<std::string> normalize_build_json(std::string_view bytes);

// A timestamp as SPEC D4 reads it: integer, float or a string holding either,
// truncated toward zero; nullopt when missing, unusable, or outside years 1..9999.
std::optional<int64_t> timestamp_seconds(const boost::json::value* timestamp);

// The build.finished_time column value for a finished.json DB text (D13): the
// timestamp as given when it is a number, a numeric string as its integer,
// else SQL NULL (monostate).
using FinishedTime = std::variant<std::monostate, int64_t, double>;
FinishedTime finished_time_of(std::string_view finished_db_json);

}  // namespace kettle::rows
