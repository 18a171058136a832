// Incremental listing: where a listing of a job directory may start, and
// what make-db remembers for the next run. Pure decisions, no I/O.
//
// A full listing fetches every listed build that is not present (SPEC §2.2,
// §2.3). Presence only grows: a build with finished.json keeps it, and a
// started-only build older than 5 days stays older. So when every name below
// a cursor was present, a later full listing fetches nothing below it either,
// and the listing may start at the cursor (GCS startOffset) as long as new
// names sort after the old ones. That holds for Prow's build ids (snowflakes,
// 19 digits: string order is number order, and ids grow with time), not for
// numbers of mixed widths ("10000" sorts before "6000"), so only prefixes
// whose names are all snowflakes get a cursor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kettle/store/listing_cursor.hpp"

namespace kettle::collect {

struct ListingConfig {
  // Every prefix with a cursor is still listed in full once in this period
  // (the safety net, e.g. for a name that sorts below its cursor). Each
  // prefix has its own phase in the period, a hash of its name, so the full
  // listings spread over the period instead of landing in one run.
  // 0 = every listing is full. make-db --full-listing-every.
  int64_t full_listing_every = 24 * 3600;  // seconds
  // Ids made this recently are listed again whatever the cursor says: a
  // build directory may appear after newer ones (a pod that waited to be
  // scheduled). Costs nothing while they fit in the first page.
  int64_t recent_seconds = 6 * 3600;
  // A build finishes after its id was made; clocks differ by less than this.
  // Bounds which present PR builds a listing from a cursor can meet.
  int64_t id_clock_margin = 24 * 3600;
  // Names below a cursor that are not present are remembered, at most this
  // many per prefix (the oldest); past that the cursor stays below the rest.
  size_t max_kept = 100;
  // Names per listing page (gcs::ClientConfig::page_size): the unit of the
  // request estimates.
  int64_t page_size = 1000;
};

// A Prow build id: 19 ASCII digits.
bool is_snowflake(std::string_view name);
// The epoch seconds a snowflake id was made at (Twitter's epoch, as Prow's ids).
int64_t snowflake_seconds(std::string_view id);
// The smallest 19-digit id made at or after `epoch_seconds`.
std::string snowflake_floor(int64_t epoch_seconds);

// Whether a prefix last listed in full at `last` is due for its full listing
// at `now` (its phase in every config.full_listing_every period has passed).
bool full_listing_due(std::string_view prefix, int64_t last, int64_t now, const ListingConfig& config);

struct PlanRequest {
  std::string_view prefix;                   // the key of the state
  const std::optional<store::ListingCursor>* state = nullptr;  // as stored, if any
  int64_t now = 0;
  bool force_full = false;  // --full-listing
  bool limited = false;     // BUILD_LIMIT (D18): the first N names of a full listing, no state
  bool safety_net = true;   // false: the caller lists the whole pass in full on its own schedule
};

struct ListingPlan {
  std::string start;        // list the names >= start; "" = the full listing
  bool keeps_state = true;  // whether the outcome is stored (not under BUILD_LIMIT)
  // Names below `start` to walk as if listed: the state's kept names.
  std::vector<std::string> carried = {};
  bool full() const { return start.empty(); }
};

ListingPlan plan_listing(const PlanRequest& request, const ListingConfig& config);

// What became of one planned listing: its names and those a full listing
// would fetch again next run. finish() gives the row to store.
class ListingOutcome {
 public:
  ListingOutcome(ListingPlan plan, std::optional<store::ListingCursor> before, std::string prefix, int64_t now,
                 size_t max_kept = ListingConfig{}.max_kept);

  // Every name the listing returned (for a PR job directory: the pointer's
  // path below the directory, without ".txt").
  void listed(std::string_view name);
  // A listed or carried name that was not present and still is not: its
  // fetch failed, found nothing, or wrote no finished.json (a running build).
  void kept(std::string_view name);

  // The row to store, or nullopt when nothing is to be written (BUILD_LIMIT,
  // or the row would not change).
  std::optional<store::ListingCursor> finish() const;

 private:
  ListingPlan plan_;
  std::optional<store::ListingCursor> before_;
  std::string prefix_;
  int64_t now_;
  bool all_snowflakes_ = true;
  int64_t count_ = 0;
  int64_t from_old_cursor_ = 0;   // listed names >= before_->cursor
  std::vector<uint64_t> ids_;     // the listed snowflakes, while all are (for the counts)
  size_t max_kept_;
  std::string newest_;
  std::vector<std::string> kept_;
};

// The requests of the PR pass either way, from the stored rows of the
// pointer directory (SPEC §2.1): one listing of all pointers, or one
// delimiter listing to find the job directories plus one listing per job
// directory from its cursor.
class PrListingEstimate {
 public:
  explicit PrListingEstimate(const ListingConfig& config) : config_(config) {}
  // The row of the pointer directory itself (its last full listing).
  void directory(const store::ListingCursor& row) { directory_ = row; }
  // The row of one job directory below it.
  void job(const store::ListingCursor& row);

  int64_t full_requests() const;
  int64_t per_job_requests() const;
  // Per-job listings when they cost fewer requests and the pointer directory
  // had a full listing within its period (its safety net); else the full listing.
  bool per_job(int64_t now, std::string_view directory_prefix) const;

 private:
  int64_t pages(int64_t names) const;
  const ListingConfig& config_;
  std::optional<store::ListingCursor> directory_;
  int64_t jobs_ = 0;
  int64_t names_ = 0;
  int64_t job_pages_ = 0;
};

}  // namespace kettle::collect
