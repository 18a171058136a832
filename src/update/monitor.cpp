#include "kettle/update/monitor.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "kettle/bigquery/client.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/rows/pyjson.hpp"

namespace kettle::update {

namespace {

// The reference's json.dumps of its fields, in its key order.
std::string fields_line(const std::string& spec, const bigquery::TableInfo& info, double hours_old) {
  std::string out = "{\"table_spec\": ";
  rows::pyjson::append_string(out, spec);
  out += ", \"size_bytes\": " + std::to_string(info.num_bytes);
  out += ", \"modified_time\": " + std::to_string(info.last_modified_ms);
  out += ", \"row_count\": " + std::to_string(info.num_rows);
  out += ", \"hours_old\": ";
  rows::pyjson::append_double(out, hours_old);
  out += "}";
  return out;
}

}  // namespace

boost::asio::awaitable<int> monitor(app::Core& core, MonitorOptions opt) {
  co_await core.connect(app::bigquery_api);
  int code = 0;
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  for (const auto& spec : opt.tables) {
    std::string error;
    auto table = bigquery::TableRef::parse(spec, &error);
    if (!table) throw std::runtime_error(error);
    std::cout << "Checking " << spec << "..." << std::endl;
    auto info = co_await core.bigquery().get_table(*table);
    if (!info) {
      KLOG(error) << "cannot read " << spec << ": " << info.error().what();
      code = 1;
      continue;
    }
    if (!*info) {
      std::cout << "ERROR: table " << spec << " does not exist." << std::endl;
      code = 1;
      continue;
    }
    double hours_old = (now - static_cast<double>((*info)->last_modified_ms) / 1000) / 3600.0;
    if (opt.stale_hours && hours_old > *opt.stale_hours) {
      char line[512];
      std::snprintf(line, sizeof line, "ERROR: table %s is %.1f hours old. Max allowed: %g hours.",
                    table->table.c_str(), hours_old, *opt.stale_hours);
      std::cout << line << std::endl;
      code = 1;
    }
    std::cout << fields_line(spec, **info, hours_old) << std::endl;
  }
  std::cout << "Finished checking tables" << std::endl;
  co_return code;
}

}  // namespace kettle::update
