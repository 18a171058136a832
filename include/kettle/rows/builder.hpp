// One BigQuery row per build (SPEC §3).
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kettle/config/buckets.hpp"
#include "kettle/junit/parser.hpp"

namespace kettle::rows {

struct JunitFile {
  std::string path;  // for log lines
  std::string xml;   // decompressed text
};

struct BuildInput {
  std::string path;                          // gs://... without trailing '/'
  std::optional<std::string> started_json;   // DB text (SQL NULL = nullopt)
  std::optional<std::string> finished_json;  // DB text
  std::vector<JunitFile> junit;              // in file-path order
};

struct JobAndNumber {
  std::string job;
  std::optional<int64_t> number;
};

// Job name and build number for a build path; nullopt for a path under no
// bucket and not under gs://kubernetes-ci-logs/pr-logs.
std::optional<JobAndNumber> job_and_number(std::string_view path, const config::Buckets& buckets);

// A row as its NDJSON line (no newline): Python json.dumps with sorted keys.
struct RowLine {
  std::string line;   // empty when error is set
  std::string error;  // why the build has no row
  bool ok() const { return error.empty(); }
};

// Builds rows one after another (SPEC §3, D3-D5), reusing its buffers: tests
// go from the JUnit parser straight into the line's text, with nothing
// allocated per test. One per thread. Never throws on bad data: malformed
// JSON or JUnit degrade per the SPEC D-rules.
class RowBuilder : private junit::TestSink {
 public:
  explicit RowBuilder(const config::Buckets& buckets) : buckets_(buckets) {}

  // Starts the row of the build at `path` (gs://..., no trailing '/').
  void start(std::string_view path);
  // Adds the tests of one JUnit file, after those of the files added before
  // (file-path order). A malformed file adds none and is logged, naming
  // `file_path`.
  void add_junit(std::string_view file_path, std::string_view xml);
  // The row, from the build's DB texts (SQL NULL = nullopt).
  RowLine finish(const std::optional<std::string>& started_json, const std::optional<std::string>& finished_json);

 private:
  void test(const junit::TestCase& test) override;
  void rewind() override;

  const config::Buckets& buckets_;
  std::string path_;
  std::optional<JobAndNumber> job_;  // nullopt: the build has no row
  std::string tests_;                // the tests, serialized and comma-separated
  int64_t tests_run_ = 0;
  int64_t tests_failed_ = 0;
  // Where the current file's tests begin (rewind() goes back there).
  size_t file_mark_ = 0;
  int64_t file_run_ = 0;
  int64_t file_failed_ = 0;
};

// The row of one build (a RowBuilder run over BuildInput).
RowLine build_row(const BuildInput& build, const config::Buckets& buckets);

}  // namespace kettle::rows
