#include "kettle/bigquery/client.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <system_error>

#include "api_error.hpp"
#include "kettle/io/file_reader.hpp"
#include "kettle/net/url.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::bigquery {
namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kBytes = "application/octet-stream";

bool is_success(int status) { return status >= 200 && status < 300; }

net::Error file_error(const std::string& path, std::string message) {
  return {.kind = net::ErrorKind::invalid_request, .url = path, .message = std::move(message)};
}

net::Error deadline_error(const std::string& url, std::string message) {
  return {.kind = net::ErrorKind::timeout, .url = url, .message = std::move(message)};
}

net::Error cancelled_error(const std::string& url) {
  return {.kind = net::ErrorKind::cancelled, .url = url, .message = "the HTTP client was stopped"};
}

std::int64_t int64_field(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (!value) return 0;
  if (value->is_int64()) return value->get_int64();
  if (value->is_string()) {
    char* end = nullptr;
    std::string text(value->get_string());
    long long parsed = std::strtoll(text.c_str(), &end, 10);
    return end && *end == '\0' ? parsed : 0;
  }
  return 0;
}

// The chunk PUT is sent once: a blind resend could overlap bytes the server
// kept, so after a failure we ask it what it holds and resume from there.
net::RetryConfig send_once() {
  net::RetryConfig retry;
  retry.max_attempts = 1;
  return retry;
}

asio::awaitable<void> sleep_for(net::Duration delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

Endpoint endpoint_from_env() {
  return net::endpoint_from_env({"BIGQUERY_EMULATOR_HOST"}, "KETTLE_BIGQUERY_ENDPOINT",
                                "https://bigquery.googleapis.com");
}

std::size_t InsertReport::count(RowStatus status) const {
  return static_cast<std::size_t>(std::count_if(
      rows.begin(), rows.end(), [status](const RowOutcome& row) { return row.status == status; }));
}

// One resumable upload in progress.
struct Client::Upload {
  Upload(io::FileReader& file, std::uint64_t total, std::size_t chunk_bytes, Clock::time_point end)
      : path(file.path()), input(file), progress(total, chunk_bytes), deadline(end) {}
  std::string path;
  io::FileReader& input;
  UploadProgress progress;
  Clock::time_point deadline;
  std::string job_id{};
  std::string session_url{};  // where the chunks go (the start answer's Location)
  std::function<void()> on_progress{};
};

Client::Client(net::HttpClient& http, std::shared_ptr<auth::Credentials> credentials,
               ClientConfig config)
    : http_(http), credentials_(std::move(credentials)), config_(std::move(config)) {}

std::string Client::url(const std::string& target) const {
  return net::join_url(config_.base_url, target);
}

asio::awaitable<net::Result<net::Response>> Client::send(net::Request request) {
  request.api = "bigquery";
  if (credentials_) {
    auto applied = co_await auth::apply_credentials(credentials_, request);
    if (!applied) co_return applied.error();
  }
  if (!request.options.body_limit) request.options.body_limit = config_.response_body_limit;
  co_return co_await http_.request(std::move(request));
}

// ---------------------------------------------------------------------------
// Tables

asio::awaitable<net::Result<std::optional<TableInfo>>> Client::get_table(TableRef table) {
  std::string target = url("/bigquery/v2" + table.path());
  auto response = co_await send(net::Request(target));
  if (!response) co_return response.error();
  if (response->status == 404) co_return std::optional<TableInfo>();
  if (response->status != 200) {
    co_return detail::status_error(target, "tables.get", response->status, response->body);
  }
  json::error_code ec;
  json::value doc = json::parse(response->body, ec);
  if (ec || !doc.is_object()) {
    co_return detail::malformed_error(target, "tables.get", "answer is not a JSON object");
  }
  const auto& object = doc.get_object();
  TableInfo info;
  info.num_rows = int64_field(object, "numRows");
  info.num_bytes = int64_field(object, "numBytes");
  info.last_modified_ms = int64_field(object, "lastModifiedTime");
  co_return std::optional<TableInfo>(info);
}

asio::awaitable<net::Result<bool>> Client::insert_table(TableRef table, json::array schema) {
  json::object resource;
  resource["tableReference"] = table_reference(table);
  resource["schema"] = json::object{{"fields", std::move(schema)}};
  std::string target = url("/bigquery/v2" + table.dataset_path() + "/tables");
  net::Request request("POST", target, json::serialize(resource));
  request.headers.set("Content-Type", kJson);
  auto response = co_await send(std::move(request));
  if (!response) co_return response.error();
  if (response->status == 409) co_return false;  // already exists: what we wanted
  if (!is_success(response->status)) {
    co_return detail::status_error(target, "tables.insert", response->status, response->body);
  }
  co_return true;
}

asio::awaitable<net::Result<void>> Client::ensure_table(TableRef table, json::array schema) {
  auto existing = co_await get_table(table);
  if (!existing) co_return existing.error();
  if (*existing) co_return net::Result<void>();
  auto created = co_await insert_table(table, std::move(schema));
  if (!created) co_return created.error();
  if (*created) {
    KLOG(info) << "bigquery: created table " << table.str();
  }
  co_return net::Result<void>();
}

// ---------------------------------------------------------------------------
// Streaming inserts

asio::awaitable<InsertReport> Client::insert_all(TableRef table, std::span<const InsertRow> rows) {
  InsertReport report;
  report.rows.resize(rows.size());
  std::vector<bool> sendable(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    sendable[i] = is_json_object(rows[i].json);
    if (!sendable[i]) {
      report.rows[i] = RowOutcome{RowStatus::rejected, "invalid", "row is not a JSON object"};
    }
  }
  std::string target = url("/bigquery/v2" + table.path() + "/insertAll");
  InsertBatcher batcher(config_.insert);
  // Runs of sendable rows, each cut into batches.
  for (std::size_t begin = 0; begin < rows.size() && !report.error;) {
    if (!sendable[begin]) {
      ++begin;
      continue;
    }
    std::size_t end = begin;
    while (end < rows.size() && sendable[end]) ++end;
    auto run = rows.subspan(begin, end - begin);
    for (const auto& batch : batcher.split(run)) {
      auto sent = co_await insert_rows(target, run.subspan(batch.begin, batch.size()),
                                       begin + batch.begin, report);
      if (!sent) {
        report.error = sent.error();
        break;
      }
    }
    begin = end;
  }
  co_return report;
}

asio::awaitable<net::Result<void>> Client::insert_rows(std::string target,
                                                       std::span<const InsertRow> rows,
                                                       std::size_t first_index,
                                                       InsertReport& report) {
  ++report.requests;
  net::Request request("POST", target, insert_all_request_body(rows));
  request.headers.set("Content-Type", kJson);
  auto response = co_await send(std::move(request));
  if (!response) co_return response.error();
  int status = response->status;
  if (status == 200) {
    std::string why;
    auto outcomes = parse_insert_all_response(response->body, rows.size(), why);
    if (!outcomes) co_return detail::malformed_error(target, "insertAll", why);
    std::move(outcomes->begin(), outcomes->end(), report.rows.begin() + first_index);
    co_return net::Result<void>();
  }
  if (status != 400 && status != 413) {
    co_return detail::status_error(target, "insertAll", status, response->body);
  }
  // Refused as a whole (too large, or a row that breaks the request): halve
  // until the culprit stands alone.
  if (rows.size() == 1) {
    auto words = detail::server_words(response->body);
    report.rows[first_index] = RowOutcome{
        RowStatus::rejected, words.reason.empty() ? "HTTP " + std::to_string(status) : words.reason,
        words.message};
    co_return net::Result<void>();
  }
  KLOG(warning) << "bigquery: insertAll of " << rows.size() << " rows answered HTTP " << status
                << " (" << detail::server_words(response->body).message << "); retrying in halves";
  auto half = rows.size() / 2;
  auto first = co_await insert_rows(target, rows.first(half), first_index, report);
  if (!first) co_return first.error();
  co_return co_await insert_rows(target, rows.subspan(half), first_index + half, report);
}

// ---------------------------------------------------------------------------
// Load jobs

asio::awaitable<net::Result<LoadResult>> Client::load(TableRef table, std::string file_path,
                                                      LoadOptions options) {
  auto deadline = Clock::now() + config_.load_deadline;
  std::error_code ec;
  auto total = std::filesystem::file_size(file_path, ec);
  if (ec) co_return file_error(file_path, "cannot load the file: " + ec.message());
  std::unique_ptr<io::FileReader> input;
  try {
    auto loop = co_await asio::this_coro::executor;
    input = std::make_unique<io::FileReader>(file_path, io::backend_for("upload_read"), loop,
                                             config_.file_executor);
  } catch (const std::system_error& e) {
    co_return file_error(file_path, "cannot open the file to load: " + e.code().message());
  }
  Upload upload(*input, total, config_.upload_chunk_bytes, deadline);
  if (options.job_id.empty()) options.job_id = make_load_job_id(table);
  KLOG(info) << "bigquery: loading " << file_path << " (" << total << " bytes) into " << table.str()
             << " as job " << options.job_id;
  auto session = co_await start_upload(table, options, total);
  if (!session) co_return session.error();
  upload.session_url = std::move(*session);
  upload.job_id = options.job_id;
  upload.on_progress = options.on_progress;
  auto job = co_await upload_file(upload);
  if (!job) co_return job.error();
  if (!job->done) {
    job = co_await wait_for_job(table, std::move(*job), deadline, options.on_progress);
    if (!job) co_return job.error();
  }
  // The caller says how the job ended (bq-load: INFO or ERROR); one line each.
  KLOG(debug) << obs::label("table", table.str()) << "bigquery: " << table.str() << ": " << job->summary();
  co_return std::move(*job);
}

asio::awaitable<net::Result<std::string>> Client::start_upload(const TableRef& table,
                                                               const LoadOptions& options,
                                                               std::uint64_t total) {
  std::string target = url("/upload/bigquery/v2/projects/" +
                           net::encode_path_segment(table.project) + "/jobs?uploadType=resumable");
  net::Request request("POST", target, load_job_body(table, options, options.job_id));
  request.headers.set("Content-Type", "application/json; charset=UTF-8");
  request.headers.set("X-Upload-Content-Type", kBytes);
  request.headers.set("X-Upload-Content-Length", std::to_string(total));
  auto response = co_await send(std::move(request));
  if (!response) co_return response.error();
  if (response->status != 200 && response->status != 201) {
    co_return detail::status_error(target, "load job upload start", response->status,
                                   response->body);
  }
  auto location = response->headers.get("Location");
  if (!location || location->empty()) {
    co_return detail::malformed_error(target, "load job upload start",
                                      "answer has no Location header");
  }
  // Google answers with an absolute URL; a relative one is on our endpoint.
  if (location->starts_with("/")) co_return url(std::string(*location));
  co_return std::string(*location);
}

asio::awaitable<net::Result<LoadResult>> Client::upload_file(Upload& upload) {
  const std::string& session = upload.session_url;
  // What the server says about the upload: the job when complete, nullopt
  // when it wants more bytes, an Error for anything else.
  auto interpret = [&](const net::Response& answer) -> net::Result<std::optional<LoadResult>> {
    if (answer.status == 200 || answer.status == 201) {
      std::string why;
      auto job = parse_job(answer.body, why);
      if (!job) return detail::malformed_error(session, "load job upload", why);
      return std::optional<LoadResult>(std::move(*job));
    }
    if (answer.status == 308) {
      if (!upload.progress.on_incomplete(answer.headers.get("Range"))) {
        return detail::malformed_error(session, "load job upload",
                                       "308 answer with an unusable Range: " +
                                           std::string(answer.headers.get("Range").value_or("")));
      }
      return std::optional<LoadResult>();
    }
    return detail::status_error(session, "load job upload", answer.status, answer.body);
  };

  int failures = 0;
  std::string chunk_bytes;
  while (true) {
    if (Clock::now() >= upload.deadline) {
      co_return deadline_error(session, "load job " + upload.job_id + " of " + upload.path +
                                            " was not uploaded by its deadline");
    }
    auto chunk = upload.progress.next_chunk();
    chunk_bytes.resize(chunk.size);
    if (chunk.size > 0) {
      std::span<char> into(chunk_bytes);
      auto read = co_await upload.input.read_at(chunk.offset, into);
      if (!read) {
        co_return file_error(upload.path, "cannot read the file to load: " + read.error().message());
      }
      if (*read != chunk.size) {
        co_return file_error(upload.path, "the file is shorter than when the load started");
      }
    }
    net::Request put("PUT", session, std::move(chunk_bytes));
    put.headers.set("Content-Range", chunk.content_range);
    put.headers.set("Content-Type", kBytes);
    put.options.retry = send_once();
    put.options.headers_timeout = config_.upload_chunk_headers_timeout;
    put.options.total_timeout = config_.upload_chunk_total_timeout;
    auto before = upload.progress.offset();
    auto answer = co_await send(std::move(put));
    chunk_bytes = std::string();

    bool transient = !answer && (answer.error().kind == net::ErrorKind::http_status ||
                                 net::is_retryable(answer.error().kind));
    if (answer) {
      auto step = interpret(*answer);
      if (!step) co_return step.error();
      if (*step) co_return std::move(**step);
      // A 308 that keeps nothing new counts as a failure, so it cannot loop forever.
      if (upload.progress.offset() > before) {
        failures = 0;
        if (upload.on_progress) upload.on_progress();
        continue;
      }
    } else if (!transient) {
      co_return answer.error();
    }
    if (++failures > config_.max_upload_recoveries) {
      if (!answer) co_return answer.error();
      co_return detail::malformed_error(
          session, "load job upload", "no progress after " + std::to_string(failures) + " chunks");
    }
    KLOG(warning) << "bigquery: upload chunk " << chunk.content_range << " of " << upload.path
                  << " failed (" << (answer ? "no progress" : answer.error().what())
                  << "); asking the server what it holds";
    // Status query: an empty PUT; the answer says where to resume.
    net::Request query("PUT", session);
    query.headers.set("Content-Range", upload.progress.status_query_range());
    auto status = co_await send(std::move(query));
    if (!status) co_return status.error();
    auto step = interpret(*status);
    if (!step) co_return step.error();
    if (*step) co_return std::move(**step);
  }
}

asio::awaitable<net::Result<LoadResult>> Client::wait_for_job(const TableRef& table, LoadResult job,
                                                              Clock::time_point deadline,
                                                              std::function<void()> on_progress) {
  net::Query query;
  query.add_if("location", job.location);
  std::string target = url("/bigquery/v2/projects/" + net::encode_path_segment(table.project) +
                           "/jobs/" + net::encode_path_segment(job.job_id) + query.str());
  auto interval = config_.poll_initial_interval;
  while (!job.done) {
    auto now = Clock::now();
    if (now >= deadline) {
      co_return deadline_error(target, "load job " + job.job_id + " was not DONE by its deadline");
    }
    co_await sleep_for(std::min<net::Duration>(interval, deadline - now));
    if (http_.stopped()) co_return cancelled_error(target);
    interval = std::min<net::Duration>(interval * 2, config_.poll_max_interval);
    auto response = co_await send(net::Request(target));
    if (!response) co_return response.error();
    if (response->status != 200) {
      co_return detail::status_error(target, "jobs.get", response->status, response->body);
    }
    std::string why;
    auto polled = parse_job(response->body, why);
    if (!polled) co_return detail::malformed_error(target, "jobs.get", why);
    if (polled->location.empty()) polled->location = job.location;
    job = std::move(*polled);
    if (on_progress) on_progress();
  }
  co_return job;
}

}  // namespace kettle::bigquery
