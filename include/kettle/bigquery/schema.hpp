// The table schema (schema.json's field array): the one compiled into the
// binary, so every command finds it from any working directory, or a file
// given with --schema.
#pragma once

#include <boost/json/array.hpp>
#include <string>

namespace kettle::bigquery {

// src/bigquery/schema.json, as built in.
const boost::json::array& builtin_schema();

// A schema.json file's field array ({"fields": [...]} is accepted too);
// throws std::runtime_error naming the file.
boost::json::array read_schema(const std::string& path);

}  // namespace kettle::bigquery
