#include "kettle/collect/listing_plan.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

namespace kettle::collect {
namespace {

// Prow's ids are snowflakes: milliseconds since this epoch (Twitter's), shifted
// past 22 bits of node and sequence.
constexpr int64_t kSnowflakeEpochMs = 1'288'834'974'657;
constexpr int kSnowflakeShift = 22;
constexpr uint64_t kSmallestSnowflake = 1'000'000'000'000'000'000ULL;  // the first with 19 digits

uint64_t snowflake_value(std::string_view id) {
  uint64_t value = 0;
  std::from_chars(id.data(), id.data() + id.size(), value);  // 19 digits always fit
  return value;
}

// FNV-1a: a hash that stays the same across builds and runs.
uint64_t stable_hash(std::string_view text) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

bool is_snowflake(std::string_view name) {
  return name.size() == 19 && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int64_t snowflake_seconds(std::string_view id) {
  return (static_cast<int64_t>(snowflake_value(id) >> kSnowflakeShift) + kSnowflakeEpochMs) / 1000;
}

std::string snowflake_floor(int64_t epoch_seconds) {
  const int64_t ms_max = std::numeric_limits<int64_t>::max() >> kSnowflakeShift;
  int64_t ms = epoch_seconds > ms_max / 1000 ? ms_max : epoch_seconds * 1000 - kSnowflakeEpochMs;
  ms = std::clamp<int64_t>(ms, 0, ms_max);
  uint64_t id = std::max(static_cast<uint64_t>(ms) << kSnowflakeShift, kSmallestSnowflake);
  return std::to_string(id);
}

bool full_listing_due(std::string_view prefix, int64_t last, int64_t now, const ListingConfig& config) {
  const int64_t every = config.full_listing_every;
  if (every <= 0 || now < last) return true;
  const auto phase = static_cast<int64_t>(stable_hash(prefix) % static_cast<uint64_t>(every));
  return floor_div(now - phase, every) > floor_div(last - phase, every);
}

ListingPlan plan_listing(const PlanRequest& request, const ListingConfig& config) {
  if (request.limited) return {.start = "", .keeps_state = false};
  const ListingPlan full{.start = "", .keeps_state = true};
  if (request.force_full || request.state == nullptr || !*request.state) return full;
  const store::ListingCursor& state = **request.state;
  if (!is_snowflake(state.cursor)) return full;  // no cursor (or not one we wrote)
  if (request.safety_net && full_listing_due(request.prefix, state.full_listed_at, request.now, config)) return full;
  ListingPlan plan{.start = std::min(state.cursor, snowflake_floor(request.now - config.recent_seconds))};
  for (const auto& name : state.kept)
    if (name < plan.start) plan.carried.push_back(name);
  return plan;
}

ListingOutcome::ListingOutcome(ListingPlan plan, std::optional<store::ListingCursor> before, std::string prefix,
                               int64_t now, size_t max_kept)
    : plan_(std::move(plan)), before_(std::move(before)), prefix_(std::move(prefix)), now_(now), max_kept_(max_kept) {}

void ListingOutcome::listed(std::string_view name) {
  ++count_;
  if (before_ && !before_->cursor.empty() && name >= before_->cursor) ++from_old_cursor_;
  if (!all_snowflakes_) return;
  if (!is_snowflake(name)) {
    all_snowflakes_ = false;
    ids_ = {};
    return;
  }
  ids_.push_back(snowflake_value(name));
  if (name > newest_) newest_ = name;
}

void ListingOutcome::kept(std::string_view name) { kept_.emplace_back(name); }

std::optional<store::ListingCursor> ListingOutcome::finish() const {
  if (!plan_.keeps_state) return std::nullopt;
  const bool had_cursor = before_ && !before_->cursor.empty();
  if (!plan_.full() && !had_cursor) return std::nullopt;  // not planned by plan_listing
  store::ListingCursor row;
  row.prefix = prefix_;
  row.names = count_;
  // Names below the old cursor were not listed; they are as many as before.
  if (!plan_.full()) row.names = std::max(count_, before_->names - before_->names_from_cursor + from_old_cursor_);
  // A cursor needs every name to be a snowflake: listed now, and (from a
  // cursor) below the start, which the earlier listings saw.
  if (all_snowflakes_ && (count_ > 0 || !plan_.full())) {
    // Every name after the newest is new; from a cursor, the names between
    // the newest and the old cursor are gone (or there would be a newest).
    row.cursor = plan_.full() ? newest_ : std::max(newest_, before_->cursor);
    std::vector<std::string> kept = kept_;
    std::sort(kept.begin(), kept.end());
    kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
    kept.erase(std::lower_bound(kept.begin(), kept.end(), row.cursor), kept.end());  // listed anyway
    if (kept.size() > max_kept_) {
      row.cursor = kept[max_kept_];  // the rest lie at or after the cursor
      kept.resize(max_kept_);
    }
    row.kept = std::move(kept);
    std::vector<uint64_t> ids = ids_;
    std::sort(ids.begin(), ids.end());
    const uint64_t from = snowflake_value(row.cursor);
    row.names_from_cursor = static_cast<int64_t>(ids.end() - std::lower_bound(ids.begin(), ids.end(), from));
    row.full_listed_at = plan_.full() ? now_ : before_->full_listed_at;
  } else {
    // Listed in full every time: only the size is kept, for the estimates.
    row.names_from_cursor = row.names;
    if (!before_ && row.names == 0) return std::nullopt;
  }
  if (before_ && *before_ == row) return std::nullopt;
  return row;
}

void PrListingEstimate::job(const store::ListingCursor& row) {
  ++jobs_;
  names_ += row.names;
  job_pages_ += pages(row.cursor.empty() ? row.names : row.names_from_cursor);
}

int64_t PrListingEstimate::pages(int64_t names) const {
  const int64_t page = std::max<int64_t>(1, config_.page_size);
  return std::max<int64_t>(1, (names + page - 1) / page);
}

int64_t PrListingEstimate::full_requests() const {
  return pages(std::max(names_, directory_ ? directory_->names : 0));
}

int64_t PrListingEstimate::per_job_requests() const { return pages(jobs_) + job_pages_; }

bool PrListingEstimate::per_job(int64_t now, std::string_view directory_prefix) const {
  if (!directory_ || full_listing_due(directory_prefix, directory_->full_listed_at, now, config_)) return false;
  return per_job_requests() < full_requests();
}

}  // namespace kettle::collect
