#include "bigquery_service.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include "api_error.hpp"
#include "base64url.hpp"
#include "gzip_codec.hpp"
#include "json_body.hpp"
#include "multipart.hpp"
#include "time_text.hpp"

namespace fakegcp {
namespace json = boost::json;

namespace {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

constexpr std::string_view kApiPrefix = "/bigquery/v2/projects/";
constexpr std::string_view kUploadPrefix = "/upload/bigquery/v2/projects/";
constexpr std::string_view kControlPath = "/_fake/bigquery";
constexpr std::size_t kMaxInsertBytes = 10u << 20;  // insertAll request size limit
constexpr std::size_t kMaxInsertRows = 50000;       // insertAll rows per request
constexpr std::size_t kMaxJobErrors = 100;          // errors[] entries a job lists
constexpr std::string_view kLocation = "US";

}  // namespace

// Which BigQuery resource a path names.
struct BqRoute {
  enum class Kind { datasets, dataset, tables, table, insert_all, table_data, jobs, job, upload };
  Kind kind = Kind::datasets;
  std::string project, dataset, table, job;
  std::string_view stat_kind;

  std::string dataset_key() const { return project + ":" + dataset; }
  std::string table_key() const { return project + ":" + dataset + "." + table; }
};

namespace {

std::optional<BqRoute> parse_route(std::string_view path) {
  bool upload = path.starts_with(kUploadPrefix);
  if (!upload && !path.starts_with(kApiPrefix)) return std::nullopt;
  path.remove_prefix(upload ? kUploadPrefix.size() : kApiPrefix.size());
  std::vector<std::string> segs;
  while (true) {
    auto slash = path.find('/');
    auto seg = percent_decode(path.substr(0, slash), false);
    if (!seg || seg->empty()) return std::nullopt;
    segs.push_back(std::move(*seg));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  using K = BqRoute::Kind;
  BqRoute r;
  r.project = segs[0];
  std::size_t n = segs.size();
  auto is = [&](std::size_t i, std::string_view word) { return n > i && segs[i] == word; };
  if (upload) {
    if (n != 2 || !is(1, "jobs")) return std::nullopt;
    r.kind = K::upload;
    r.stat_kind = "bigquery.upload";
    return r;
  }
  if (n == 2 && is(1, "jobs")) {
    r.kind = K::jobs;
    r.stat_kind = "bigquery.job";
    return r;
  }
  if (n == 3 && is(1, "jobs")) {
    r.kind = K::job;
    r.job = segs[2];
    r.stat_kind = "bigquery.job";
    return r;
  }
  if (!is(1, "datasets")) return std::nullopt;
  if (n == 2) {
    r.kind = K::datasets;
    r.stat_kind = "bigquery.dataset";
    return r;
  }
  r.dataset = segs[2];
  if (n == 3) {
    r.kind = K::dataset;
    r.stat_kind = "bigquery.dataset";
    return r;
  }
  if (!is(3, "tables")) return std::nullopt;
  if (n == 4) {
    r.kind = K::tables;
    r.stat_kind = "bigquery.table";
    return r;
  }
  r.table = segs[4];
  if (n == 5) {
    r.kind = K::table;
    r.stat_kind = "bigquery.table";
  } else if (n == 6 && is(5, "insertAll")) {
    r.kind = K::insert_all;
    r.stat_kind = "bigquery.insertAll";
  } else if (n == 6 && is(5, "data")) {
    r.kind = K::table_data;
    r.stat_kind = "bigquery.tabledata";
  } else {
    return std::nullopt;
  }
  return r;
}

bool valid_dataset_id(std::string_view id) {
  return !id.empty() && id.size() <= 1024 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Letters, digits, '_', '-', ' ' and '$' (partition decorators); no dots or slashes.
bool valid_table_id(std::string_view id) {
  return !id.empty() && id.size() <= 1024 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == ' ' ||
           c == '$';
  });
}

bool valid_job_id(std::string_view id) {
  return !id.empty() && id.size() <= 1024 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

bool bool_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

const json::object* object_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

Response bq_error(unsigned status, std::string_view message, std::string_view reason) {
  return google_error(status, message, reason);
}

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

std::optional<json::object> read_body(const Request& req, Response& error) {
  auto text = decoded_body(req);
  if (!text) {
    error = bq_error(400, "The request body is marked gzip but does not inflate.", "invalid");
    return std::nullopt;
  }
  std::string message;
  auto body = parse_object(*text, message);
  if (!body) error = bq_error(400, message, "invalid");
  return body;
}

// A non-negative integer query parameter: nullopt when absent, false when malformed.
bool size_param(const Params& params, std::string_view key, std::optional<std::size_t>& out) {
  auto text = find_param(params, key);
  if (!text || text->empty()) return true;
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || end != text->data() + text->size()) return false;
  out = n;
  return true;
}

json::object dataset_reference(const std::string& project, const std::string& dataset) {
  return {{"projectId", project}, {"datasetId", dataset}};
}

json::object dataset_resource(const json::object& body, const std::string& project,
                              const std::string& dataset, const std::string& base_url) {
  json::object r = body;
  std::string now = millis_text(unix_now_ns());
  r["kind"] = "bigquery#dataset";
  r["id"] = project + ":" + dataset;
  r["etag"] = now;
  r["selfLink"] = base_url + std::string(kApiPrefix) + project + "/datasets/" + dataset;
  r["datasetReference"] = dataset_reference(project, dataset);
  if (!r.contains("location")) r["location"] = kLocation;
  r["creationTime"] = now;
  r["lastModifiedTime"] = now;
  return r;
}

// What a load job needs before it is accepted (400 otherwise).
std::optional<Response> check_load_resource(const json::object& resource) {
  const json::object* config = object_at(resource, "configuration");
  const json::object* load = config ? object_at(*config, "load") : nullptr;
  if (!load)
    return bq_error(400, "The fake runs only load jobs: configuration.load is required.",
                    "invalid");
  const json::object* dest = object_at(*load, "destinationTable");
  if (!dest || string_at(*dest, "projectId").empty() ||
      !valid_dataset_id(string_at(*dest, "datasetId")) ||
      !valid_table_id(string_at(*dest, "tableId")))
    return bq_error(400,
                    "Invalid load configuration: destinationTable needs projectId, datasetId and "
                    "tableId.",
                    "invalid");
  if (const json::value* schema = load->if_contains("schema")) {
    std::string error;
    if (!parse_schema(*schema, error)) return bq_error(400, error, "invalid");
  }
  if (const json::object* ref = object_at(resource, "jobReference")) {
    std::string id = string_at(*ref, "jobId");
    if (!id.empty() && !valid_job_id(id))
      return bq_error(400,
                      "Invalid job ID \"" + id +
                          "\". Job IDs must be alphanumeric (plus underscores and dashes) and "
                          "must be at most 1024 characters long.",
                      "invalid");
  }
  return std::nullopt;
}

struct ParsedRange {
  std::optional<std::pair<std::uint64_t, std::uint64_t>> bytes;  // first, last (inclusive)
  std::optional<std::uint64_t> total;                            // nullopt for "*"
};

// "bytes 0-99/200", "bytes 0-99/*" or "bytes */200".
std::optional<ParsedRange> parse_content_range(std::string_view text) {
  if (!text.starts_with("bytes ")) return std::nullopt;
  text.remove_prefix(6);
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view s) -> std::optional<std::uint64_t> {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return n;
  };
  ParsedRange r;
  std::string_view range = text.substr(0, slash), total = text.substr(slash + 1);
  if (total != "*") {
    r.total = number(total);
    if (!r.total) return std::nullopt;
  }
  if (range != "*") {
    auto dash = range.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto first = number(range.substr(0, dash)), last = number(range.substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    r.bytes = std::make_pair(*first, *last);
  }
  return r;
}

}  // namespace

BigQueryService::BigQueryService(ServiceContext& ctx) : ctx_(ctx) {
  for (const auto& spec : ctx_.config.datasets) {
    auto colon = spec.find(':');
    std::string project = spec.substr(0, colon);
    std::string dataset = colon == std::string::npos ? "" : spec.substr(colon + 1);
    if (project.empty() || !valid_dataset_id(dataset))
      throw std::runtime_error("--dataset " + spec + ": want PROJECT:DATASET");
    Dataset& d = datasets_[project + ":" + dataset];
    d.project = project;
    d.id = dataset;
    d.resource = dataset_resource({}, project, dataset, "");
  }
}

std::optional<std::string_view> BigQueryService::classify(const Request& req) const {
  if (is_control(req)) return "control";
  auto route = parse_route(req.path());
  if (!route) return std::nullopt;
  return route->stat_kind;
}

bool BigQueryService::is_control(const Request& req) const {
  std::string_view path = req.path();
  return path == kControlPath || path.starts_with(std::string(kControlPath) + "/");
}

Response BigQueryService::handle(const Request& req) {
  if (is_control(req)) return control(req);
  auto route = parse_route(req.path());
  if (!route)
    return bq_error(404, "Not found: " + req.method + " " + std::string(req.path()), "notFound");
  if (ctx_.config.require_auth && !ctx_.tokens.authorizes(req.header("authorization")))
    return bq_error(401,
                    "Request is missing required authentication credential. Expected OAuth 2 "
                    "access token, login cookie or other valid authentication credential.",
                    "required");
  return api(*route, req);
}

Response BigQueryService::api(const BqRoute& route, const Request& req) {
  const std::string& m = req.method;
  using K = BqRoute::Kind;
  switch (route.kind) {
    case K::datasets:
      if (m == "POST") return create_dataset(route, req);
      if (m == "GET") return list_datasets(route);
      break;
    case K::dataset:
      if (m == "GET") {
        std::lock_guard lock(mutex_);
        Dataset* d = find_dataset(route.project, route.dataset);
        if (!d) return bq_error(404, "Not found: Dataset " + route.dataset_key(), "notFound");
        json::object r = d->resource;
        r["selfLink"] = ctx_.base_url + std::string(kApiPrefix) + d->project + "/datasets/" + d->id;
        return Response::json(200, r);
      }
      if (m == "DELETE") return delete_dataset(route, req);
      break;
    case K::tables:
      if (m == "POST") return create_table(route, req);
      if (m == "GET") return list_tables(route);
      break;
    case K::table:
      if (m == "GET" || m == "DELETE") {
        std::lock_guard lock(mutex_);
        settle_jobs(Clock::now());
        Table* t = find_table(route.project, route.dataset, route.table);
        if (!t) return bq_error(404, "Not found: Table " + route.table_key(), "notFound");
        if (m == "GET") return Response::json(200, table_resource(*t));
        datasets_[route.dataset_key()].tables.erase(route.table);
        return no_content();
      }
      break;
    case K::insert_all:
      if (m == "POST") return insert_all(route, req);
      break;
    case K::table_data:
      if (m == "GET") return list_rows(route, req);
      break;
    case K::jobs:
      if (m == "POST")
        return bq_error(400,
                        "The fake runs only load jobs with uploaded data: POST "
                        "/upload/bigquery/v2/projects/P/jobs?uploadType=resumable|multipart.",
                        "invalid");
      break;
    case K::job:
      if (m == "GET") return get_job(route, req);
      break;
    case K::upload: {
      Params params = parse_params(req.query());
      if (find_param(params, "upload_id") && (m == "PUT" || m == "POST"))
        return continue_upload(req);
      auto type = find_param(params, "uploadType").value_or("");
      if (m == "POST" && type == "resumable") return start_upload(route, req);
      if (m == "POST" && type == "multipart") return multipart_upload(route, req);
      if (m == "POST")
        return bq_error(400, "uploadType must be resumable or multipart, not '" + type + "'.",
                        "invalid");
      break;
    }
  }
  return bq_error(405, "Method " + m + " is not allowed here.", "methodNotAllowed");
}

BigQueryService::Dataset* BigQueryService::find_dataset(const std::string& project,
                                                        const std::string& dataset) {
  auto it = datasets_.find(project + ":" + dataset);
  return it == datasets_.end() ? nullptr : &it->second;
}

BigQueryService::Table* BigQueryService::find_table(const std::string& project,
                                                    const std::string& dataset,
                                                    const std::string& table) {
  Dataset* d = find_dataset(project, dataset);
  if (!d) return nullptr;
  auto it = d->tables.find(table);
  return it == d->tables.end() ? nullptr : &it->second;
}

Response BigQueryService::create_dataset(const BqRoute& route, const Request& req) {
  Response error;
  auto body = read_body(req, error);
  if (!body) return error;
  const json::object* ref = object_at(*body, "datasetReference");
  std::string dataset = ref ? string_at(*ref, "datasetId") : "";
  std::string project = ref ? string_at(*ref, "projectId") : "";
  if (!valid_dataset_id(dataset))
    return bq_error(400,
                    "Invalid dataset ID \"" + dataset +
                        "\". Dataset IDs must be alphanumeric (plus underscores) and must be at "
                        "most 1024 characters long.",
                    "invalid");
  if (!project.empty() && project != route.project)
    return bq_error(400,
                    "The project in datasetReference (" + project + ") does not match the URL (" +
                        route.project + ").",
                    "invalid");
  std::lock_guard lock(mutex_);
  std::string key = route.project + ":" + dataset;
  if (datasets_.contains(key)) return bq_error(409, "Already Exists: Dataset " + key, "duplicate");
  Dataset& d = datasets_[key];
  d.project = route.project;
  d.id = dataset;
  d.resource = dataset_resource(*body, route.project, dataset, ctx_.base_url);
  return Response::json(200, d.resource);
}

Response BigQueryService::delete_dataset(const BqRoute& route, const Request& req) {
  bool delete_contents =
      find_param(parse_params(req.query()), "deleteContents").value_or("") == "true";
  std::lock_guard lock(mutex_);
  Dataset* d = find_dataset(route.project, route.dataset);
  if (!d) return bq_error(404, "Not found: Dataset " + route.dataset_key(), "notFound");
  if (!d->tables.empty() && !delete_contents)
    return bq_error(400, "Dataset " + route.dataset_key() + " is still in use", "resourceInUse");
  datasets_.erase(route.dataset_key());
  return no_content();
}

Response BigQueryService::list_datasets(const BqRoute& route) {
  std::lock_guard lock(mutex_);
  json::array list;
  for (const auto& [key, d] : datasets_) {
    if (d.project != route.project) continue;
    list.push_back(json::object{{"kind", "bigquery#dataset"},
                                {"id", key},
                                {"datasetReference", dataset_reference(d.project, d.id)},
                                {"location", kLocation}});
  }
  json::object out{{"kind", "bigquery#datasetList"}, {"etag", "fake"}};
  if (!list.empty()) out["datasets"] = std::move(list);
  return Response::json(200, out);
}

Response BigQueryService::create_table(const BqRoute& route, const Request& req) {
  Response error;
  auto body = read_body(req, error);
  if (!body) return error;
  const json::object* ref = object_at(*body, "tableReference");
  std::string table = ref ? string_at(*ref, "tableId") : "";
  if (!valid_table_id(table))
    return bq_error(400, "Invalid table ID \"" + table + "\".", "invalid");
  std::string project = ref ? string_at(*ref, "projectId") : "";
  std::string dataset = ref ? string_at(*ref, "datasetId") : "";
  if ((!project.empty() && project != route.project) ||
      (!dataset.empty() && dataset != route.dataset))
    return bq_error(400, "The tableReference does not match the URL's project and dataset.",
                    "invalid");
  Schema schema;
  if (const json::value* s = body->if_contains("schema")) {
    std::string message;
    auto parsed = parse_schema(*s, message);
    if (!parsed) return bq_error(400, message, "invalid");
    schema = std::move(*parsed);
  }

  std::lock_guard lock(mutex_);
  Dataset* d = find_dataset(route.project, route.dataset);
  if (!d) return bq_error(404, "Not found: Dataset " + route.dataset_key(), "notFound");
  BqRoute key_route = route;
  key_route.table = table;
  if (d->tables.contains(table))
    return bq_error(409, "Already Exists: Table " + key_route.table_key(), "duplicate");
  Table& t = d->tables[table];
  t.project = route.project;
  t.dataset = route.dataset;
  t.id = table;
  t.resource = *body;
  t.schema = std::move(schema);
  t.created_ns = t.modified_ns = unix_now_ns();
  counts_[key_route.table_key()];  // the table shows up in the control summary at once
  return Response::json(200, table_resource(t));
}

Response BigQueryService::list_tables(const BqRoute& route) {
  std::lock_guard lock(mutex_);
  settle_jobs(Clock::now());
  Dataset* d = find_dataset(route.project, route.dataset);
  if (!d) return bq_error(404, "Not found: Dataset " + route.dataset_key(), "notFound");
  json::array list;
  for (const auto& [id, t] : d->tables) {
    list.push_back(json::object{
        {"kind", "bigquery#table"},
        {"id", t.project + ":" + t.dataset + "." + t.id},
        {"tableReference",
         json::object{{"projectId", t.project}, {"datasetId", t.dataset}, {"tableId", t.id}}},
        {"type", "TABLE"},
        {"creationTime", millis_text(t.created_ns)}});
  }
  json::object out{{"kind", "bigquery#tableList"}, {"etag", "fake"}, {"totalItems", list.size()}};
  if (!list.empty()) out["tables"] = std::move(list);
  return Response::json(200, out);
}

json::object BigQueryService::table_resource(const Table& t) const {
  json::object r = t.resource;
  std::string key = t.project + ":" + t.dataset + "." + t.id;
  r["kind"] = "bigquery#table";
  r["id"] = key;
  r["etag"] = std::to_string(t.modified_ns);
  r["selfLink"] = ctx_.base_url + std::string(kApiPrefix) + t.project + "/datasets/" + t.dataset +
                  "/tables/" + percent_encode(t.id);
  r["tableReference"] =
      json::object{{"projectId", t.project}, {"datasetId", t.dataset}, {"tableId", t.id}};
  r["numRows"] = std::to_string(t.rows.size());
  r["numBytes"] = std::to_string(t.bytes);
  r["numLongTermBytes"] = "0";
  r["creationTime"] = millis_text(t.created_ns);
  r["lastModifiedTime"] = millis_text(t.modified_ns);
  r["type"] = "TABLE";
  r["location"] = kLocation;
  if (t.streamed_rows > 0)
    r["streamingBuffer"] = json::object{{"estimatedRows", std::to_string(t.streamed_rows)},
                                        {"estimatedBytes", std::to_string(t.streamed_bytes)},
                                        {"oldestEntryTime", millis_text(t.oldest_stream_ns)}};
  return r;
}

Response BigQueryService::insert_all(const BqRoute& route, const Request& req) {
  auto text = decoded_body(req);
  if (!text)
    return bq_error(400, "The request body is marked gzip but does not inflate.", "invalid");
  if (text->size() > kMaxInsertBytes)
    return bq_error(413, "Request payload size exceeds the limit: 10485760 bytes.", "invalid");
  std::string message;
  auto body = parse_object(*text, message);
  if (!body) return bq_error(400, message, "invalid");
  const json::value* rows_value = body->if_contains("rows");
  if (!rows_value || !rows_value->is_array() || rows_value->as_array().empty())
    return bq_error(400, "No rows present in the request.", "invalid");
  const json::array& rows = rows_value->as_array();
  if (rows.size() > kMaxInsertRows)
    return bq_error(400,
                    "too many rows present in the request, limit: 50000 row count: " +
                        std::to_string(rows.size()) + ".",
                    "invalid");
  bool skip_invalid = bool_at(*body, "skipInvalidRows");
  bool ignore_unknown = bool_at(*body, "ignoreUnknownValues");

  std::lock_guard lock(mutex_);
  settle_jobs(Clock::now());
  Table* t = find_table(route.project, route.dataset, route.table);
  if (!t) return bq_error(404, "Not found: Table " + route.table_key(), "notFound");
  TableCounts& counts = counts_[route.table_key()];
  ++counts.insert_requests;
  counts.rows_received += rows.size();

  std::vector<std::optional<RowError>> errors(rows.size());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const json::object* row = rows[i].is_object() ? &rows[i].as_object() : nullptr;
    const json::object* data = row ? object_at(*row, "json") : nullptr;
    if (!data)
      errors[i] = RowError{"", "Row " + std::to_string(i) + " has no \"json\" object."};
    else
      errors[i] = check_row(t->schema, *data, ignore_unknown);
    if (errors[i]) ++bad;
  }
  counts.invalid_rows += bad;

  auto error_entry = [](const RowError& e) {
    return json::object{
        {"reason", "invalid"}, {"location", e.location}, {"debugInfo", ""}, {"message", e.message}};
  };
  json::array insert_errors;
  if (bad > 0 && !skip_invalid) {
    // One bad row stops the whole request; the others are reported as stopped.
    ++counts.rejected_requests;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      json::object entry =
          errors[i]
              ? error_entry(*errors[i])
              : json::object{
                    {"reason", "stopped"}, {"location", ""}, {"debugInfo", ""}, {"message", ""}};
      insert_errors.push_back(json::object{{"index", i}, {"errors", json::array{entry}}});
    }
  } else {
    std::int64_t now = unix_now_ns();
    std::size_t stored = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (errors[i]) {
        insert_errors.push_back(
            json::object{{"index", i}, {"errors", json::array{error_entry(*errors[i])}}});
        continue;
      }
      std::string insert_id = string_at(rows[i].as_object(), "insertId");
      if (!insert_id.empty() && !t->insert_ids.insert(insert_id).second) {
        ++counts.duplicates;
        continue;
      }
      std::string data = json::serialize(rows[i].as_object().at("json"));
      std::size_t size = data.size();
      t->rows.push_back(std::move(data));
      t->bytes += size;
      t->streamed_bytes += size;
      ++t->streamed_rows;
      ++stored;
    }
    counts.rows_inserted += stored;
    if (stored > 0) {
      t->modified_ns = now;
      if (t->oldest_stream_ns == 0) t->oldest_stream_ns = now;
    }
  }
  json::object out{{"kind", "bigquery#tableDataInsertAllResponse"}};
  if (!insert_errors.empty()) out["insertErrors"] = std::move(insert_errors);
  return Response::json(200, out);
}

Response BigQueryService::list_rows(const BqRoute& route, const Request& req) {
  Params params = parse_params(req.query());
  std::optional<std::size_t> start_index, max;
  if (!size_param(params, "startIndex", start_index) || !size_param(params, "maxResults", max))
    return bq_error(400, "startIndex and maxResults must be non-negative integers.", "invalid");
  std::size_t start = start_index.value_or(0);
  if (auto token = find_param(params, "pageToken"); token && !token->empty()) {
    auto decoded = base64url_decode(*token);
    std::size_t n = 0;
    auto [end, ec] = decoded
                         ? std::from_chars(decoded->data(), decoded->data() + decoded->size(), n)
                         : std::from_chars_result{nullptr, std::errc::invalid_argument};
    if (!decoded || ec != std::errc() || end != decoded->data() + decoded->size())
      return bq_error(400, "Invalid page token.", "invalid");
    start = n;
  }

  std::lock_guard lock(mutex_);
  settle_jobs(Clock::now());
  Table* t = find_table(route.project, route.dataset, route.table);
  if (!t) return bq_error(404, "Not found: Table " + route.table_key(), "notFound");
  std::size_t total = t->rows.size();
  std::size_t begin = std::min(start, total);
  std::size_t end = max ? std::min(total, begin + *max) : total;
  json::array rows;
  for (std::size_t i = begin; i < end; ++i) {
    boost::system::error_code ec;
    json::value v = json::parse(t->rows[i], ec);  // stored rows always parse
    rows.push_back(to_table_row(t->schema, v.is_object() ? v.as_object() : json::object{}));
  }
  json::object out{{"kind", "bigquery#tableDataList"},
                   {"etag", std::to_string(t->modified_ns)},
                   {"totalRows", std::to_string(total)}};
  if (!rows.empty()) out["rows"] = std::move(rows);
  if (end < total) out["pageToken"] = base64url_encode(std::to_string(end));
  return Response::json(200, out);
}

Response BigQueryService::start_upload(const BqRoute& route, const Request& req) {
  Response error;
  auto body = read_body(req, error);
  if (!body) return error;
  if (auto bad = check_load_resource(*body)) return *bad;
  std::lock_guard lock(mutex_);
  if (const json::object* ref = object_at(*body, "jobReference")) {
    std::string id = string_at(*ref, "jobId");
    if (!id.empty() && jobs_.contains(route.project + ":" + id))
      return bq_error(
          409, "Already Exists: Job " + route.project + ":" + std::string(kLocation) + "." + id,
          "duplicate");
  }
  std::string upload_id = base64url_encode("upload-" + std::to_string(++next_id_));
  uploads_[upload_id] = Upload{route.project, std::move(*body), {}, {}};
  Response r;
  r.status = 200;
  r.set_header("Location", ctx_.base_url + std::string(kUploadPrefix) +
                               percent_encode(route.project) +
                               "/jobs?uploadType=resumable&upload_id=" + upload_id);
  r.set_header("X-GUploader-UploadID", upload_id);
  return r;
}

Response BigQueryService::continue_upload(const Request& req) {
  std::string upload_id = find_param(parse_params(req.query()), "upload_id").value_or("");
  std::lock_guard lock(mutex_);
  auto it = uploads_.find(upload_id);
  if (it == uploads_.end())
    return bq_error(404, "No such upload session: " + upload_id, "notFound");
  Upload& upload = it->second;
  if (upload.job_key) {  // already complete: answer with the job again
    settle_jobs(Clock::now());
    return Response::json(200, job_resource(jobs_.at(*upload.job_key)));
  }

  bool complete = true;
  std::string_view range_header = req.header("content-range");
  if (!range_header.empty()) {
    auto range = parse_content_range(range_header);
    if (!range)
      return bq_error(400, "Malformed Content-Range: " + std::string(range_header), "invalid");
    std::uint64_t have = upload.data.size();
    if (range->bytes) {
      auto [first, last] = *range->bytes;
      if (last - first + 1 != req.body.size())
        return bq_error(400, "Content-Range does not match the body length.", "invalid");
      if (first > have)
        return bq_error(400, "Content-Range starts past the bytes received so far.", "invalid");
      if (range->total && last + 1 > *range->total)
        return bq_error(400, "Content-Range goes past its own total.", "invalid");
      // A resent chunk overlaps what we have: keep only the new bytes.
      if (last + 1 > have) upload.data.append(req.body, have - first, std::string::npos);
    } else if (!req.body.empty()) {
      return bq_error(400, "Content-Range \"bytes */N\" must come with an empty body.", "invalid");
    }
    complete = range->total && upload.data.size() == *range->total;
  } else {
    upload.data += req.body;
  }
  if (!complete) {  // tell the client how far we got, as Google does
    Response r;
    r.status = 308;
    if (!upload.data.empty())
      r.set_header("Range", "bytes=0-" + std::to_string(upload.data.size() - 1));
    return r;
  }
  std::string key;
  Response r = insert_job(upload.project, upload.job, std::move(upload.data), &key);
  if (r.status == 200)
    upload.job_key = key;
  else
    uploads_.erase(it);
  return r;
}

Response BigQueryService::multipart_upload(const BqRoute& route, const Request& req) {
  auto boundary = multipart_boundary(req.header("content-type"));
  if (!boundary)
    return bq_error(400,
                    "uploadType=multipart needs a multipart/related Content-Type with a boundary.",
                    "invalid");
  auto parts = parse_multipart(req.body, *boundary);
  if (!parts || parts->size() != 2)
    return bq_error(400, "A multipart upload has two parts: the job resource, then the data.",
                    "invalid");
  std::string message;
  auto resource = parse_object((*parts)[0].body, message);
  if (!resource) return bq_error(400, message, "invalid");
  if (auto bad = check_load_resource(*resource)) return *bad;
  std::string data = std::move((*parts)[1].body);
  if ((*parts)[1].header("content-transfer-encoding") == "base64") {
    auto decoded = base64_decode(data);
    if (!decoded) return bq_error(400, "The data part is not valid base64.", "invalid");
    data = std::move(*decoded);
  }
  std::lock_guard lock(mutex_);
  std::string key;
  return insert_job(route.project, *resource, std::move(data), &key);
}

Response BigQueryService::insert_job(const std::string& project, const json::object& resource,
                                     std::string data, std::string* key_out) {
  std::string id;
  std::string location(kLocation);
  if (const json::object* ref = object_at(resource, "jobReference")) {
    id = string_at(*ref, "jobId");
    if (std::string l = string_at(*ref, "location"); !l.empty()) location = l;
  }
  if (id.empty()) id = "job_fake_" + std::to_string(++next_id_);
  std::string key = project + ":" + id;
  if (jobs_.contains(key))
    return bq_error(409, "Already Exists: Job " + project + ":" + location + "." + id, "duplicate");
  Job& job = jobs_[key];
  job.project = project;
  job.id = id;
  job.location = location;
  job.configuration = resource.at("configuration").as_object();
  job.configuration["jobType"] = "LOAD";
  job.input_bytes = data.size();
  job.data = std::move(data);
  job.created_ns = unix_now_ns();
  job.run_at = Clock::now() + std::chrono::milliseconds(ctx_.config.bq_job_delay_ms);
  pending_jobs_.push_back(key);
  if (ctx_.config.bq_job_delay_ms == 0) settle_jobs(job.run_at);
  if (key_out) *key_out = key;
  return Response::json(200, job_resource(job));
}

Response BigQueryService::get_job(const BqRoute& route, const Request& req) {
  auto location = find_param(parse_params(req.query()), "location");
  std::lock_guard lock(mutex_);
  settle_jobs(Clock::now());
  auto it = jobs_.find(route.project + ":" + route.job);
  auto same = [](std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) ==
             std::tolower(static_cast<unsigned char>(y));
    });
  };
  if (it == jobs_.end() ||
      (location && !location->empty() && !same(*location, it->second.location)))
    return bq_error(404,
                    "Not found: Job " + route.project + ":" +
                        location.value_or(std::string(kLocation)) + "." + route.job,
                    "notFound");
  return Response::json(200, job_resource(it->second));
}

// Jobs run in submission order once their delay is over; reads settle them
// first, so nothing observes a job as DONE before its rows are in place.
void BigQueryService::settle_jobs(Clock::time_point now) {
  while (!pending_jobs_.empty()) {
    Job& job = jobs_.at(pending_jobs_.front());
    if (job.run_at > now) return;
    pending_jobs_.pop_front();  // first: a job that throws must not block the others
    try {
      run_load(job);
    } catch (const std::exception& e) {
      json::object error{{"reason", "internalError"},
                         {"message", std::string("fake internal error: ") + e.what()}};
      job.state = "DONE";
      job.status = {{"state", "DONE"}, {"errorResult", error}, {"errors", json::array{error}}};
    }
  }
}

void BigQueryService::run_load(Job& job) {
  job.state = "DONE";
  job.ended_ns = unix_now_ns();
  std::string data = std::move(job.data);
  job.data = {};
  const std::string uploaded_sha256 = sha256_hex(data);
  json::object stats{{"inputFiles", "1"},
                     {"inputFileBytes", std::to_string(job.input_bytes)},
                     {"outputRows", "0"},
                     {"outputBytes", "0"},
                     {"badRecords", "0"}};
  auto fail = [&](std::string_view reason, const std::string& message, json::array details = {}) {
    json::object error{{"reason", reason}, {"message", message}};
    json::array errors{error};
    for (auto& d : details) errors.push_back(std::move(d));
    job.status = {{"state", "DONE"}, {"errorResult", error}, {"errors", std::move(errors)}};
    job.load_stats = stats;
  };

  const json::object& load = job.configuration.at("load").as_object();
  const json::object& dest = load.at("destinationTable").as_object();
  std::string project = string_at(dest, "projectId"), dataset = string_at(dest, "datasetId"),
              table_id = string_at(dest, "tableId");
  std::string table_key = project + ":" + dataset + "." + table_id;
  std::string format = string_at(load, "sourceFormat");
  if (format.empty()) format = "CSV";  // BigQuery's default
  std::string write = string_at(load, "writeDisposition");
  if (write.empty()) write = "WRITE_APPEND";
  std::string create = string_at(load, "createDisposition");
  if (create.empty()) create = "CREATE_IF_NEEDED";
  std::int64_t max_bad = 0;
  if (const json::value* v = load.if_contains("maxBadRecords")) max_bad = json_int(*v).value_or(0);
  bool ignore_unknown = bool_at(load, "ignoreUnknownValues");
  std::optional<Schema> job_schema;
  if (const json::value* s = load.if_contains("schema")) {
    std::string ignored;
    job_schema = parse_schema(*s, ignored);  // checked when the job was accepted
  }

  if (format != "NEWLINE_DELIMITED_JSON")
    return fail("invalid", "The fake loads only NEWLINE_DELIMITED_JSON, not " + format + ".");
  if (write != "WRITE_APPEND" && write != "WRITE_TRUNCATE" && write != "WRITE_EMPTY")
    return fail("invalid", "Invalid writeDisposition: " + write);
  Dataset* ds = find_dataset(project, dataset);
  if (!ds) return fail("notFound", "Not found: Dataset " + project + ":" + dataset);
  Table* table = find_table(project, dataset, table_id);
  if (!table && create == "CREATE_NEVER") return fail("notFound", "Not found: Table " + table_key);
  if (!table && !job_schema) return fail("invalid", "No schema specified on job or table.");
  if (table && write == "WRITE_APPEND" && job_schema && !table->schema.empty() &&
      !same_schema(*job_schema, table->schema))
    return fail("invalid", "Provided Schema does not match Table " + table_key + ".");
  if (table && write == "WRITE_EMPTY" && !table->rows.empty())
    return fail("duplicate", "Already Exists: Table " + table_key);
  const Schema& schema = job_schema ? *job_schema : table->schema;

  if (looks_gzipped(data)) {
    auto plain = gunzip(data);
    if (!plain)
      return fail("invalid",
                  "Error while reading data, error message: the gzip stream is corrupt.");
    data = std::move(*plain);
  }
  std::vector<std::string> good;
  json::array details;
  std::size_t bad = 0, lines = 0, pos = 0;
  while (pos < data.size()) {
    std::size_t start = pos;
    std::size_t nl = data.find('\n', pos);
    std::string_view line =
        std::string_view(data).substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? data.size() : nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    ++lines;
    std::optional<RowError> error;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec)
      error = RowError{"", "Parser terminated before end of string (" + ec.message() + ")"};
    else if (!v.is_object())
      error = RowError{"", "Expected a JSON object"};
    else
      error = check_row(schema, v.as_object(), ignore_unknown);
    if (!error) {
      std::string_view text = line;
      while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
      good.emplace_back(text);
      continue;
    }
    ++bad;
    if (details.size() < kMaxJobErrors) {
      json::object detail{{"reason", "invalid"},
                          {"message",
                           "Error while reading data, error message: JSON parsing error "
                           "in row starting at position " +
                               std::to_string(start) + ": " + error->message}};
      if (!error->location.empty()) detail["location"] = error->location;
      details.push_back(std::move(detail));
    }
  }
  stats["badRecords"] = std::to_string(bad);
  if (static_cast<std::int64_t>(bad) > max_bad)
    return fail("invalid",
                "Error while reading data, error message: JSON table encountered too many errors, "
                "giving up. Rows: " +
                    std::to_string(lines) + "; errors: " + std::to_string(bad) +
                    ". Please look into the errors[] collection for more details.",
                std::move(details));

  std::int64_t now = unix_now_ns();
  if (!table) {
    table = &ds->tables[table_id];
    table->project = project;
    table->dataset = dataset;
    table->id = table_id;
    table->created_ns = now;
  }
  TableCounts& counts = counts_[table_key];
  if (write == "WRITE_TRUNCATE") {
    table->rows.clear();
    table->bytes = table->streamed_rows = table->streamed_bytes = 0;
    table->oldest_stream_ns = 0;
    ++counts.truncations;
  }
  if (job_schema) {
    table->schema = *job_schema;
    table->resource["schema"] = load.at("schema");
  }
  std::uint64_t output_bytes = 0;
  for (auto& row : good) {
    output_bytes += row.size();
    table->rows.push_back(std::move(row));
  }
  table->bytes += output_bytes;
  table->modified_ns = now;
  ++counts.load_jobs;
  counts.rows_loaded += good.size();
  counts.last_load_bytes = job.input_bytes;
  counts.last_load_sha256 = uploaded_sha256;

  stats["outputRows"] = std::to_string(good.size());
  stats["outputBytes"] = std::to_string(output_bytes);
  job.status = {{"state", "DONE"}};
  if (!details.empty()) job.status["errors"] = std::move(details);  // skipped bad records
  job.load_stats = std::move(stats);
}

json::object BigQueryService::job_resource(const Job& job) const {
  json::object statistics{{"creationTime", millis_text(job.created_ns)},
                          {"startTime", millis_text(job.created_ns)}};
  json::object status{{"state", job.state}};
  if (job.state == "DONE") {
    status = job.status;
    statistics["endTime"] = millis_text(job.ended_ns);
    statistics["load"] = job.load_stats;
  }
  return {{"kind", "bigquery#job"},
          {"etag", std::to_string(job.created_ns)},
          {"id", job.project + ":" + job.location + "." + job.id},
          {"selfLink", ctx_.base_url + std::string(kApiPrefix) + job.project + "/jobs/" + job.id +
                           "?location=" + job.location},
          {"user_email", "kettle@" + ctx_.config.project_id + ".iam.gserviceaccount.com"},
          {"jobReference",
           json::object{{"projectId", job.project}, {"jobId", job.id}, {"location", job.location}}},
          {"configuration", job.configuration},
          {"status", std::move(status)},
          {"statistics", std::move(statistics)}};
}

json::object BigQueryService::counts_json(const std::string& key) const {
  json::object out;
  auto it = counts_.find(key);
  TableCounts c = it == counts_.end() ? TableCounts{} : it->second;
  out["insert_all_requests"] = c.insert_requests;
  out["insert_all_rows"] = c.rows_received;
  out["rows_inserted"] = c.rows_inserted;
  out["duplicates_dropped"] = c.duplicates;
  out["invalid_rows"] = c.invalid_rows;
  out["rejected_requests"] = c.rejected_requests;
  out["load_jobs"] = c.load_jobs;
  out["rows_loaded"] = c.rows_loaded;
  out["truncations"] = c.truncations;
  out["last_load_bytes"] = c.last_load_bytes;
  out["last_load_sha256"] = c.last_load_sha256;
  return out;
}

Response BigQueryService::control(const Request& req) {
  if (req.method != "GET")
    return bq_error(405, "The BigQuery control endpoints are read-only (GET).", "methodNotAllowed");
  std::lock_guard lock(mutex_);
  settle_jobs(Clock::now());
  std::string_view path = req.path();
  if (path == kControlPath) {
    json::object tables;
    for (const auto& [key, c] : counts_) {
      json::object entry = counts_json(key);
      auto dot = key.rfind('.'), colon = key.find(':');
      const Table* t = find_table(key.substr(0, colon), key.substr(colon + 1, dot - colon - 1),
                                  key.substr(dot + 1));
      entry["exists"] = t != nullptr;
      entry["rows"] = t ? t->rows.size() : 0;
      tables[key] = std::move(entry);
    }
    return Response::json(200, json::object{{"tables", std::move(tables)}});
  }
  // /_fake/bigquery/P/D/T[/stats]
  std::vector<std::string> parts;
  std::string_view rest = path.substr(kControlPath.size() + 1);
  while (true) {
    auto slash = rest.find('/');
    parts.push_back(percent_decode(rest.substr(0, slash), false).value_or(""));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  bool stats = parts.size() == 4 && parts[3] == "stats";
  if (parts.size() != 3 && !stats)
    return bq_error(404, "Want /_fake/bigquery/PROJECT/DATASET/TABLE[/stats].", "notFound");
  std::string key = parts[0] + ":" + parts[1] + "." + parts[2];
  Table* t = find_table(parts[0], parts[1], parts[2]);
  if (stats) {
    if (!t && !counts_.contains(key)) return bq_error(404, "Not found: Table " + key, "notFound");
    json::object out = counts_json(key);
    out["exists"] = t != nullptr;
    out["rows"] = t ? t->rows.size() : 0;
    return Response::json(200, out);
  }
  if (!t) return bq_error(404, "Not found: Table " + key, "notFound");
  // Joined as text: the rows are kept exactly as they came.
  Response r = Response::text(200, "[", "application/json; charset=UTF-8");
  for (std::size_t i = 0; i < t->rows.size(); ++i) {
    if (i > 0) r.body += ',';
    r.body += t->rows[i];
  }
  r.body += ']';
  return r;
}

}  // namespace fakegcp
