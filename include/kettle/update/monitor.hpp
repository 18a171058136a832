// `kettle monitor`: table freshness (size, rows, hours since modified).
#pragma once

#include <string>
#include <vector>

#include "kettle/cloud/context.hpp"

namespace kettle::update {

// Prints one line per table; 1 when a table is missing or was last modified
// more than `stale_hours` ago, else 0.
boost::asio::awaitable<int> monitor(cloud::Context& cloud, std::vector<std::string> tables, double stale_hours);

}  // namespace kettle::update
