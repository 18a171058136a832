// The bookkeeping of `kettle stream` (SPEC §5, D8, D15, D16) as plain state:
// which pulled messages name which builds, which acknowledgement each build's
// messages get once its fetch is done and committed, and which builds a
// BigQuery insert round may record as emitted. No I/O, no clock: the caller
// performs every decision and the results are testable without a server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kettle/bigquery/insert.hpp"
#include "kettle/config/buckets.hpp"
#include "kettle/pubsub/message.hpp"

namespace kettle::stream {

// How much the stream remembers between batches; both are bounded so a long
// run cannot grow without limit.
struct LedgerLimits {
  // Builds whose finished.json was missing once and that wait for their
  // redelivery (D15). Missing finished.json is rare (deleted or half-written
  // builds), so this is far above a realistic backlog; past it the oldest is
  // forgotten, which only costs that build one more redelivery. At least 1.
  std::size_t max_missing_builds = 10'000;
  // Builds for which no row can be made (e.g. under no bucket). Forgetting one
  // only means it is built and logged once more in a later round. At least 1.
  std::size_t max_rowless_builds = 100'000;
};

// One build named by a pulled batch, with every message that named it: the
// messages share one fetch and one fate.
struct BuildDelivery {
  std::string path;                  // gs://bucket/.../build
  std::vector<std::string> ack_ids;  // in pull order
};

// A pulled batch split by what must happen to its messages.
struct GroupedBatch {
  std::vector<std::string> irrelevant;  // ack ids to acknowledge at once
  // reasons[i]: "<message id>: <why irrelevant[i] is>", for debug logs.
  std::vector<std::string> reasons;
  std::vector<BuildDelivery> builds;  // relevant ones, one per path, sorted by path

  // Ack ids of every relevant message, in `builds` order (to extend their deadline).
  std::vector<std::string> relevant_ids() const;
};

// Classifies each message (classify(): finished.json finalize events of jobs
// not excluded, D8/D15) and merges the messages naming the same build.
GroupedBatch group_batch(std::span<const pubsub::Message> messages, const config::Buckets& buckets);

// What reading a build's started.json / finished.json came to.
enum class FetchOutcome {
  written,           // finished.json read and the build handed to the DB writer
  missing_finished,  // both reads answered, but finished.json absent or unusable (D4)
  failed,            // a read failed after its retries (transport, 5xx, ...)
};

// What is done with a build's messages once the batch's writes are committed.
enum class Disposition {
  collected,  // acknowledge: the build is in the database
  gone,       // acknowledge with a log line: finished.json missing again (D15)
  retry,      // nack (short ack deadline): redelivered soon for another try
};

// Acknowledgements to send, after the DB commit that covers the written builds.
struct Decisions {
  std::vector<std::string> collected;    // ack ids of written builds
  std::vector<std::string> gone;         // ack ids of builds given up on (D15)
  std::vector<std::string> retry;        // ack ids to nack
  std::vector<std::string> gone_builds;  // paths of the builds given up on, for the log

  bool empty() const { return collected.empty() && gone.empty() && retry.empty(); }
};

// The acknowledgement state of the stream: outcomes recorded but not yet
// settled, and per build path how many deliveries found finished.json missing.
// Usage: record() each build of a batch, wait for the DB commit, settle(), then
// acknowledge / nack what the Decisions say. Not thread-safe: one strand.
class AckBook {
 public:
  // Position in the sequence of record() calls (see mark()).
  using Mark = std::uint64_t;

  explicit AckBook(LedgerLimits limits = {});

  // Records the outcome of `build`'s fetch and returns what its messages will get.
  Disposition record(BuildDelivery build, FetchOutcome outcome);

  // Everything recorded so far. A caller that keeps recording while a commit
  // is under way takes a mark before starting the commit and settles up to it,
  // so no build is acknowledged before the commit that holds it.
  Mark mark() const { return next_; }
  // Decisions for the outcomes recorded before `upto`, in record order; they
  // are forgotten here. Call only after the DB commit covering them.
  Decisions settle(Mark upto);
  // Decisions for every outcome recorded so far.
  Decisions settle() { return settle(mark()); }

  // Deliveries of `path` that found finished.json missing (0 when not remembered).
  int missing_deliveries(const std::string& path) const;
  // Build paths remembered for D15 (at most limits.max_missing_builds).
  std::size_t missing_builds() const { return missing_.size(); }
  // Outcomes recorded and not yet settled.
  std::size_t unsettled() const { return unsettled_.size(); }

 private:
  struct Recorded {
    Mark mark;
    BuildDelivery build;
    Disposition disposition;
  };
  struct Missing {
    int deliveries = 0;
    std::list<std::string>::iterator age;  // its place in missing_by_age_
  };

  Disposition on_missing(const std::string& path);
  void forget_missing(const std::string& path);

  std::size_t max_missing_;
  Mark next_ = 0;
  std::deque<Recorded> unsettled_;  // in record order, so marks ascend
  std::unordered_map<std::string, Missing> missing_;
  std::list<std::string> missing_by_age_;  // oldest first: evicted first
};

// One row sent in an insertAll round, in the order of the request's rows.
struct SentRow {
  std::int64_t build_id = 0;
  std::string path;
};

// A row BigQuery refused on its own (D16): logged with its path and reason.
struct RejectedRow {
  std::int64_t build_id = 0;
  std::string path;
  std::string reason;   // BigQuery's reason, e.g. "invalid"
  std::string message;  // BigQuery's words
};

// The result of one insertAll round into one table.
struct InsertTally {
  std::vector<std::int64_t> emitted;  // build ids to record as emitted: accepted and rejected
  std::vector<RejectedRow> rejected_rows;
  std::size_t accepted = 0;
  std::size_t rejected = 0;
  std::size_t retried = 0;  // pending: neither accepted nor rejected, sent again in a later round
};

// Splits a round by the per-row outcomes (outcomes[i] belongs to rows[i]). D16:
// accepted and rejected rows are recorded as emitted, pending ones never; a
// row without an outcome (the round stopped before it) is pending.
InsertTally tally_insert(std::span<const SentRow> rows,
                         std::span<const bigquery::RowOutcome> outcomes);

// Builds for which no row can be made, so the stream does not rebuild and log
// them in every round. Bounded: the oldest is forgotten first.
class EmitBook {
 public:
  explicit EmitBook(LedgerLimits limits = {});

  // True when `build_id` is known to have no row: leave it out of the round.
  bool skip_row(std::int64_t build_id) const { return rowless_.count(build_id) != 0; }
  // Remembers that `build_id` has no row.
  void no_row(std::int64_t build_id);
  // Builds remembered (at most limits.max_rowless_builds).
  std::size_t rowless_builds() const { return rowless_.size(); }

 private:
  std::size_t max_rowless_;
  std::unordered_set<std::int64_t> rowless_;
  std::deque<std::int64_t> rowless_by_age_;  // oldest first: evicted first
};

}  // namespace kettle::stream
