// `kettle monitor`: table freshness, in the reference's words. Per table:
// "Checking SPEC...", then one JSON line {table_spec, size_bytes,
// modified_time, row_count, hours_old}; "ERROR: table ..." when older than
// --stale hours (no default: only checked when given). A missing table is an
// error here (the reference skips it silently), so a deleted table alerts.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kettle/app/core.hpp"

namespace kettle::update {

struct MonitorOptions {
  std::vector<std::string> tables;   // PROJECT:DATASET.TABLE
  std::optional<double> stale_hours; // nullopt: freshness is reported, not judged
};

// 0 when every table exists and none is stale, else 1.
boost::asio::awaitable<int> monitor(app::Core& core, MonitorOptions options);

}  // namespace kettle::update
