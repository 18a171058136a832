// The pure half of tabledata.insertAll: batching rows into requests under
// the size and row limits, exact request bodies, per-row outcomes from the
// answer, and deterministic insert ids. No I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kettle::bigquery {

// One row to stream. `json` is the row object already serialized (one NDJSON
// line, trailing newline allowed); it goes into the body as it is.
struct InsertRow {
  std::string insert_id;  // best-effort de-duplication key; see insert_id_for
  std::string json;
};

// Google's guidance for one insertAll request.
struct InsertLimits {
  std::size_t max_rows = 500;  // rows per request
  // Body bytes per request: Google refuses requests over 10 MB, and the
  // headers and any slack come out of the same budget.
  std::size_t max_bytes = 9'000'000;
};

// A run of rows [begin, end) sent as one request, and its body's exact size.
struct Batch {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t body_bytes = 0;
  std::size_t size() const { return end - begin; }
};

class InsertBatcher {
 public:
  explicit InsertBatcher(InsertLimits limits = {}) : limits_(limits) {}

  // Consecutive batches covering every row in order, each within both limits;
  // a row too large for any request goes alone in its batch (the server then
  // rejects it, and only it).
  std::vector<Batch> split(std::span<const InsertRow> rows) const;

  // The exact size of insert_all_request_body(rows).
  static std::size_t body_bytes(std::span<const InsertRow> rows);

 private:
  InsertLimits limits_;
};

// {"skipInvalidRows":true,"rows":[{"insertId":"...","json":<row>},...]}
std::string insert_all_request_body(std::span<const InsertRow> rows);

// Whether a row's JSON text is one JSON object (anything else would make the
// whole request invalid, so such rows are refused before sending).
bool is_json_object(std::string_view text);

enum class RowStatus {
  accepted,  // BigQuery stored the row
  rejected,  // BigQuery refused the row itself; retrying cannot help
  pending,   // neither (not sent, or a transient per-row failure): retry later
};

struct RowOutcome {
  RowStatus status = RowStatus::pending;
  std::string reason;   // BigQuery's reason, e.g. "invalid"; empty when accepted
  std::string message;  // BigQuery's words, for the log
};

// Per-row reasons that say nothing about the row itself ("stopped": another
// row failed; backend trouble): the row is retried, not rejected.
bool is_transient_row_reason(std::string_view reason);

// Outcomes of the `row_count` rows of a request from its 200 answer: rows not
// named in insertErrors were accepted. nullopt when the body is not such an
// answer (not JSON, an index out of range), with the reason in `error`.
std::optional<std::vector<RowOutcome>> parse_insert_all_response(std::string_view body,
                                                                 std::size_t row_count,
                                                                 std::string& error);

// Hex SHA-256 of build_path + "\n" + row_json, first 32 digits: the same row
// of the same build always gets the same id.
std::string insert_id_for(std::string_view build_path, std::string_view row_json);

}  // namespace kettle::bigquery
