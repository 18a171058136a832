// BigQuery table schemas: parsing {"fields":[...]}, checking JSON rows against
// them the way insertAll and NEWLINE_DELIMITED_JSON loads do, and writing rows
// in tabledata.list's {"f":[{"v":...}]} form.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fakegcp {

struct FieldSchema {
  enum class Type {
    string,
    bytes,
    integer,
    floating,
    numeric,
    boolean,
    timestamp,
    date,
    time,
    datetime,
    record,
    other  // GEOGRAPHY, JSON, INTERVAL, ...: accepted as they come
  };
  enum class Mode { nullable, required, repeated };

  std::string name;
  Type type = Type::string;
  Mode mode = Mode::nullable;
  std::vector<FieldSchema> fields;  // RECORD only
};
using Schema = std::vector<FieldSchema>;

// Parses a table schema ({"fields":[...]}); nullopt with error set when a
// field has no valid name, an unknown type or mode, a duplicate name, or a
// RECORD without fields.
std::optional<Schema> parse_schema(const boost::json::value& schema, std::string& error);

// Same names, types (INT64 = INTEGER, ...), modes and nesting; descriptions aside.
bool same_schema(const Schema& a, const Schema& b);

struct RowError {
  std::string location;  // the field, dotted for records ("a.b", "list[2].c")
  std::string message;
};

// Why BigQuery would reject this row, or nullopt when it fits. Unknown fields
// are errors unless ignore_unknown.
std::optional<RowError> check_row(const Schema& schema, const boost::json::object& row,
                                  bool ignore_unknown);

// The row as tabledata.list sends it: every schema field in order, scalars as
// strings (TIMESTAMP as epoch seconds in floating-point notation), records as
// {"f":[...]}, repeated fields as [{"v":...}].
boost::json::object to_table_row(const Schema& schema, const boost::json::object& row);

// Seconds since the epoch for a TIMESTAMP value: a number, or a string such as
// "2024-01-02 03:04:05.123 UTC", "2024-01-02T03:04:05Z" or "1700000000".
// nullopt when malformed or outside 0001-01-01 .. 9999-12-31.
std::optional<double> timestamp_seconds(const boost::json::value& v);

// Java's Double.toString layout, which BigQuery uses for TIMESTAMP cells:
// "1.7E9", "1.5", "0.0".
std::string java_double_text(double d);

}  // namespace fakegcp
