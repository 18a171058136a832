// `kettle bq-load`: an NDJSON(.gz) file into a BigQuery table with a load job.
#pragma once

#include <boost/json/array.hpp>
#include <optional>
#include <string>

#include "kettle/cloud/context.hpp"

namespace kettle::update {

struct BqLoadOptions {
  std::string dataset;      // PROJECT:DATASET
  std::string table;        // table name
  bool replace = false;     // WRITE_TRUNCATE instead of WRITE_APPEND
  int max_bad_records = 0;
  std::string schema_path;  // schema.json; empty: the table's own schema
  std::string file;         // the NDJSON file, gzip or not
};

// Creates the table with the schema when missing, then loads. Returns 0 when
// the job succeeded, 1 when it failed (its errors logged). Throws on bad
// options (unreadable schema, bad table name) with a clear message.
boost::asio::awaitable<int> bq_load(cloud::Context& cloud, const BqLoadOptions& options);

// schema.json's field array; throws std::runtime_error naming the file.
boost::json::array read_schema(const std::string& path);

}  // namespace kettle::update
