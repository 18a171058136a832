#include "kettle/bigquery/insert.hpp"

#include <openssl/evp.h>

#include <array>
#include <boost/json.hpp>

namespace kettle::bigquery {
namespace json = boost::json;

namespace {

constexpr std::string_view kBodyOpen = R"({"skipInvalidRows":true,"rows":[)";
constexpr std::string_view kBodyClose = "]}";
constexpr std::string_view kRowOpen = R"({"insertId":)";
constexpr std::string_view kRowJson = R"(,"json":)";
constexpr std::string_view kRowClose = "}";

std::string quoted(std::string_view text) { return json::serialize(json::string(text)); }

std::size_t row_bytes(const InsertRow& row) {
  return kRowOpen.size() + quoted(row.insert_id).size() + kRowJson.size() + row.json.size() +
         kRowClose.size();
}

std::string string_member(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

// insertErrors[].index: a JSON number, or a string holding one.
std::optional<std::size_t> row_index(const json::value* value) {
  if (!value) return std::nullopt;
  if (value->is_uint64()) return static_cast<std::size_t>(value->get_uint64());
  if (value->is_int64() && value->get_int64() >= 0)
    return static_cast<std::size_t>(value->get_int64());
  if (value->is_string()) {
    std::size_t index = 0;
    const auto& text = value->get_string();
    if (text.empty() || text.size() > 18) return std::nullopt;
    for (char c : text) {
      if (c < '0' || c > '9') return std::nullopt;
      index = index * 10 + static_cast<std::size_t>(c - '0');
    }
    return index;
  }
  return std::nullopt;
}

// The outcome of a row named in insertErrors: rejected for the first reason
// that is about the row, pending when every reason is transient.
RowOutcome listed_row_outcome(const json::value* errors) {
  RowOutcome outcome;
  std::optional<std::string> first_reason;
  bool about_the_row = false;
  if (const auto* list = errors ? errors->if_array() : nullptr) {
    for (const auto& entry : *list) {
      const auto* object = entry.if_object();
      if (!object) continue;
      auto reason = string_member(*object, "reason");
      auto message = string_member(*object, "message");
      if (!first_reason) first_reason = reason;
      if (!about_the_row && !is_transient_row_reason(reason)) {
        about_the_row = true;
        outcome.reason = reason;
      }
      if (message.empty()) continue;
      if (!outcome.message.empty()) outcome.message += "; ";
      outcome.message += message;
    }
  }
  if (!first_reason) {
    // Listed means not stored; with nothing to retry on, call it refused.
    return RowOutcome{RowStatus::rejected, "unknown", "listed in insertErrors without an error"};
  }
  outcome.status = about_the_row ? RowStatus::rejected : RowStatus::pending;
  if (!about_the_row) outcome.reason = *first_reason;
  return outcome;
}

}  // namespace

std::vector<Batch> InsertBatcher::split(std::span<const InsertRow> rows) const {
  std::vector<Batch> batches;
  Batch current;
  auto close_current = [&] {
    if (current.size() > 0) batches.push_back(current);
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::size_t cost = row_bytes(rows[i]);
    bool fits = current.size() < limits_.max_rows &&
                current.body_bytes + 1 + cost <= limits_.max_bytes;  // 1: the comma
    if (current.size() > 0 && fits) {
      current.end = i + 1;
      current.body_bytes += 1 + cost;
      continue;
    }
    close_current();
    current = Batch{i, i + 1, kBodyOpen.size() + cost + kBodyClose.size()};
  }
  close_current();
  return batches;
}

std::size_t InsertBatcher::body_bytes(std::span<const InsertRow> rows) {
  std::size_t total = kBodyOpen.size() + kBodyClose.size();
  for (const auto& row : rows) total += row_bytes(row);
  if (!rows.empty()) total += rows.size() - 1;
  return total;
}

std::string insert_all_request_body(std::span<const InsertRow> rows) {
  std::string body;
  body.reserve(InsertBatcher::body_bytes(rows));
  body += kBodyOpen;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) body += ',';
    body += kRowOpen;
    body += quoted(rows[i].insert_id);
    body += kRowJson;
    body += rows[i].json;
    body += kRowClose;
  }
  body += kBodyClose;
  return body;
}

bool is_json_object(std::string_view text) {
  json::error_code ec;
  json::value value = json::parse(text, ec);
  return !ec && value.is_object();
}

bool is_transient_row_reason(std::string_view reason) {
  return reason == "stopped" || reason == "backendError" || reason == "internalError" ||
         reason == "timeout" || reason == "rateLimitExceeded";
}

std::optional<std::vector<RowOutcome>> parse_insert_all_response(std::string_view body,
                                                                 std::size_t row_count,
                                                                 std::string& error) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) {
    error = "insertAll answer is not a JSON object";
    return std::nullopt;
  }
  std::vector<RowOutcome> outcomes(row_count, RowOutcome{RowStatus::accepted, {}, {}});
  const auto* listed = doc.get_object().if_contains("insertErrors");
  if (!listed) return outcomes;
  if (!listed->is_array()) {
    error = "insertAll answer: insertErrors is not an array";
    return std::nullopt;
  }
  for (const auto& entry : listed->get_array()) {
    const auto* object = entry.if_object();
    auto index = object ? row_index(object->if_contains("index")) : std::nullopt;
    if (!index || *index >= row_count) {
      error = "insertAll answer: an insertErrors entry has no valid index for " +
              std::to_string(row_count) + " rows";
      return std::nullopt;
    }
    outcomes[*index] = listed_row_outcome(object->if_contains("errors"));
  }
  return outcomes;
}

std::string insert_id_for(std::string_view build_path, std::string_view row_json) {
  std::string input;
  input.reserve(build_path.size() + 1 + row_json.size());
  input.append(build_path).append("\n").append(row_json);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    return {};  // never happens with OpenSSL's built-in SHA-256; an empty id just disables de-dup
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length && hex.size() < 32; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

}  // namespace kettle::bigquery
