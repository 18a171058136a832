// The reference's row_for_build (SPEC §3) with the deviations D3-D5.
#include "kettle/rows/builder.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <vector>

#include "kettle/junit/parser.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/rows/build_json.hpp"
#include "kettle/rows/pyjson.hpp"

namespace json = boost::json;

namespace kettle::rows {
namespace {

constexpr std::string_view kPrLogs = "gs://kubernetes-ci-logs/pr-logs";
constexpr std::string_view kPrPrefix = "pr:";

// Python truthiness of a JSON value.
bool truthy(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return false;
    case json::kind::bool_: return v.get_bool();
    case json::kind::int64: return v.get_int64() != 0;
    case json::kind::uint64: return v.get_uint64() != 0;
    case json::kind::double_: return v.get_double() != 0.0;
    case json::kind::string: return !v.get_string().empty();
    case json::kind::array: return !v.get_array().empty();
    case json::kind::object: return !v.get_object().empty();
  }
  return false;
}

// A JSON number (bool included) as Python compares it: 1 == 1.0 == True.
std::optional<long double> python_number(const json::value& v) {
  switch (v.kind()) {
    case json::kind::bool_: return v.get_bool() ? 1.0L : 0.0L;
    case json::kind::int64: return static_cast<long double>(v.get_int64());
    case json::kind::uint64: return static_cast<long double>(v.get_uint64());
    case json::kind::double_: return static_cast<long double>(v.get_double());
    default: return std::nullopt;
  }
}

// Python's == on values loaded from JSON.
bool python_equal(const json::value& a, const json::value& b) {
  const auto na = python_number(a);
  const auto nb = python_number(b);
  if (na || nb) return na && nb && *na == *nb;
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), python_equal);
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const json::value* other = y.if_contains(kv.key());
      if (other == nullptr || !python_equal(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;  // null, string
}

// D3: only a segment of ASCII digits that fits int64 is a build number.
std::optional<int64_t> build_number(std::string_view segment) {
  if (segment.empty()) return std::nullopt;
  for (char c : segment)
    if (c < '0' || c > '9') return std::nullopt;
  int64_t n = 0;
  const auto res = std::from_chars(segment.data(), segment.data() + segment.size(), n);
  if (res.ec != std::errc()) return std::nullopt;
  return n;
}

// A test as the row holds it, keys sorted: {"failed", "failure_text", "name", "time"}.
void append_test(std::string& out, const junit::TestCase& test) {
  if (test.failed) {
    out += R"({"failed": true, "failure_text": )";
    pyjson::append_string(out, test.failure_text);
    out += R"(, "name": )";
  } else {
    out += R"({"name": )";
  }
  pyjson::append_string(out, test.name);
  out += R"(, "time": )";
  pyjson::append_double(out, test.time);
  out += '}';
}

// Copies obj[key] into row[row_key] unless it is missing or null.
void copy_if_set(const json::object& obj, std::string_view key, json::object& row, std::string_view row_key) {
  const json::value* v = obj.if_contains(key);
  if (v != nullptr && !v->is_null()) row[row_key] = *v;
}

void add_started(const json::object& started, json::object& row) {
  if (const auto ts = timestamp_seconds(started.if_contains("timestamp"))) row["started"] = *ts;
  copy_if_set(started, "node", row, "executor");
  // started.get('repo-commit', started.get('repo-version')): a null repo-commit wins.
  if (started.contains("repo-commit"))
    copy_if_set(started, "repo-commit", row, "repo_commit");
  else
    copy_if_set(started, "repo-version", row, "repo_commit");
  const json::value* repos = started.if_contains("repos");
  if (repos != nullptr && truthy(*repos)) row["repos"] = pyjson::dumps(*repos, /*sort_keys=*/false);
}

void add_finished(const json::object& finished, json::object& row) {
  if (const auto ts = timestamp_seconds(finished.if_contains("timestamp"))) row["finished"] = *ts;
  if (const json::value* result = finished.if_contains("result")) {
    if (!result->is_null()) row["result"] = *result;
    row["passed"] = result->is_string() && result->get_string() == "SUCCESS";
  } else if (const json::value* passed = finished.if_contains("passed"); passed != nullptr && passed->is_bool()) {
    row["passed"] = passed->get_bool();
    row["result"] = passed->get_bool() ? "SUCCESS" : "FAILURE";
  }
  copy_if_set(finished, "version", row, "version");
}

// finished metadata if finished has the key, else started metadata; D4: a
// metadata value that is not an object counts as none.
const json::object* pick_metadata(const std::optional<json::object>& started,
                                  const std::optional<json::object>& finished) {
  const json::value* metadata = nullptr;
  if (finished && finished->contains("metadata"))
    metadata = finished->if_contains("metadata");
  else if (started)
    metadata = started->if_contains("metadata");
  return metadata != nullptr && metadata->is_object() ? &metadata->get_object() : nullptr;
}

// Drops fields that repeat the build's version. D5: without finished.json (or
// without its version) there is nothing to compare with, so nothing is dropped.
void drop_duplicate_versions(json::object& metadata, const std::optional<json::object>& finished) {
  const json::value* build_version = finished ? finished->if_contains("version") : nullptr;
  if (build_version == nullptr) return;
  for (std::string_view key : {"job-version", "version"}) {
    const json::value* v = metadata.if_contains(key);
    if (v != nullptr && python_equal(*v, *build_version)) metadata.erase(key);
  }
}

void add_metadata(const json::object* source, const std::optional<json::object>& finished, json::object& row) {
  if (source == nullptr || source->empty()) return;
  json::object metadata = *source;
  if (const json::value* repo = metadata.if_contains("repo"); repo != nullptr && !truthy(*repo))
    metadata.erase("repo");
  drop_duplicate_versions(metadata, finished);
  // BigQuery's schema wants string values: others become their JSON text.
  for (auto& kv : metadata)
    if (!kv.value().is_string()) kv.value() = pyjson::dumps(kv.value(), /*sort_keys=*/false);
  if (metadata.empty()) return;

  std::vector<const json::key_value_pair*> entries;
  for (const auto& kv : metadata) entries.push_back(&kv);
  std::sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) { return a->key() < b->key(); });
  json::array list;
  for (const auto* kv : entries) list.emplace_back(json::object{{"key", kv->key()}, {"value", kv->value()}});
  row["metadata"] = std::move(list);

  if (const json::value* repos = metadata.if_contains("repos"); repos != nullptr && !row.contains("repos"))
    row["repos"] = *repos;
}

// elapsed only when both timestamps are usable and non-zero (Python truthiness).
void add_elapsed(json::object& row) {
  const json::value* started = row.if_contains("started");
  const json::value* finished = row.if_contains("finished");
  if (started == nullptr || finished == nullptr) return;
  const int64_t s = started->get_int64();
  const int64_t f = finished->get_int64();
  if (s != 0 && f != 0) row["elapsed"] = f - s;
}

// The row's fields other than the tests; throws only on internal failures.
json::object row_head(std::string_view path, const JobAndNumber& jn, const std::optional<std::string>& started_json,
                      const std::optional<std::string>& finished_json) {
  json::object row;
  row["path"] = path;
  row["job"] = jn.job;
  if (jn.number && *jn.number != 0) row["number"] = *jn.number;  // Python: `if number:`

  const auto started = started_json ? parse_build_json(*started_json) : std::nullopt;
  const auto finished = finished_json ? parse_build_json(*finished_json) : std::nullopt;
  if (started) add_started(*started, row);
  if (finished) add_finished(*finished, row);
  add_metadata(pick_metadata(started, finished), finished, row);
  add_elapsed(row);
  return row;
}

// Appends `"key": value` for json.dumps' object syntax.
void append_member(std::string& out, bool& first, std::string_view key) {
  if (!first) out += ", ";
  first = false;
  pyjson::append_string(out, key);
  out += ": ";
}

// The NDJSON line: the head's fields and the tests, keys sorted as json.dumps
// sorts them ("test" < "tests_failed" < "tests_run").
std::string row_line(const json::object& head, std::string_view tests, int64_t run, int64_t failed) {
  std::vector<const json::key_value_pair*> fields;
  fields.reserve(head.size());
  for (const auto& kv : head) fields.push_back(&kv);
  std::sort(fields.begin(), fields.end(), [](const auto* a, const auto* b) { return a->key() < b->key(); });
  std::string out;
  out.reserve(tests.size() + 1024);
  out += '{';
  bool first = true;
  bool tests_written = false;
  auto write_tests = [&] {
    append_member(out, first, "test");
    out += '[';
    out += tests;
    out += ']';
    append_member(out, first, "tests_failed");
    out += std::to_string(failed);
    append_member(out, first, "tests_run");
    out += std::to_string(run);
    tests_written = true;
  };
  for (const auto* kv : fields) {
    if (!tests_written && kv->key() > "tests_run") write_tests();
    append_member(out, first, kv->key());
    pyjson::append(out, kv->value(), /*sort_keys=*/true);
  }
  if (!tests_written) write_tests();
  out += '}';
  return out;
}

}  // namespace

std::optional<JobAndNumber> job_and_number(std::string_view path, const config::Buckets& buckets) {
  std::string_view prefix;
  if (const config::Bucket* bucket = buckets.match_path(path))
    prefix = bucket->prefix;
  else if (path.substr(0, kPrLogs.size()) == kPrLogs)
    prefix = kPrPrefix;
  else
    return std::nullopt;

  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const size_t last_slash = path.rfind('/');
  const std::string_view last = last_slash == std::string_view::npos ? path : path.substr(last_slash + 1);
  std::string_view parent;
  if (last_slash != std::string_view::npos) {
    const std::string_view dir = path.substr(0, last_slash);
    const size_t slash = dir.rfind('/');
    parent = slash == std::string_view::npos ? dir : dir.substr(slash + 1);
  }
  return JobAndNumber{std::string(prefix) + std::string(parent), build_number(last)};
}

void RowBuilder::start(std::string_view path) {
  path_.assign(path);
  job_ = job_and_number(path, buckets_);
  tests_.clear();
  tests_run_ = 0;
  tests_failed_ = 0;
}

void RowBuilder::add_junit(std::string_view file_path, std::string_view xml) {
  if (!job_) return;  // no row: its tests are not read
  file_mark_ = tests_.size();
  file_run_ = tests_run_;
  file_failed_ = tests_failed_;
  const std::string error = junit::for_each_test(xml, *this);
  if (!error.empty()) KLOG(warning) << "malformed JUnit " << file_path << ": " << error;
}

void RowBuilder::test(const junit::TestCase& test) {
  if (!test.failed && test.name.find('#') != std::string::npos) return;  // a passing repeat
  if (tests_run_ != 0) tests_ += ", ";
  append_test(tests_, test);
  ++tests_run_;
  if (test.failed) ++tests_failed_;
}

// A malformed file has no tests: what it added is taken back.
void RowBuilder::rewind() {
  tests_.resize(file_mark_);
  tests_run_ = file_run_;
  tests_failed_ = file_failed_;
}

RowLine RowBuilder::finish(const std::optional<std::string>& started_json,
                           const std::optional<std::string>& finished_json) {
  if (!job_) return {{}, "unknown bucket for build path " + path_};
  try {
    return {row_line(row_head(path_, *job_, started_json, finished_json), tests_, tests_run_, tests_failed_), {}};
  } catch (const std::exception& e) {
    return {{}, "cannot build row for " + path_ + ": " + e.what()};
  } catch (...) {
    return {{}, "cannot build row for " + path_ + ": unknown error"};
  }
}

RowLine build_row(const BuildInput& build, const config::Buckets& buckets) {
  RowBuilder builder(buckets);
  builder.start(build.path);
  for (const auto& file : build.junit) builder.add_junit(file.path, file.xml);
  return builder.finish(build.started_json, build.finished_json);
}

}  // namespace kettle::rows
