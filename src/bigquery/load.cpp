#include "kettle/bigquery/load.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace kettle::bigquery {
namespace json = boost::json;

namespace {

std::string string_member(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->get_string()) : std::string();
}

const json::object* object_member(const json::object* object, std::string_view key) {
  if (!object) return nullptr;
  const auto* value = object->if_contains(key);
  return value ? value->if_object() : nullptr;
}

// BigQuery sends int64 values as JSON strings; numbers are accepted too.
std::int64_t int64_member(const json::object* object, std::string_view key) {
  if (!object) return 0;
  const auto* value = object->if_contains(key);
  if (!value) return 0;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->get_uint64());
  if (!value->is_string()) return 0;
  const auto& text = value->get_string();
  std::int64_t parsed = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  return ec == std::errc() && end == text.data() + text.size() ? parsed : 0;
}

JobError job_error(const json::object& object) {
  return JobError{string_member(object, "reason"), string_member(object, "location"),
                  string_member(object, "message")};
}

std::optional<std::uint64_t> parse_uint(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string JobError::str() const {
  std::string out = reason.empty() ? "error" : reason;
  if (!location.empty()) out += " at " + location;
  if (!message.empty()) out += ": " + message;
  return out;
}

std::string LoadResult::summary() const {
  // Enough errors to see the pattern; a job may list thousands of bad records.
  constexpr std::size_t kErrorsShown = 5;
  std::string out = "job " + job_id;
  if (!done) return out + " not done";
  if (error_result) {
    out += " failed: " + error_result->str();
  } else {
    out += " loaded " + std::to_string(output_rows) + " rows, " + std::to_string(bad_records) +
           " bad records";
  }
  for (std::size_t i = 0; i < errors.size() && i < kErrorsShown; ++i) {
    out += i == 0 ? "; errors: " : " | ";
    out += errors[i].str();
  }
  if (errors.size() > kErrorsShown) {
    out += " | (" + std::to_string(errors.size() - kErrorsShown) + " more)";
  }
  return out;
}

std::string make_load_job_id(const TableRef& table) {
  std::string id = "kettle_load_";
  for (char c : table.table) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-';
    id.push_back(allowed ? c : '_');
  }
  std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "_%Y%m%d%H%M%S_", &utc);
  id += stamp;
  // Two loads of one table in one second must still differ.
  std::uniform_int_distribution<std::uint32_t> random_bits;
  std::random_device device;
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", random_bits(device));
  id += hex;
  return id;
}

json::object table_reference(const TableRef& table) {
  return {{"projectId", table.project}, {"datasetId", table.dataset}, {"tableId", table.table}};
}

std::string load_job_body(const TableRef& table, const LoadOptions& options,
                          std::string_view job_id) {
  json::object load;
  load["destinationTable"] = table_reference(table);
  load["sourceFormat"] = "NEWLINE_DELIMITED_JSON";
  load["writeDisposition"] =
      options.write_disposition == WriteDisposition::truncate ? "WRITE_TRUNCATE" : "WRITE_APPEND";
  load["createDisposition"] = "CREATE_IF_NEEDED";
  load["maxBadRecords"] = options.max_bad_records;
  if (!options.schema.empty()) load["schema"] = json::object{{"fields", options.schema}};
  json::object reference;
  reference["projectId"] = table.project;
  reference["jobId"] = job_id;
  json::object job;
  job["jobReference"] = std::move(reference);
  job["configuration"] = json::object{{"load", std::move(load)}};
  return json::serialize(job);
}

std::optional<LoadResult> parse_job(std::string_view body, std::string& error) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  const auto* job = ec ? nullptr : doc.if_object();
  const auto* reference = object_member(job, "jobReference");
  if (!reference) {
    error = "not a job resource (no jobReference)";
    return std::nullopt;
  }
  LoadResult result;
  result.job_id = string_member(*reference, "jobId");
  result.location = string_member(*reference, "location");
  if (result.job_id.empty()) {
    error = "job resource without a jobId";
    return std::nullopt;
  }
  const auto* status = object_member(job, "status");
  result.done = status && string_member(*status, "state") == "DONE";
  if (const auto* failure = object_member(status, "errorResult")) {
    result.error_result = job_error(*failure);
  }
  if (status) {
    if (const auto* errors = status->if_contains("errors"); errors && errors->is_array()) {
      for (const auto& entry : errors->get_array()) {
        if (const auto* object = entry.if_object()) result.errors.push_back(job_error(*object));
      }
    }
  }
  const auto* load = object_member(object_member(job, "statistics"), "load");
  result.output_rows = int64_member(load, "outputRows");
  result.bad_records = int64_member(load, "badRecords");
  return result;
}

std::size_t upload_chunk_bytes(std::size_t requested) {
  return std::max<std::size_t>(1, requested / kUploadQuantum) * kUploadQuantum;
}

UploadProgress::UploadProgress(std::uint64_t total, std::size_t chunk_bytes)
    : total_(total), chunk_bytes_(upload_chunk_bytes(chunk_bytes)) {}

UploadProgress::Chunk UploadProgress::next_chunk() const {
  Chunk chunk;
  chunk.offset = offset_;
  chunk.size = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes_, total_ - offset_));
  if (chunk.size == 0) {
    chunk.content_range = status_query_range();  // nothing left to send: just finish
  } else {
    chunk.content_range = "bytes " + std::to_string(offset_) + "-" +
                          std::to_string(offset_ + chunk.size - 1) + "/" + std::to_string(total_);
  }
  return chunk;
}

std::string UploadProgress::status_query_range() const {
  return "bytes */" + std::to_string(total_);
}

bool UploadProgress::on_incomplete(std::optional<std::string_view> range) {
  if (!range) {
    offset_ = 0;
    return true;
  }
  constexpr std::string_view prefix = "bytes=0-";
  if (!range->starts_with(prefix)) return false;
  auto last = parse_uint(range->substr(prefix.size()));
  if (!last || *last >= total_) return false;
  offset_ = *last + 1;
  return true;
}

}  // namespace kettle::bigquery
