// bigquery/: table references, the insertAll batcher and answers, load job
// bookkeeping, and the REST client (tables, insertAll with split-and-retry,
// resumable load uploads, job polling) against a scripted HTTP server.

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kettle/bigquery/client.hpp"
#include "support/scoped_env.hpp"
#include "support/scripted_server.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using namespace kettle;
using namespace kettle::bigquery;
using namespace kettle::test_support;
using namespace std::chrono_literals;

namespace {

// Quick polling so load tests finish fast.
ClientConfig quick_config() {
  ClientConfig config;
  config.poll_initial_interval = 1ms;
  config.poll_max_interval = 4ms;
  config.upload_chunk_bytes = kUploadQuantum;  // 256 KiB chunks
  return config;
}

struct Fixture : test_support::ClientFixture<Client, ClientConfig> {
  explicit Fixture(Script script, ClientConfig config = quick_config(),
                   net::Config net_config = quick_net_config())
      : ClientFixture(std::move(script), std::move(config), std::move(net_config), nullptr) {}
};

template <class T>
std::string why(const net::Result<T>& result) {
  return result ? std::string() : result.error().what();
}

Reply ok(std::string body) { return Reply{.body = std::move(body)}; }

const TableRef kTable{"proj", "k8s_infra_kettle", "day"};
// Named, because g++ 12 miscompiles a braced temporary inside co_await.
const LoadOptions kDefaults{};

// Rows whose JSON text is {"n":<i>,"pad":"<pad bytes>"}.
std::vector<InsertRow> make_rows(std::size_t count, std::size_t pad = 0) {
  std::vector<InsertRow> rows;
  for (std::size_t i = 0; i < count; ++i) {
    rows.push_back({"id-" + std::to_string(i), R"({"n":)" + std::to_string(i) + R"(,"pad":")" +
                                                   std::string(pad, 'x') + "\"}"});
  }
  return rows;
}

// The "n" of every row in an insertAll body.
std::vector<std::int64_t> row_numbers(const std::string& body) {
  std::vector<std::int64_t> numbers;
  auto doc = json::parse(body);
  for (const auto& row : doc.at("rows").as_array())
    numbers.push_back(row.at("json").at("n").as_int64());
  return numbers;
}

// A file of pseudo-random bytes in a fresh temporary directory.
class TempFile {
 public:
  explicit TempFile(std::size_t size) {
    std::string pattern = (fs::temp_directory_path() / "kettle-bq-test-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
    std::mt19937 random(42);
    bytes.resize(size);
    for (auto& c : bytes) c = static_cast<char>(random() & 0xFF);
    std::ofstream(path(), std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(size));
  }
  ~TempFile() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string path() const { return (dir_ / "rows.json.gz").string(); }
  std::string bytes;

 private:
  fs::path dir_;
};

// A fake resumable-upload endpoint plus jobs.get, scripted per test: it
// assembles the bytes it is sent by Content-Range and answers as told.
struct FakeUpload {
  std::string base;  // the server's base URL, set once it runs
  std::uint64_t total = 0;
  std::string received;             // bytes held, in order
  std::vector<std::string> ranges;  // Content-Range of every PUT
  std::string job_body;             // the job resource posted at the start
  std::string job_id;
  std::function<std::optional<Reply>(const Seen&, int put_index)> on_put;  // nullopt: default
  std::vector<std::string> job_states{"RUNNING", "DONE"};  // jobs.get answers in turn
  std::string done_status = R"({"state":"DONE"})";
  std::string done_statistics = R"({"load":{"outputRows":"42","badRecords":"0"}})";
  int puts = 0;
  int polls = 0;

  std::string job_resource(const std::string& state) const {
    std::string status = state == "DONE" ? done_status : R"({"state":")" + state + "\"}";
    return R"({"kind":"bigquery#job","jobReference":{"projectId":"proj","jobId":")" + job_id +
           R"(","location":"US"},"status":)" + status +
           (state == "DONE" ? R"(,"statistics":)" + done_statistics : std::string()) + "}";
  }

  // Holds `held` bytes: answers 308 with the matching Range (or none).
  Reply incomplete() const {
    Reply reply{.status = 308};
    if (!received.empty())
      reply.headers.emplace_back("Range", "bytes=0-" + std::to_string(received.size() - 1));
    return reply;
  }

  Reply handle(const Seen& seen) {
    if (seen.method == "POST" &&
        seen.target.starts_with("/upload/bigquery/v2/projects/proj/jobs?")) {
      job_body = seen.body;
      job_id = std::string(json::parse(seen.body).at("jobReference").at("jobId").as_string());
      total = std::stoull(seen.headers.at("x-upload-content-length"));
      return Reply{.headers = {{"Location", base + "/upload/session/s1?upload_id=xyz"}}};
    }
    if (seen.method == "PUT" && seen.target == "/upload/session/s1?upload_id=xyz") {
      ++puts;
      const auto& range = seen.headers.at("content-range");
      ranges.push_back(range);
      if (auto scripted = on_put ? on_put(seen, puts) : std::nullopt) return *scripted;
      return accept(seen.body, range);
    }
    if (seen.method == "GET" &&
        seen.target == "/bigquery/v2/projects/proj/jobs/" + job_id + "?location=US") {
      auto state = job_states[std::min<std::size_t>(polls++, job_states.size() - 1)];
      return ok(job_resource(state));
    }
    return Reply{.status = 500, .body = "unexpected " + seen.method + " " + seen.target};
  }

  // Stores a chunk "bytes a-b/total" at a (dropping any overlap), or answers
  // a status query "bytes */total".
  Reply accept(const std::string& body, const std::string& range) {
    if (range.starts_with("bytes */")) {
      return received.size() == total ? ok(job_resource("RUNNING")) : incomplete();
    }
    auto dash = range.find('-');
    auto slash = range.find('/');
    auto first = std::stoull(range.substr(6, dash - 6));
    auto last = std::stoull(range.substr(dash + 1, slash - dash - 1));
    BOOST_TEST(last - first + 1 == body.size());
    BOOST_TEST(first <= received.size());
    received.resize(first);
    received += body;
    return received.size() == total ? ok(job_resource("RUNNING")) : incomplete();
  }
};

// `file` loaded with default options through a server playing `fake`.
net::Result<LoadResult> load_via(FakeUpload& fake, const TempFile& file, ClientConfig config = quick_config()) {
  Fixture f([&fake](const Seen& seen, int) { return fake.handle(seen); }, std::move(config));
  fake.base = f.server.base_url();
  net::Result<LoadResult> result = LoadResult{};
  f.run([&]() -> asio::awaitable<void> {
    result = co_await f.client.load(kTable, file.path(), kDefaults);
  });
  return result;
}

}  // namespace

// ---------------------------------------------------------------------------
// Pure parts.

BOOST_AUTO_TEST_SUITE(table_ref)

BOOST_AUTO_TEST_CASE(parses_project_dataset_table) {
  auto ref = TableRef::parse("kubernetes-public:k8s_infra_kettle.all");
  BOOST_REQUIRE(ref);
  BOOST_TEST(ref->project == "kubernetes-public");
  BOOST_TEST(ref->dataset == "k8s_infra_kettle");
  BOOST_TEST(ref->table == "all");
  BOOST_TEST(ref->str() == "kubernetes-public:k8s_infra_kettle.all");
  BOOST_TEST(ref->path() == "/projects/kubernetes-public/datasets/k8s_infra_kettle/tables/all");
  auto domain = TableRef::parse("example.com:proj:ds.t");
  BOOST_REQUIRE(domain);
  BOOST_TEST(domain->project == "example.com:proj");
  BOOST_TEST(domain->path() == "/projects/example.com%3Aproj/datasets/ds/tables/t");
  auto in = TableRef::in_dataset("kubernetes-public:k8s_infra_kettle", "staging");
  BOOST_REQUIRE(in);
  BOOST_TEST(in->str() == "kubernetes-public:k8s_infra_kettle.staging");
  BOOST_TEST(in->dataset_path() == "/projects/kubernetes-public/datasets/k8s_infra_kettle");
}

BOOST_AUTO_TEST_CASE(rejects_bad_references_and_says_why) {
  for (const char* bad : {"", "proj.ds.t", "proj:ds", ":ds.t", "p:.t", "p:ds.", "p:d-s.t",
                          "p:ds.t/x", "p q:ds.t", "p:ds.t.u"}) {
    std::string error;
    BOOST_TEST(!TableRef::parse(bad, &error), bad);
    BOOST_TEST(error.find("'" + std::string(bad) + "'") != std::string::npos, error);
    BOOST_TEST(error.find("PROJECT:DATASET.TABLE") != std::string::npos, error);
  }
  std::string error;
  BOOST_TEST(!TableRef::in_dataset("proj.ds", "day", &error));
  BOOST_TEST(error.find("PROJECT:DATASET") != std::string::npos, error);
  BOOST_TEST(!TableRef::in_dataset("proj:ds", "", &error));
  BOOST_TEST(!TableRef::in_dataset("proj:ds", "a.b", &error));
  BOOST_TEST(error.find("'a.b'") != std::string::npos, error);
  BOOST_TEST(!TableRef::in_dataset("proj:", "day"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(batcher)

BOOST_AUTO_TEST_CASE(splits_by_row_count) {
  auto rows = make_rows(1201);
  auto batches = InsertBatcher(InsertLimits{.max_rows = 500, .max_bytes = 10'000'000}).split(rows);
  BOOST_REQUIRE(batches.size() == 3u);
  BOOST_TEST(batches[0].begin == 0u);
  BOOST_TEST(batches[0].end == 500u);
  BOOST_TEST(batches[1].begin == 500u);
  BOOST_TEST(batches[1].end == 1000u);
  BOOST_TEST(batches[2].end == 1201u);
  BOOST_TEST(InsertBatcher().split({}).empty());
}

BOOST_AUTO_TEST_CASE(splits_by_body_size_exactly) {
  auto rows = make_rows(10, 1000);
  std::span<const InsertRow> all(rows);
  // Exactly four rows' body fits; one byte less fits only three.
  auto four = InsertBatcher::body_bytes(all.first(4));
  BOOST_TEST(four == insert_all_request_body(all.first(4)).size());
  auto batches = InsertBatcher(InsertLimits{.max_rows = 500, .max_bytes = four}).split(rows);
  BOOST_REQUIRE(batches.size() == 3u);
  BOOST_TEST(batches[0].size() == 4u);
  BOOST_TEST(batches[1].size() == 4u);
  BOOST_TEST(batches[2].size() == 2u);
  for (const auto& batch : batches) {
    auto body = insert_all_request_body(all.subspan(batch.begin, batch.size()));
    BOOST_TEST(batch.body_bytes == body.size());
    BOOST_TEST(body.size() <= four);
  }
  auto smaller = InsertBatcher(InsertLimits{.max_rows = 500, .max_bytes = four - 1}).split(rows);
  BOOST_TEST(smaller.front().size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_row_over_the_limit_goes_alone) {
  std::vector<InsertRow> rows = make_rows(4, 10);
  rows[1].json = R"({"n":1,"pad":")" + std::string(5000, 'y') + "\"}";
  auto batches = InsertBatcher(InsertLimits{.max_rows = 500, .max_bytes = 2000}).split(rows);
  BOOST_REQUIRE(batches.size() == 3u);
  BOOST_TEST(batches[0].end == 1u);
  BOOST_TEST(batches[1].begin == 1u);
  BOOST_TEST(batches[1].end == 2u);
  BOOST_TEST(batches[1].body_bytes > 2000u);
  BOOST_TEST(batches[2].begin == 2u);
  BOOST_TEST(batches[2].end == 4u);
}

BOOST_AUTO_TEST_CASE(request_body_is_exact) {
  std::vector<InsertRow> rows{{"a1", R"({"x":1})"}, {"q\"uote", "{\"y\":\"z\"}\n"}};
  auto body = insert_all_request_body(rows);
  BOOST_TEST(body ==
             "{\"skipInvalidRows\":true,\"rows\":[{\"insertId\":\"a1\",\"json\":{\"x\":1}},"
             "{\"insertId\":\"q\\\"uote\",\"json\":{\"y\":\"z\"}\n}]}");
  BOOST_TEST(json::parse(body).at("rows").as_array().size() == 2u);
  BOOST_TEST(InsertBatcher::body_bytes(rows) == body.size());
  BOOST_TEST(insert_all_request_body({}) == R"({"skipInvalidRows":true,"rows":[]})");
}

BOOST_AUTO_TEST_CASE(insert_ids_are_deterministic_sha256_prefixes) {
  auto id = insert_id_for("gs://kubernetes-ci-logs/logs/ci-e2e/123", R"({"number":123})");
  BOOST_TEST(id == "658ff17f37122cc01b7e41a8b34f13ef");
  BOOST_TEST(insert_id_for("gs://kubernetes-ci-logs/logs/ci-e2e/123", R"({"number":123})") == id);
  BOOST_TEST(insert_id_for("gs://kubernetes-ci-logs/logs/ci-e2e/124", R"({"number":123})") != id);
  BOOST_TEST(insert_id_for("", "").size() == 32u);
}

BOOST_AUTO_TEST_CASE(json_object_check) {
  BOOST_TEST(is_json_object(R"({"a":[1,2]})"));
  BOOST_TEST(is_json_object("{}\n"));
  for (const char* bad : {"", "[]", "1", "\"x\"", "{\"a\":", "{} {}", "<html>"}) {
    BOOST_TEST(!is_json_object(bad), bad);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(insert_all_answer)

BOOST_AUTO_TEST_CASE(insert_errors_map_to_rows_by_index) {
  std::string error;
  auto outcomes = parse_insert_all_response(R"({
    "kind": "bigquery#tableDataInsertAllResponse",
    "insertErrors": [
      {"index": 1, "errors": [{"reason": "invalid", "location": "number", "debugInfo": "",
                               "message": "no such field: number."}]},
      {"index": 3, "errors": [{"reason": "stopped", "location": "", "message": ""}]},
      {"index": "4", "errors": [{"reason": "stopped"}, {"reason": "invalid", "message": "bad"},
                                {"reason": "invalid", "message": "worse"}]},
      {"index": 5, "errors": [{"reason": "backendError", "message": "try again"}]},
      {"index": 6, "errors": []}
    ]})",
                                            7, error);
  BOOST_REQUIRE_MESSAGE(outcomes, error);
  const auto& rows = *outcomes;
  BOOST_TEST((rows[0].status == RowStatus::accepted));
  BOOST_TEST((rows[1].status == RowStatus::rejected));
  BOOST_TEST(rows[1].reason == "invalid");
  BOOST_TEST(rows[1].message == "no such field: number.");
  BOOST_TEST((rows[2].status == RowStatus::accepted));
  BOOST_TEST((rows[3].status == RowStatus::pending));
  BOOST_TEST(rows[3].reason == "stopped");
  BOOST_TEST((rows[4].status == RowStatus::rejected));
  BOOST_TEST(rows[4].reason == "invalid");
  BOOST_TEST(rows[4].message == "bad; worse");
  BOOST_TEST((rows[5].status == RowStatus::pending));
  BOOST_TEST((rows[6].status == RowStatus::rejected));
  BOOST_TEST(rows[6].reason == "unknown");
}

BOOST_AUTO_TEST_CASE(no_errors_means_all_accepted) {
  std::string error;
  auto outcomes =
      parse_insert_all_response(R"({"kind":"bigquery#tableDataInsertAllResponse"})", 3, error);
  BOOST_REQUIRE(outcomes);
  for (const auto& row : *outcomes) BOOST_TEST((row.status == RowStatus::accepted));
}

BOOST_AUTO_TEST_CASE(malformed_answers_are_errors) {
  for (const char* bad : {"<html>Bad Gateway</html>", R"({"insertErrors":[{"index":0)",
                          R"({"insertErrors":{}})", R"({"insertErrors":[{"index":3,"errors":[]}]})",
                          R"({"insertErrors":[{"index":-1,"errors":[]}]})",
                          R"({"insertErrors":[{"errors":[]}]})", "[]"}) {
    std::string error;
    BOOST_TEST(!parse_insert_all_response(bad, 3, error), bad);
    BOOST_TEST(!error.empty());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(load_bookkeeping)

BOOST_AUTO_TEST_CASE(job_resource_is_exact) {
  LoadOptions options;
  options.schema = json::parse(R"([{"name":"path","type":"STRING","mode":"NULLABLE"}])").as_array();
  options.write_disposition = WriteDisposition::truncate;
  options.max_bad_records = 1000;
  BOOST_TEST(
      load_job_body(kTable, options, "job-1") ==
      R"({"jobReference":{"projectId":"proj","jobId":"job-1"},"configuration":{"load":{)"
      R"("destinationTable":{"projectId":"proj","datasetId":"k8s_infra_kettle","tableId":"day"},)"
      R"("sourceFormat":"NEWLINE_DELIMITED_JSON","writeDisposition":"WRITE_TRUNCATE",)"
      R"("createDisposition":"CREATE_IF_NEEDED","maxBadRecords":1000,)"
      R"("schema":{"fields":[{"name":"path","type":"STRING","mode":"NULLABLE"}]}}}})");
  auto append = json::parse(load_job_body(kTable, LoadOptions{}, "job-2"));
  const auto& load = append.at("configuration").at("load").as_object();
  BOOST_TEST(load.at("writeDisposition").as_string() == "WRITE_APPEND");
  BOOST_TEST(!load.contains("schema"));
}

BOOST_AUTO_TEST_CASE(job_ids_are_valid_and_distinct) {
  TableRef odd{"p", "d", "all days!"};
  auto id = make_load_job_id(odd);
  BOOST_TEST(id.starts_with("kettle_load_all_days__"), id);
  for (char c : id) {
    BOOST_TEST((std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'), id);
  }
  BOOST_TEST(make_load_job_id(kTable) != make_load_job_id(kTable));
}

BOOST_AUTO_TEST_CASE(chunk_sizes_are_multiples_of_256_kib) {
  BOOST_TEST(upload_chunk_bytes(std::size_t{8} << 20) == std::size_t{8} << 20);
  BOOST_TEST(upload_chunk_bytes(1000) == kUploadQuantum);
  BOOST_TEST(upload_chunk_bytes(0) == kUploadQuantum);
  BOOST_TEST(upload_chunk_bytes(3 * kUploadQuantum - 1) == 2 * kUploadQuantum);
}

BOOST_AUTO_TEST_CASE(upload_progress_follows_the_server) {
  UploadProgress progress(614400, kUploadQuantum);
  auto first = progress.next_chunk();
  BOOST_TEST(first.offset == 0u);
  BOOST_TEST(first.size == 262144u);
  BOOST_TEST(first.content_range == "bytes 0-262143/614400");
  BOOST_TEST(progress.on_incomplete(std::string_view("bytes=0-262143")));
  BOOST_TEST(progress.next_chunk().content_range == "bytes 262144-524287/614400");
  BOOST_TEST(progress.on_incomplete(std::string_view("bytes=0-393215")));  // kept only part
  auto resumed = progress.next_chunk();
  BOOST_TEST(resumed.offset == 393216u);
  BOOST_TEST(resumed.size == 221184u);
  BOOST_TEST(resumed.content_range == "bytes 393216-614399/614400");
  BOOST_TEST(progress.status_query_range() == "bytes */614400");
  BOOST_TEST(progress.on_incomplete(std::nullopt));  // holds nothing: start over
  BOOST_TEST(progress.offset() == 0u);
  for (const char* bad : {"bytes=5-10", "bytes=0-614400", "bytes=0-x", "0-5", "bytes=0-"}) {
    BOOST_TEST(!progress.on_incomplete(std::string_view(bad)), bad);
  }
  UploadProgress empty(0, kUploadQuantum);
  BOOST_TEST(empty.next_chunk().size == 0u);
  BOOST_TEST(empty.next_chunk().content_range == "bytes */0");
}

BOOST_AUTO_TEST_CASE(job_status_and_errors_are_read) {
  std::string error;
  auto done = parse_job(R"({"jobReference":{"projectId":"p","jobId":"j1","location":"US"},
    "status":{"state":"DONE",
      "errorResult":{"reason":"invalid","location":"gs://x","message":"Too many errors"},
      "errors":[{"reason":"invalid","message":"JSON parsing error in row starting at position 0"},
                {"reason":"invalid","message":"Too many errors"}]},
    "statistics":{"load":{"outputRows":"10","badRecords":"1001"}}})",
                        error);
  BOOST_REQUIRE_MESSAGE(done, error);
  BOOST_TEST(done->job_id == "j1");
  BOOST_TEST(done->location == "US");
  BOOST_TEST(done->done);
  BOOST_TEST(!done->ok());
  BOOST_REQUIRE(done->error_result);
  BOOST_TEST(done->error_result->message == "Too many errors");
  BOOST_TEST(done->errors.size() == 2u);
  BOOST_TEST(done->output_rows == 10);
  BOOST_TEST(done->bad_records == 1001);
  BOOST_TEST(
      done->summary().find("failed: invalid at gs://x: Too many errors") != std::string::npos,
      done->summary());
  BOOST_TEST(done->summary().find("JSON parsing error") != std::string::npos);

  auto running =
      parse_job(R"({"jobReference":{"jobId":"j2"},"status":{"state":"RUNNING"}})", error);
  BOOST_REQUIRE(running);
  BOOST_TEST(!running->done);
  BOOST_TEST(!running->ok());
  for (const char* bad :
       {"<html>", R"({"status":{"state":"DONE"}})", R"({"jobReference":{}})", "{"}) {
    BOOST_TEST(!parse_job(bad, error), bad);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(endpoint_from_environment) {
  {
    ScopedEnv emulator("BIGQUERY_EMULATOR_HOST", "http://localhost:9050/");
    ScopedEnv custom("KETTLE_BIGQUERY_ENDPOINT", "https://bq.example");
    auto endpoint = endpoint_from_env();
    BOOST_TEST(endpoint.base_url == "http://localhost:9050");
    BOOST_TEST(endpoint.emulator);
  }
  {
    ScopedEnv emulator("BIGQUERY_EMULATOR_HOST", nullptr);
    ScopedEnv custom("KETTLE_BIGQUERY_ENDPOINT", "http://127.0.0.1:9/prefix/");
    auto endpoint = endpoint_from_env();
    BOOST_TEST(endpoint.base_url == "http://127.0.0.1:9/prefix");
    BOOST_TEST(!endpoint.emulator);
  }
  {
    ScopedEnv emulator("BIGQUERY_EMULATOR_HOST", nullptr);
    ScopedEnv custom("KETTLE_BIGQUERY_ENDPOINT", nullptr);
    auto endpoint = endpoint_from_env();
    BOOST_TEST(endpoint.base_url == "https://bigquery.googleapis.com");
    BOOST_TEST(!endpoint.emulator);
  }
}

// ---------------------------------------------------------------------------
// The client against the scripted server.

BOOST_AUTO_TEST_SUITE(tables)

BOOST_AUTO_TEST_CASE(get_reports_counts_or_absence) {
  Fixture f([](const Seen& seen, int) {
    if (seen.target.ends_with("/tables/day")) {
      return ok(R"({"kind":"bigquery#table","numRows":"123","numBytes":"4567",)"
                R"("lastModifiedTime":"1714557600123","type":"TABLE"})");
    }
    if (seen.target.ends_with("/tables/html")) return ok("<html>oops</html>");
    return Reply{
        .status = 404,
        .body =
            R"({"error":{"code":404,"message":"Not found: Table proj:k8s_infra_kettle.week"}})"};
  });
  f.run([&]() -> asio::awaitable<void> {
    auto day = co_await f.client.get_table(kTable);
    BOOST_REQUIRE_MESSAGE(day.has_value(), why(day));
    BOOST_REQUIRE(day->has_value());
    BOOST_TEST((*day)->num_rows == 123);
    BOOST_TEST((*day)->num_bytes == 4567);
    BOOST_TEST((*day)->last_modified_ms == 1714557600123);
    TableRef week{"proj", "k8s_infra_kettle", "week"};
    auto missing = co_await f.client.get_table(week);
    BOOST_REQUIRE_MESSAGE(missing.has_value(), why(missing));
    BOOST_TEST(!missing->has_value());
    TableRef html{"proj", "k8s_infra_kettle", "html"};
    auto broken = co_await f.client.get_table(html);
    BOOST_REQUIRE(!broken.has_value());
    BOOST_TEST((broken.error().kind == net::ErrorKind::protocol));
    BOOST_TEST(broken.error().url.ends_with(
        "/bigquery/v2/projects/proj/datasets/k8s_infra_kettle/tables/html"));
  });
  BOOST_REQUIRE(f.server.seen.size() == 3u);
  BOOST_TEST(f.server.seen[0].method == "GET");
  BOOST_TEST(f.server.seen[0].target ==
             "/bigquery/v2/projects/proj/datasets/k8s_infra_kettle/tables/day");
}

BOOST_AUTO_TEST_CASE(insert_sends_the_schema_and_accepts_409) {
  Fixture f([](const Seen&, int index) {
    return index == 1 ? ok("{}") : Reply{.status = 409, .body = R"({"error":{"code":409}})"};
  });
  auto schema =
      json::parse(R"([{"name":"path","type":"STRING"},{"name":"number","type":"INTEGER"}])")
          .as_array();
  f.run([&]() -> asio::awaitable<void> {
    auto created = co_await f.client.insert_table(kTable, schema);
    BOOST_TEST((created && *created), why(created));
    auto again = co_await f.client.insert_table(kTable, schema);
    BOOST_TEST((again && !*again), why(again));
  });
  BOOST_REQUIRE(f.server.seen.size() == 2u);
  BOOST_TEST(f.server.seen[0].method == "POST");
  BOOST_TEST(f.server.seen[0].target ==
             "/bigquery/v2/projects/proj/datasets/k8s_infra_kettle/tables");
  BOOST_TEST(
      f.server.seen[0].body ==
      R"({"tableReference":{"projectId":"proj","datasetId":"k8s_infra_kettle","tableId":"day"},)"
      R"("schema":{"fields":[{"name":"path","type":"STRING"},{"name":"number","type":"INTEGER"}]}})");
}

BOOST_AUTO_TEST_CASE(ensure_creates_only_missing_tables) {
  // "day" exists; "week" is missing and created; "all" is missing, and
  // created by someone else meanwhile (409); "gone" is in a missing dataset.
  Fixture f([](const Seen& seen, int) {
    if (seen.method == "GET") {
      return seen.target.ends_with("/day") ? ok(R"({"numRows":"1"})") : Reply{.status = 404};
    }
    auto table = json::parse(seen.body).at("tableReference").at("tableId").as_string();
    if (table == "week") return ok("{}");
    if (table == "all") return Reply{.status = 409};
    return Reply{.status = 404, .body = R"({"error":{"message":"Not found: Dataset proj:nope"}})"};
  });
  auto schema = json::parse(R"([{"name":"path","type":"STRING"}])").as_array();
  f.run([&]() -> asio::awaitable<void> {
    auto day = co_await f.client.ensure_table(kTable, schema);
    BOOST_TEST(day.has_value(), why(day));
    TableRef week{"proj", "k8s_infra_kettle", "week"};
    auto created = co_await f.client.ensure_table(week, schema);
    BOOST_TEST(created.has_value(), why(created));
    TableRef all{"proj", "k8s_infra_kettle", "all"};
    auto raced = co_await f.client.ensure_table(all, schema);
    BOOST_TEST(raced.has_value(), why(raced));
    TableRef gone{"proj", "nope", "gone"};
    auto failed = co_await f.client.ensure_table(gone, schema);
    BOOST_REQUIRE(!failed.has_value());
    BOOST_TEST(failed.error().status == 404);
    BOOST_TEST(failed.error().message.find("Not found: Dataset proj:nope") != std::string::npos);
  });
  std::vector<std::string> methods;
  for (const auto& seen : f.server.seen) methods.push_back(seen.method);
  BOOST_TEST(methods ==
             (std::vector<std::string>{"GET", "GET", "POST", "GET", "POST", "GET", "POST"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(insert_all)

BOOST_AUTO_TEST_CASE(sends_exact_bodies_and_reports_each_row) {
  Fixture f([](const Seen&, int) {
    return ok(
        R"({"kind":"bigquery#tableDataInsertAllResponse","insertErrors":[)"
        R"({"index":1,"errors":[{"reason":"invalid","location":"nmber","message":"no such field: nmber."}]}]})");
  });
  std::vector<InsertRow> rows{{"i0", R"({"number":1})"}, {"i1", R"({"nmber":2})"}};
  InsertReport report;
  f.run([&]() -> asio::awaitable<void> { report = co_await f.client.insert_all(kTable, rows); });
  BOOST_TEST(!report.error);
  BOOST_TEST(report.requests == 1u);
  BOOST_REQUIRE(f.server.seen.size() == 1u);
  const auto& seen = f.server.seen[0];
  BOOST_TEST(seen.method == "POST");
  BOOST_TEST(seen.target ==
             "/bigquery/v2/projects/proj/datasets/k8s_infra_kettle/tables/day/insertAll");
  BOOST_TEST(seen.headers.at("content-type") == "application/json");
  BOOST_TEST(seen.body ==
             R"({"skipInvalidRows":true,"rows":[{"insertId":"i0","json":{"number":1}},)"
             R"({"insertId":"i1","json":{"nmber":2}}]})");
  BOOST_REQUIRE(report.rows.size() == 2u);
  BOOST_TEST((report.rows[0].status == RowStatus::accepted));
  BOOST_TEST((report.rows[1].status == RowStatus::rejected));
  BOOST_TEST(report.rows[1].message == "no such field: nmber.");
  BOOST_TEST(report.count(RowStatus::accepted) == 1u);
}

BOOST_AUTO_TEST_CASE(batches_follow_the_limits) {
  Fixture f([](const Seen&, int) { return ok("{}"); },
            [] {
              auto config = quick_config();
              config.insert.max_rows = 3;
              return config;
            }());
  auto rows = make_rows(8);
  InsertReport report;
  f.run([&]() -> asio::awaitable<void> { report = co_await f.client.insert_all(kTable, rows); });
  BOOST_TEST(report.count(RowStatus::accepted) == 8u);
  BOOST_REQUIRE(f.server.seen.size() == 3u);
  BOOST_TEST(row_numbers(f.server.seen[0].body) == (std::vector<std::int64_t>{0, 1, 2}));
  BOOST_TEST(row_numbers(f.server.seen[2].body) == (std::vector<std::int64_t>{6, 7}));
}

BOOST_AUTO_TEST_CASE(a_request_refused_whole_is_halved_down_to_the_offending_row) {
  // Any request holding row 5 is refused as a whole with 400.
  Fixture f([](const Seen& seen, int) {
    auto numbers = row_numbers(seen.body);
    if (std::find(numbers.begin(), numbers.end(), 5) != numbers.end()) {
      return Reply{
          .status = 400,
          .body =
              R"({"error":{"code":400,"message":"Request payload size exceeds the limit: 10485760 bytes.",)"
              R"("errors":[{"message":"Request payload size exceeds the limit: 10485760 bytes.",)"
              R"("domain":"global","reason":"badRequest"}],"status":"INVALID_ARGUMENT"}})"};
    }
    return ok("{}");
  });
  auto rows = make_rows(8);
  InsertReport report;
  f.run([&]() -> asio::awaitable<void> { report = co_await f.client.insert_all(kTable, rows); });
  BOOST_TEST(!report.error);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    BOOST_TEST((report.rows[i].status == (i == 5 ? RowStatus::rejected : RowStatus::accepted)), i);
  }
  BOOST_TEST(report.rows[5].reason == "badRequest");
  BOOST_TEST(report.rows[5].message == "Request payload size exceeds the limit: 10485760 bytes.");
  // 0-7 refused; 0-3 ok; 4-7 refused; 4-5 refused; 4 ok; 5 refused; 6-7 ok.
  std::vector<std::string> sent;
  for (const auto& seen : f.server.seen) {
    std::string numbers;
    for (auto n : row_numbers(seen.body)) numbers += std::to_string(n);
    sent.push_back(numbers);
  }
  std::vector<std::string> expected{"01234567", "0123", "4567", "45", "4", "5", "67"};
  BOOST_TEST(sent == expected, boost::test_tools::per_element());
  BOOST_TEST(report.requests == 7u);
}

BOOST_AUTO_TEST_CASE(a_single_row_refused_with_413_keeps_the_servers_words) {
  Fixture f([](const Seen&, int) {
    return Reply{.status = 413, .body = "<html>\n<h1>413 Request Entity Too Large</h1>"};
  });
  auto rows = make_rows(1);
  InsertReport report;
  f.run([&]() -> asio::awaitable<void> { report = co_await f.client.insert_all(kTable, rows); });
  BOOST_TEST(!report.error);
  BOOST_TEST((report.rows[0].status == RowStatus::rejected));
  BOOST_TEST(report.rows[0].reason == "HTTP 413");
  BOOST_TEST(report.rows[0].message.find("413 Request Entity Too Large") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(rows_that_are_not_json_objects_are_rejected_without_sending) {
  Fixture f([](const Seen&, int) { return ok("{}"); });
  std::vector<InsertRow> rows{{"a", R"({"n":0})"},
                              {"b", "not json"},
                              {"c", "[1]"},
                              {"d", R"({"n":3})"},
                              {"e", R"({"n":4})"}};
  InsertReport report;
  f.run([&]() -> asio::awaitable<void> { report = co_await f.client.insert_all(kTable, rows); });
  BOOST_TEST(!report.error);
  BOOST_TEST((report.rows[1].status == RowStatus::rejected));
  BOOST_TEST((report.rows[2].status == RowStatus::rejected));
  BOOST_TEST(report.rows[2].message == "row is not a JSON object");
  BOOST_TEST(report.count(RowStatus::accepted) == 3u);
  BOOST_REQUIRE(f.server.seen.size() == 2u);
  BOOST_TEST(row_numbers(f.server.seen[0].body) == (std::vector<std::int64_t>{0}));
  BOOST_TEST(row_numbers(f.server.seen[1].body) == (std::vector<std::int64_t>{3, 4}));
}

BOOST_AUTO_TEST_CASE(persistent_transient_errors_leave_rows_pending) {
  // The first batch lands; the second meets 503 on every attempt.
  Fixture f(
      [](const Seen& seen, int) {
        return row_numbers(seen.body).front() == 0
                   ? ok("{}")
                   : Reply{.status = 503, .body = "backend unavailable"};
      },
      [] {
        auto config = quick_config();
        config.insert.max_rows = 2;
        return config;
      }());
  auto rows = make_rows(6);
  InsertReport report;
  f.run([&]() -> asio::awaitable<void> { report = co_await f.client.insert_all(kTable, rows); });
  BOOST_REQUIRE(report.error);
  BOOST_TEST((report.error->kind == net::ErrorKind::http_status));
  BOOST_TEST(report.error->status == 503);
  BOOST_TEST(report.error->url.ends_with("/tables/day/insertAll"));
  BOOST_TEST(report.count(RowStatus::accepted) == 2u);
  BOOST_TEST(report.count(RowStatus::pending) == 4u);
  BOOST_TEST(report.requests == 2u);  // the third batch is not tried
}

BOOST_AUTO_TEST_CASE(final_errors_and_malformed_answers_leave_rows_pending) {
  Fixture f([](const Seen&, int index) {
    if (index == 1)
      return Reply{.status = 404,
                   .body = R"({"error":{"message":"Not found: Table proj:k8s_infra_kettle.day"}})"};
    return ok(R"({"insertErrors":[{"index":7,"errors":[]}]})");  // index beyond the request
  });
  auto rows = make_rows(2);
  InsertReport missing;
  InsertReport malformed;
  f.run([&]() -> asio::awaitable<void> {
    missing = co_await f.client.insert_all(kTable, rows);
    malformed = co_await f.client.insert_all(kTable, rows);
  });
  BOOST_REQUIRE(missing.error);
  BOOST_TEST(missing.error->status == 404);
  BOOST_TEST(missing.error->message.find("Not found: Table") != std::string::npos);
  BOOST_TEST(missing.count(RowStatus::pending) == 2u);
  BOOST_REQUIRE(malformed.error);
  BOOST_TEST((malformed.error->kind == net::ErrorKind::protocol));
  BOOST_TEST(malformed.count(RowStatus::pending) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(load)

BOOST_AUTO_TEST_CASE(uploads_in_chunks_resumes_after_308_and_polls_until_done) {
  TempFile file(614400);  // 2 full chunks + 88 KiB
  FakeUpload fake;
  // The second chunk is only partly kept: the client must resend from there.
  fake.on_put = [&fake](const Seen& seen, int put) -> std::optional<Reply> {
    if (put != 2) return std::nullopt;
    fake.received += seen.body.substr(0, 131072);
    return fake.incomplete();
  };
  Fixture f([&fake](const Seen& seen, int) { return fake.handle(seen); });
  fake.base = f.server.base_url();
  LoadOptions options;
  options.schema = json::parse(R"([{"name":"path","type":"STRING"}])").as_array();
  options.write_disposition = WriteDisposition::truncate;
  options.max_bad_records = 1000;
  net::Result<LoadResult> result = LoadResult{};
  f.run([&]() -> asio::awaitable<void> {
    result = co_await f.client.load(kTable, file.path(), options);
  });
  BOOST_REQUIRE_MESSAGE(result.has_value(), why(result));
  BOOST_TEST(result->ok());
  BOOST_TEST(result->job_id == fake.job_id);
  BOOST_TEST(result->output_rows == 42);
  BOOST_TEST(fake.received == file.bytes);
  BOOST_TEST(fake.ranges ==
                 (std::vector<std::string>{"bytes 0-262143/614400", "bytes 262144-524287/614400",
                                           "bytes 393216-614399/614400"}),
             boost::test_tools::per_element());
  BOOST_TEST(fake.polls == 2);  // RUNNING, then DONE
  const auto& start = f.server.seen.front();
  BOOST_TEST(start.target == "/upload/bigquery/v2/projects/proj/jobs?uploadType=resumable");
  BOOST_TEST(start.headers.at("x-upload-content-length") == "614400");
  auto job = json::parse(fake.job_body);
  const auto& load = job.at("configuration").at("load");
  BOOST_TEST(load.at("writeDisposition").as_string() == "WRITE_TRUNCATE");
  BOOST_TEST(load.at("maxBadRecords").as_int64() == 1000);
  BOOST_TEST(load.at("schema").at("fields").as_array().size() == 1u);
  BOOST_TEST(load.at("destinationTable").at("tableId").as_string() == "day");
}

BOOST_AUTO_TEST_CASE(a_failed_chunk_is_resumed_after_a_status_query) {
  TempFile file(3 * kUploadQuantum);
  FakeUpload fake;
  // The second chunk fails with 503; the status query says what is held.
  fake.on_put = [](const Seen&, int put) -> std::optional<Reply> {
    if (put == 2) return Reply{.status = 503, .body = "try later"};
    return std::nullopt;
  };
  Fixture f([&fake](const Seen& seen, int) { return fake.handle(seen); });
  fake.base = f.server.base_url();
  net::Result<LoadResult> result = LoadResult{};
  f.run([&]() -> asio::awaitable<void> {
    result = co_await f.client.load(kTable, file.path(), kDefaults);
  });
  BOOST_REQUIRE_MESSAGE(result.has_value(), why(result));
  BOOST_TEST(result->ok());
  BOOST_TEST(fake.received == file.bytes);
  BOOST_TEST(fake.ranges ==
                 (std::vector<std::string>{"bytes 0-262143/786432", "bytes 262144-524287/786432",
                                           "bytes */786432", "bytes 262144-524287/786432",
                                           "bytes 524288-786431/786432"}),
             boost::test_tools::per_element());
  // The status query carries no bytes.
  auto query = std::find_if(f.server.seen.begin(), f.server.seen.end(), [](const Seen& s) {
    return s.headers.contains("content-range") && s.headers.at("content-range") == "bytes */786432";
  });
  BOOST_REQUIRE(query != f.server.seen.end());
  BOOST_TEST(query->body.empty());
}

BOOST_AUTO_TEST_CASE(a_failed_job_reports_its_errors) {
  TempFile file(1000);
  FakeUpload fake;
  fake.done_status =
      R"({"state":"DONE","errorResult":{"reason":"invalid","message":"Error while reading data, error message: JSON table encountered too many errors"},)"
      R"("errors":[{"reason":"invalid","location":"rows.json.gz","message":"JSON parsing error in row starting at position 17: No such field: nmber."}]})";
  fake.done_statistics = R"({"load":{"badRecords":"1001"}})";
  fake.job_states = {"PENDING", "RUNNING", "RUNNING", "DONE"};
  auto result = load_via(fake, file);
  BOOST_REQUIRE_MESSAGE(result.has_value(), why(result));
  BOOST_TEST(fake.ranges == (std::vector<std::string>{"bytes 0-999/1000"}),
             boost::test_tools::per_element());
  BOOST_TEST(fake.polls == 4);
  BOOST_TEST(result->done);
  BOOST_TEST(!result->ok());
  BOOST_REQUIRE(result->error_result);
  BOOST_TEST(result->error_result->message.find("too many errors") != std::string::npos);
  BOOST_REQUIRE(result->errors.size() == 1u);
  BOOST_TEST(result->errors[0].location == "rows.json.gz");
  BOOST_TEST(result->bad_records == 1001);
  BOOST_TEST(result->summary().find("No such field: nmber.") != std::string::npos,
             result->summary());
}

BOOST_AUTO_TEST_CASE(an_empty_file_is_one_final_put) {
  TempFile file(0);
  FakeUpload fake;
  fake.job_states = {"DONE"};
  auto result = load_via(fake, file);
  BOOST_REQUIRE_MESSAGE(result.has_value(), why(result));
  BOOST_TEST(result->ok());
  BOOST_TEST(fake.ranges == (std::vector<std::string>{"bytes */0"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(start_failures_missing_files_and_bad_answers_are_errors) {
  TempFile file(1000);
  int round = 0;
  Fixture f([&](const Seen& seen, int) {
    if (round == 0)
      return Reply{.status = 403,
                   .body = R"({"error":{"code":403,"message":"Access Denied: Project proj"}})"};
    if (round == 1) return Reply{.status = 200};  // no Location header
    if (seen.method == "POST") return Reply{.headers = {{"Location", "/upload/session/rel"}}};
    return ok("<html>not a job</html>");
  });
  net::Result<LoadResult> denied = LoadResult{}, no_location = LoadResult{},
                          not_a_job = LoadResult{}, no_file = LoadResult{};
  f.run([&]() -> asio::awaitable<void> {
    denied = co_await f.client.load(kTable, file.path(), kDefaults);
    round = 1;
    no_location = co_await f.client.load(kTable, file.path(), kDefaults);
    round = 2;
    not_a_job = co_await f.client.load(kTable, file.path(), kDefaults);
    no_file = co_await f.client.load(kTable, file.path() + ".missing", kDefaults);
  });
  BOOST_REQUIRE(!denied.has_value());
  BOOST_TEST(denied.error().status == 403);
  BOOST_TEST(denied.error().message.find("Access Denied: Project proj") != std::string::npos);
  BOOST_TEST(
      denied.error().url.ends_with("/upload/bigquery/v2/projects/proj/jobs?uploadType=resumable"));
  BOOST_REQUIRE(!no_location.has_value());
  BOOST_TEST((no_location.error().kind == net::ErrorKind::protocol));
  BOOST_TEST(no_location.error().message.find("Location") != std::string::npos);
  BOOST_REQUIRE(!not_a_job.has_value());
  BOOST_TEST((not_a_job.error().kind == net::ErrorKind::protocol));
  BOOST_TEST(not_a_job.error().url ==
             f.server.base_url() + "/upload/session/rel");  // relative Location resolved
  BOOST_REQUIRE(!no_file.has_value());
  BOOST_TEST(no_file.error().url == file.path() + ".missing");
}

BOOST_AUTO_TEST_CASE(a_job_that_never_finishes_hits_the_deadline) {
  TempFile file(10);
  FakeUpload fake;
  fake.job_states = {"RUNNING"};
  auto config = quick_config();
  config.load_deadline = 200ms;
  auto result = load_via(fake, file, config);
  BOOST_REQUIRE(!result.has_value());
  BOOST_TEST((result.error().kind == net::ErrorKind::timeout));
  BOOST_TEST(!fake.job_id.empty());
  BOOST_TEST(result.error().message.find(fake.job_id) != std::string::npos, result.error().what());
}

BOOST_AUTO_TEST_CASE(an_upload_that_never_progresses_gives_up) {
  TempFile file(kUploadQuantum + 10);
  FakeUpload fake;
  // Every PUT, status queries included, is answered "308, holding nothing".
  fake.on_put = [](const Seen&, int) -> std::optional<Reply> { return Reply{.status = 308}; };
  auto config = quick_config();
  config.max_upload_recoveries = 2;
  auto result = load_via(fake, file, config);
  BOOST_REQUIRE(!result.has_value());
  BOOST_TEST((result.error().kind == net::ErrorKind::protocol));
  BOOST_TEST(result.error().message.find("no progress") != std::string::npos,
             result.error().what());
  // chunk, query, chunk, query, chunk: the third failure ends it.
  BOOST_TEST(fake.ranges == (std::vector<std::string>{"bytes 0-262143/262154", "bytes */262154",
                                                      "bytes 0-262143/262154", "bytes */262154",
                                                      "bytes 0-262143/262154"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
