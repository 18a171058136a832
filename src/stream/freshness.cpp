#include "kettle/stream/freshness.hpp"

#include <algorithm>

#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::stream {

double seeded_freshness(std::optional<double> current,
                        const net::Result<std::optional<bigquery::TableInfo>>& got) {
  const double known = current.value_or(0);
  if (!got || !*got) return known;
  return std::max(known, static_cast<double>((*got)->last_modified_ms) / 1000.0);
}

boost::asio::awaitable<void> seed_table_freshness(bigquery::Client& bq,
                                                  std::vector<bigquery::TableRef> tables) {
  auto& m = obs::metrics();
  for (const auto& table : tables) m.declare_table(table.str());
  for (const auto& table : tables) {
    const std::string name = table.str();
    auto got = co_await bq.get_table(table);
    if (!got && got.error().kind == net::ErrorKind::cancelled) co_return;
    std::optional<double> current =
        m.bigquery_last_insert.has({name})
            ? std::optional<double>(m.bigquery_last_insert.with({name}).value())
            : std::nullopt;
    m.bigquery_last_insert.with({name}).set(seeded_freshness(current, got));
    if (!got) {
      KLOG(warning) << obs::label("table", name) << "cannot read when " << name
                    << " was last modified (its freshness counts from the next insert): "
                    << got.error().what();
    } else if (!*got) {
      KLOG(warning) << obs::label("table", name) << name
                    << " does not exist yet: its freshness is 0 until rows reach it";
    }
  }
}

}  // namespace kettle::stream
