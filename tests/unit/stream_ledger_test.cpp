// The stream's bookkeeping without I/O: grouping a pulled batch, what each
// build's messages get after the commit (D15), and insert rounds (D16).
#include <boost/test/unit_test.hpp>

#include "kettle/stream/ledger.hpp"

using namespace kettle::stream;
using kettle::bigquery::RowOutcome;
using kettle::bigquery::RowStatus;
using Ids = std::vector<std::string>;

namespace {

kettle::pubsub::Message note(const std::string& ack_id, const std::string& object,
                             const std::string& event = "OBJECT_FINALIZE",
                             const std::string& bucket = "kubernetes-jenkins") {
  kettle::pubsub::Message m;
  m.ack_id = ack_id;
  m.message_id = "m-" + ack_id;
  m.attributes = {{"bucketId", bucket}, {"objectId", object}, {"eventType", event}};
  return m;
}

const auto kBuckets = kettle::config::Buckets::parse(
    "gs://kubernetes-jenkins/logs/:\n"
    "  prefix: \"jenkins:\"\n"
    "  exclude_jobs:\n"
    "    - ^flaky-\n",
    "test.yaml");

BuildDelivery delivery(const std::string& path, Ids ids) { return {path, std::move(ids)}; }

const std::string kA = "gs://b/logs/job/1";
const std::string kB = "gs://b/logs/job/2";
const std::string kC = "gs://b/logs/job/3";

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_ledger)

BOOST_AUTO_TEST_CASE(grouping_splits_irrelevant_from_builds_and_merges_duplicates) {
  std::vector<kettle::pubsub::Message> batch = {
      note("1", "logs/job/20/finished.json"),
      note("2", "logs/job/20/started.json"),        // not a finished.json
      note("3", "logs/flaky-e2e/5/finished.json"),  // excluded job (D8)
      note("4", "logs/job/10/finished.json"),
      note("5", "logs/job/20/finished.json", "OBJECT_DELETE"),  // not a finalize (D15)
      note("6", "logs/job/20/finished.json"),                   // same build as "1"
      note("7", "logs/job/10/finished.json", "OBJECT_FINALIZE", "other"),
  };
  auto g = group_batch(batch, kBuckets);

  BOOST_TEST(g.irrelevant == (Ids{"2", "3", "5"}), boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(g.reasons.size(), 3u);
  BOOST_TEST(g.reasons[0] == "m-2: not a finished.json");
  BOOST_TEST(g.reasons[1] == "m-3: job flaky-e2e excluded");
  BOOST_TEST(g.reasons[2] == "m-5: event OBJECT_DELETE");

  // One entry per build, sorted by path, each with all its ack ids in pull order.
  BOOST_REQUIRE_EQUAL(g.builds.size(), 3u);
  BOOST_TEST(g.builds[0].path == "gs://kubernetes-jenkins/logs/job/10");
  BOOST_TEST(g.builds[0].ack_ids == (Ids{"4"}), boost::test_tools::per_element());
  BOOST_TEST(g.builds[1].path == "gs://kubernetes-jenkins/logs/job/20");
  BOOST_TEST(g.builds[1].ack_ids == (Ids{"1", "6"}), boost::test_tools::per_element());
  BOOST_TEST(g.builds[2].path == "gs://other/logs/job/10");
  BOOST_TEST(g.builds[2].ack_ids == (Ids{"7"}), boost::test_tools::per_element());
  BOOST_TEST(g.relevant_ids() == (Ids{"4", "1", "6", "7"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(grouping_an_empty_or_all_irrelevant_batch) {
  BOOST_TEST(group_batch({}, kBuckets).builds.empty());
  std::vector<kettle::pubsub::Message> batch = {note("x", "logs/job/1/build-log.txt")};
  auto g = group_batch(batch, kBuckets);
  BOOST_TEST(g.builds.empty());
  BOOST_TEST(g.irrelevant == (Ids{"x"}), boost::test_tools::per_element());
  BOOST_TEST(g.relevant_ids().empty());
}

BOOST_AUTO_TEST_CASE(written_builds_are_acknowledged_only_at_settle) {
  AckBook book;
  BOOST_TEST(
      (book.record(delivery(kA, {"a1", "a2"}), FetchOutcome::written) == Disposition::collected));
  BOOST_TEST((book.record(delivery(kB, {"b1"}), FetchOutcome::written) == Disposition::collected));
  BOOST_TEST(book.unsettled() == 2u);

  auto d = book.settle();
  BOOST_TEST(d.collected == (Ids{"a1", "a2", "b1"}), boost::test_tools::per_element());
  BOOST_TEST(d.gone.empty());
  BOOST_TEST(d.retry.empty());
  BOOST_TEST(!d.empty());
  // Settled once: a second settle has nothing left to acknowledge.
  BOOST_TEST(book.unsettled() == 0u);
  BOOST_TEST(book.settle().empty());
}

BOOST_AUTO_TEST_CASE(settle_up_to_a_mark_leaves_later_records_for_the_next_commit) {
  AckBook book;
  book.record(delivery(kA, {"a"}), FetchOutcome::written);
  auto mark = book.mark();  // the commit starts here
  book.record(delivery(kB, {"b"}), FetchOutcome::written);

  auto first = book.settle(mark);
  BOOST_TEST(first.collected == (Ids{"a"}), boost::test_tools::per_element());
  BOOST_TEST(book.unsettled() == 1u);
  auto second = book.settle();
  BOOST_TEST(second.collected == (Ids{"b"}), boost::test_tools::per_element());
  // An old mark covers nothing new.
  BOOST_TEST(book.settle(mark).empty());
}

BOOST_AUTO_TEST_CASE(failed_builds_are_nacked_and_leave_the_missing_count_alone) {
  AckBook book;
  BOOST_TEST((book.record(delivery(kA, {"a1"}), FetchOutcome::failed) == Disposition::retry));
  BOOST_TEST(book.missing_deliveries(kA) == 0);
  BOOST_TEST(book.missing_builds() == 0u);

  // After one miss, a failure neither advances nor clears the count...
  book.record(delivery(kA, {"a2"}), FetchOutcome::missing_finished);
  BOOST_TEST(book.missing_deliveries(kA) == 1);
  BOOST_TEST((book.record(delivery(kA, {"a3"}), FetchOutcome::failed) == Disposition::retry));
  BOOST_TEST(book.missing_deliveries(kA) == 1);
  // ...so the next miss is still the second one.
  BOOST_TEST(
      (book.record(delivery(kA, {"a4"}), FetchOutcome::missing_finished) == Disposition::gone));

  auto d = book.settle();
  BOOST_TEST(d.retry == (Ids{"a1", "a2", "a3"}), boost::test_tools::per_element());
  BOOST_TEST(d.gone == (Ids{"a4"}), boost::test_tools::per_element());
  BOOST_TEST(d.collected.empty());
}

BOOST_AUTO_TEST_CASE(missing_finished_is_nacked_once_then_acknowledged_as_gone) {  // D15
  AckBook book;
  BOOST_TEST((book.record(delivery(kA, {"a1", "a2"}), FetchOutcome::missing_finished) ==
              Disposition::retry));
  BOOST_TEST(book.missing_deliveries(kA) == 1);
  auto first = book.settle();
  BOOST_TEST(first.retry == (Ids{"a1", "a2"}), boost::test_tools::per_element());
  BOOST_TEST(first.gone.empty());
  BOOST_TEST(first.gone_builds.empty());

  // The redelivery, in a later batch, still finds it missing.
  BOOST_TEST(
      (book.record(delivery(kA, {"a3"}), FetchOutcome::missing_finished) == Disposition::gone));
  auto second = book.settle();
  BOOST_TEST(second.gone == (Ids{"a3"}), boost::test_tools::per_element());
  BOOST_TEST(second.gone_builds == (Ids{kA}), boost::test_tools::per_element());
  BOOST_TEST(second.retry.empty());
  // Acknowledged: nothing left to remember about it.
  BOOST_TEST(book.missing_deliveries(kA) == 0);
  BOOST_TEST(book.missing_builds() == 0u);
}

BOOST_AUTO_TEST_CASE(a_write_resets_the_missing_count) {  // D15
  AckBook book;
  book.record(delivery(kA, {"a1"}), FetchOutcome::missing_finished);
  BOOST_TEST(book.missing_deliveries(kA) == 1);
  BOOST_TEST((book.record(delivery(kA, {"a2"}), FetchOutcome::written) == Disposition::collected));
  BOOST_TEST(book.missing_deliveries(kA) == 0);
  BOOST_TEST(book.missing_builds() == 0u);
  // A later miss of the same build starts over: redelivered, not given up on.
  BOOST_TEST(
      (book.record(delivery(kA, {"a3"}), FetchOutcome::missing_finished) == Disposition::retry));
  auto d = book.settle();
  BOOST_TEST(d.collected == (Ids{"a2"}), boost::test_tools::per_element());
  BOOST_TEST(d.retry == (Ids{"a1", "a3"}), boost::test_tools::per_element());
  BOOST_TEST(d.gone.empty());
}

BOOST_AUTO_TEST_CASE(missing_counts_are_kept_per_path) {
  AckBook book;
  book.record(delivery(kA, {"a1"}), FetchOutcome::missing_finished);
  BOOST_TEST(
      (book.record(delivery(kB, {"b1"}), FetchOutcome::missing_finished) == Disposition::retry));
  BOOST_TEST(book.missing_deliveries(kA) == 1);
  BOOST_TEST(book.missing_deliveries(kB) == 1);
  BOOST_TEST(book.missing_builds() == 2u);
}

BOOST_AUTO_TEST_CASE(remembered_missing_builds_are_capped_oldest_first) {
  AckBook book(LedgerLimits{.max_missing_builds = 2});
  book.record(delivery(kA, {"a1"}), FetchOutcome::missing_finished);
  book.record(delivery(kB, {"b1"}), FetchOutcome::missing_finished);
  book.record(delivery(kC, {"c1"}), FetchOutcome::missing_finished);  // evicts kA
  BOOST_TEST(book.missing_builds() == 2u);
  BOOST_TEST(book.missing_deliveries(kA) == 0);
  BOOST_TEST(book.missing_deliveries(kB) == 1);
  BOOST_TEST(book.missing_deliveries(kC) == 1);

  // kB is still remembered, so its redelivery is given up on...
  BOOST_TEST(
      (book.record(delivery(kB, {"b2"}), FetchOutcome::missing_finished) == Disposition::gone));
  // ...while forgotten kA gets one more redelivery, and evicts nothing now.
  BOOST_TEST(
      (book.record(delivery(kA, {"a2"}), FetchOutcome::missing_finished) == Disposition::retry));
  BOOST_TEST(book.missing_builds() == 2u);
  BOOST_TEST(book.missing_deliveries(kC) == 1);
  BOOST_TEST(book.missing_deliveries(kA) == 1);
  BOOST_TEST(
      (book.record(delivery(kC, {"c2"}), FetchOutcome::missing_finished) == Disposition::gone));
}

BOOST_AUTO_TEST_CASE(a_zero_cap_still_remembers_one_build) {
  AckBook book(LedgerLimits{.max_missing_builds = 0});
  book.record(delivery(kA, {"a1"}), FetchOutcome::missing_finished);
  BOOST_TEST(
      (book.record(delivery(kA, {"a2"}), FetchOutcome::missing_finished) == Disposition::gone));
}

BOOST_AUTO_TEST_CASE(insert_round_records_accepted_and_rejected_never_pending) {  // D16
  std::vector<SentRow> rows = {{1, "gs://b/j/1"},
                               {2, "gs://b/j/2"},
                               {3, "gs://b/j/3"},
                               {4, "gs://b/j/4"},
                               {5, "gs://b/j/5"}};
  std::vector<RowOutcome> outcomes = {
      {RowStatus::accepted, "", ""},
      {RowStatus::rejected, "invalid", "no such field: x"},
      {RowStatus::pending, "backendError", "try again"},
      {RowStatus::accepted, "", ""},
      // rows[4] has no outcome: the round stopped before it.
  };
  auto t = tally_insert(rows, outcomes);
  BOOST_TEST(t.emitted == (std::vector<std::int64_t>{1, 2, 4}), boost::test_tools::per_element());
  BOOST_TEST(t.accepted == 2u);
  BOOST_TEST(t.rejected == 1u);
  BOOST_TEST(t.retried == 2u);
  BOOST_REQUIRE_EQUAL(t.rejected_rows.size(), 1u);
  BOOST_TEST(t.rejected_rows[0].build_id == 2);
  BOOST_TEST(t.rejected_rows[0].path == "gs://b/j/2");
  BOOST_TEST(t.rejected_rows[0].reason == "invalid");
  BOOST_TEST(t.rejected_rows[0].message == "no such field: x");
}

BOOST_AUTO_TEST_CASE(insert_round_that_failed_before_any_answer_emits_nothing) {  // D16
  std::vector<SentRow> rows = {{7, "gs://b/j/7"}, {8, "gs://b/j/8"}};
  auto t = tally_insert(rows, {});
  BOOST_TEST(t.emitted.empty());
  BOOST_TEST(t.accepted == 0u);
  BOOST_TEST(t.rejected == 0u);
  BOOST_TEST(t.retried == 2u);
}

BOOST_AUTO_TEST_CASE(builds_without_a_row_are_remembered) {
  EmitBook book;
  BOOST_TEST(!book.skip_row(42));
  book.no_row(42);
  BOOST_TEST(book.skip_row(42));
  BOOST_TEST(!book.skip_row(43));
  book.no_row(42);  // again: still one entry
  BOOST_TEST(book.rowless_builds() == 1u);
}

BOOST_AUTO_TEST_CASE(builds_without_a_row_are_capped_oldest_first) {
  EmitBook book(LedgerLimits{.max_rowless_builds = 2});
  book.no_row(1);
  book.no_row(2);
  book.no_row(2);  // a repeat must not push 1 out
  BOOST_TEST(book.skip_row(1));
  book.no_row(3);  // evicts 1
  BOOST_TEST(book.rowless_builds() == 2u);
  BOOST_TEST(!book.skip_row(1));
  BOOST_TEST(book.skip_row(2));
  BOOST_TEST(book.skip_row(3));
}

BOOST_AUTO_TEST_SUITE_END()
