// One BigQuery row per build (SPEC §3).
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kettle/config/buckets.hpp"

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

struct RowResult {
  std::optional<boost::json::object> row;  // nullopt: the build has no row
  std::string error;                       // why, when row is nullopt
};

// Never throws on bad data: malformed JSON or JUnit degrade per the SPEC D-rules.
RowResult build_row(const BuildInput& build, const config::Buckets& buckets);

// The NDJSON line (no newline): Python json.dumps with sorted keys.
std::string to_json_line(const boost::json::object& row);

}  // namespace kettle::rows
