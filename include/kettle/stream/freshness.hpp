// The freshness gauge from the start. kettle_last_bigquery_insert_timestamp_seconds
// {table} is otherwise set only by an insert or a load: a stream that never
// inserts after a restart would export nothing, and no staleness alert would
// fire. Each table's lastModifiedTime (tables.get) sets it at start instead.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <vector>

#include "kettle/bigquery/client.hpp"
#include "kettle/bigquery/table_ref.hpp"

namespace kettle::stream {

// What the gauge of one table becomes, given its value now (nullopt: not
// exported yet) and what tables.get answered: the table's lastModifiedTime
// in seconds, never earlier than a value already set (an insert since);
// 0 ("never") for a table that does not exist or could not be read, unless
// a value is set. Pure, for tests.
double seeded_freshness(std::optional<double> current,
                        const net::Result<std::optional<bigquery::TableInfo>>& got);

// Exports the per-table counters at 0 and sets the freshness gauge of each
// table from tables.get (one request each, under the client's retry policy).
boost::asio::awaitable<void> seed_table_freshness(bigquery::Client& bq,
                                                  std::vector<bigquery::TableRef> tables);

}  // namespace kettle::stream
