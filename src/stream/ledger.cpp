#include "kettle/stream/ledger.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "kettle/stream/classify.hpp"

namespace kettle::stream {

namespace {
// A limit of 0 would forget each entry as it is made (for D15: a missing
// finished.json redelivered forever), so at least one is remembered.
std::size_t at_least_one(std::size_t n) { return std::max<std::size_t>(n, 1); }

void append(std::vector<std::string>& to, const std::vector<std::string>& ids) {
  to.insert(to.end(), ids.begin(), ids.end());
}
}  // namespace

std::vector<std::string> GroupedBatch::relevant_ids() const {
  std::vector<std::string> ids;
  for (const auto& build : builds) append(ids, build.ack_ids);
  return ids;
}

GroupedBatch group_batch(std::span<const pubsub::Message> messages,
                         const config::Buckets& buckets) {
  GroupedBatch out;
  // Keyed by path: several notifications of one build become one fetch, and
  // the builds come out sorted whatever order Pub/Sub delivered them in.
  std::map<std::string, std::vector<std::string>> by_path;
  for (const auto& m : messages) {
    auto c = classify(m, buckets);
    if (c.relevant) {
      by_path[c.build_path].push_back(m.ack_id);
    } else {
      out.irrelevant.push_back(m.ack_id);
      out.reasons.push_back(m.message_id + ": " + c.reason);
    }
  }
  out.builds.reserve(by_path.size());
  for (auto& [path, ids] : by_path) out.builds.push_back({path, std::move(ids)});
  return out;
}

AckBook::AckBook(LedgerLimits limits) : max_missing_(at_least_one(limits.max_missing_builds)) {}

Disposition AckBook::record(BuildDelivery build, FetchOutcome outcome) {
  Disposition d = Disposition::retry;
  switch (outcome) {
    case FetchOutcome::written:
      // Found at last: a later miss of the same path starts over at one.
      forget_missing(build.path);
      d = Disposition::collected;
      break;
    case FetchOutcome::missing_finished:
      d = on_missing(build.path);
      break;
    case FetchOutcome::failed:
      // Says nothing about finished.json, so the D15 count stays as it was.
      d = Disposition::retry;
      break;
  }
  unsettled_.push_back({next_++, std::move(build), d});
  return d;
}

Disposition AckBook::on_missing(const std::string& path) {
  auto it = missing_.find(path);
  if (it == missing_.end()) {
    // Make room by forgetting the build that has waited longest for its redelivery.
    if (missing_.size() >= max_missing_) forget_missing(missing_by_age_.front());
    missing_by_age_.push_back(path);
    it = missing_.emplace(path, Missing{0, std::prev(missing_by_age_.end())}).first;
  }
  // D15: the first delivery may have raced the upload, so it gets a
  // redelivery; a later one still missing it will not get better.
  if (++it->second.deliveries < 2) return Disposition::retry;
  // Acknowledged now, so nothing is left to count for this path.
  forget_missing(path);
  return Disposition::gone;
}

void AckBook::forget_missing(const std::string& path) {
  auto it = missing_.find(path);
  if (it == missing_.end()) return;
  missing_by_age_.erase(it->second.age);
  missing_.erase(it);
}

Decisions AckBook::settle(Mark upto) {
  Decisions out;
  // Marks ascend in record order, so what `upto` covers is a prefix.
  while (!unsettled_.empty() && unsettled_.front().mark < upto) {
    auto& r = unsettled_.front();
    switch (r.disposition) {
      case Disposition::collected:
        append(out.collected, r.build.ack_ids);
        break;
      case Disposition::gone:
        append(out.gone, r.build.ack_ids);
        out.gone_builds.push_back(std::move(r.build.path));
        break;
      case Disposition::retry:
        append(out.retry, r.build.ack_ids);
        break;
    }
    unsettled_.pop_front();
  }
  return out;
}

int AckBook::missing_deliveries(const std::string& path) const {
  auto it = missing_.find(path);
  return it == missing_.end() ? 0 : it->second.deliveries;
}

InsertTally tally_insert(std::span<const SentRow> rows,
                         std::span<const bigquery::RowOutcome> outcomes) {
  InsertTally t;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    // No outcome: the round ended before this row was answered, so retry it.
    const auto status = i < outcomes.size() ? outcomes[i].status : bigquery::RowStatus::pending;
    switch (status) {
      case bigquery::RowStatus::accepted:
        ++t.accepted;
        t.emitted.push_back(rows[i].build_id);
        break;
      case bigquery::RowStatus::rejected:
        // D16: retrying cannot help, so it is recorded like an accepted row.
        ++t.rejected;
        t.emitted.push_back(rows[i].build_id);
        t.rejected_rows.push_back(
            {rows[i].build_id, rows[i].path, outcomes[i].reason, outcomes[i].message});
        break;
      case bigquery::RowStatus::pending:
        // D16: BigQuery has not got it, so it must stay unemitted.
        ++t.retried;
        break;
    }
  }
  return t;
}

EmitBook::EmitBook(LedgerLimits limits) : max_rowless_(at_least_one(limits.max_rowless_builds)) {}

void EmitBook::no_row(std::int64_t build_id) {
  if (!rowless_.insert(build_id).second) return;
  rowless_by_age_.push_back(build_id);
  // Never erased otherwise, so the queue and the set stay the same size.
  if (rowless_by_age_.size() > max_rowless_) {
    rowless_.erase(rowless_by_age_.front());
    rowless_by_age_.pop_front();
  }
}

}  // namespace kettle::stream
