// buckets.yaml (SPEC §1): GCS build locations and their options, in file order.
//
// exclude_jobs patterns come from a file fetched upstream every cycle, so they
// are untrusted: they are compiled with RE2, whose matching time is linear in
// the job name whatever the pattern (a backtracking engine can take
// exponential time on `(a*)*b`). RE2 syntax is Python's `re` without
// backreferences and lookaround (`\1`, `(?=`, `(?!`, `(?<=`, `(?<!`): a
// pattern using them, or any pattern RE2 rejects, is a ConfigError at load.
// `\d`, `\w`, `\s` and `\b` are ASCII-only in RE2 (Unicode in Python 3).
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace kettle::config {

// A configuration problem, with the file (and line when known) in what().
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Bucket {
  std::string url;     // "gs://bucket/path/", always ending in '/'
  std::string prefix;  // prepended to job names in rows
  bool sequential = true;
  std::vector<std::string> exclude_patterns;  // as written
  std::string contact;

  // True when any exclude pattern matches anywhere in `job` (regex search,
  // RE2::PartialMatch; the job name is read as UTF-8). Linear in job.size()
  // per pattern.
  bool excludes(std::string_view job) const;

  // compiled exclude_patterns, same order; shared (immutable, thread-safe to
  // match) so that a Bucket stays cheap to copy
  std::vector<std::shared_ptr<const re2::RE2>> exclude_regexes;
};

class Buckets {
 public:
  Buckets() = default;
  // Throws ConfigError naming the file and line on unreadable files, bad YAML,
  // wrong types (e.g. exclude_jobs not a list) and exclude_jobs patterns RE2
  // rejects (the message names the pattern and RE2's reason).
  static Buckets load(const std::filesystem::path& file);
  static Buckets parse(std::string_view yaml_text, std::string_view source_name);

  const std::vector<Bucket>& entries() const { return entries_; }
  // The first entry (file order) whose url is a prefix of `path`, or null.
  const Bucket* match_path(std::string_view path) const;

 private:
  std::vector<Bucket> entries_;
};

}  // namespace kettle::config
