#include "kettle/update/monitor.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "kettle/bigquery/client.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::update {

boost::asio::awaitable<int> monitor(cloud::Context& cloud, std::vector<std::string> tables, double stale_hours) {
  auto endpoint = bigquery::endpoint_from_env();
  auto credentials = co_await cloud.credentials_for(endpoint.emulator);
  bigquery::ClientConfig config;
  config.base_url = endpoint.base_url;
  bigquery::Client bq(cloud.http(), credentials, config);

  int code = 0;
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (const auto& name : tables) {
    std::string error;
    auto table = bigquery::TableRef::parse(name, &error);
    if (!table) throw std::runtime_error(error);
    auto info = co_await bq.get_table(*table);
    if (!info) {
      KLOG(error) << "cannot read " << name << ": " << info.error().what();
      code = 1;
      continue;
    }
    if (!*info) {
      std::cout << name << ": missing\n";
      code = 1;
      continue;
    }
    double hours = static_cast<double>(now_ms - (*info)->last_modified_ms) / 3.6e6;
    bool stale = hours > stale_hours;
    char line[256];
    std::snprintf(line, sizeof line, "%s: %lld rows, %.1f MB, modified %.1f hours ago%s", name.c_str(),
                  static_cast<long long>((*info)->num_rows), static_cast<double>((*info)->num_bytes) / 1e6, hours,
                  stale ? " (STALE)" : "");
    std::cout << line << '\n';
    if (stale) code = 1;
  }
  std::cout.flush();
  co_return code;
}

}  // namespace kettle::update
