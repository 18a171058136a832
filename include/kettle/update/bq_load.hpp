// `kettle bq-load`: an NDJSON(.gz) file into a BigQuery table with a load job.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "kettle/app/core.hpp"

namespace kettle::update {

struct BqLoadOptions {
  std::string dataset;      // PROJECT:DATASET
  std::string table;        // table name
  bool replace = false;     // WRITE_TRUNCATE instead of WRITE_APPEND
  int max_bad_records = 0;
  std::string file;         // the NDJSON file, gzip or not
};

// Creates the table with the core's schema when missing, then loads with that
// schema. Returns 0 when the job succeeded, 1 when it failed (its errors
// logged). Throws on bad options (unreadable schema, bad table name).
boost::asio::awaitable<int> bq_load(app::Core& core, BqLoadOptions options);

}  // namespace kettle::update
