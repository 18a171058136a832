// buckets.yaml (SPEC §1): GCS build locations and their options, in file order.
#pragma once

#include <filesystem>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

  // True when any exclude pattern matches anywhere in `job` (regex search).
  bool excludes(std::string_view job) const;

  std::vector<std::regex> exclude_regexes;  // compiled exclude_patterns
};

class Buckets {
 public:
  Buckets() = default;
  // Throws ConfigError naming the file and line on unreadable files, bad YAML,
  // wrong types (e.g. exclude_jobs not a list) and invalid regexes.
  static Buckets load(const std::filesystem::path& file);
  static Buckets parse(std::string_view yaml_text, std::string_view source_name);

  const std::vector<Bucket>& entries() const { return entries_; }
  // The first entry (file order) whose url is a prefix of `path`, or null.
  const Bucket* match_path(std::string_view path) const;

 private:
  std::vector<Bucket> entries_;
};

}  // namespace kettle::config
