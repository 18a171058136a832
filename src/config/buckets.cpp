// buckets.yaml loading (SPEC §1). Every error names the file and, when the
// YAML parser knows it, the 1-based line, so users can fix the file directly.
#include "kettle/config/buckets.hpp"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include "kettle/obs/log.hpp"

namespace kettle::config {
namespace {

constexpr std::string_view kScheme = "gs://";
// Per exclude pattern (RE2's own default is 8 MiB). Real patterns compile to
// a few KiB; the rest is DFA cache, which only speeds up matching.
constexpr int64_t kExcludePatternMaxMem = 1 << 20;

// "FILE:LINE" (1-based) or just "FILE" when the mark is unknown.
std::string where(std::string_view source, const YAML::Mark& mark) {
  std::string out(source);
  if (!mark.is_null()) {
    // Appended in two steps: `":" + std::to_string(...)` trips a bogus GCC 12
    // -Wrestrict warning on std::string once inlined here.
    out += ':';
    out += std::to_string(mark.line + 1);
  }
  return out;
}

[[noreturn]] void fail(std::string_view source, const YAML::Mark& mark, std::string_view what) {
  throw ConfigError(where(source, mark) + ": " + std::string(what));
}

// Errors about one bucket's options: "FILE:LINE: bucket gs://x/: what".
[[noreturn]] void fail_bucket(std::string_view source, const YAML::Node& node, const std::string& url,
                              std::string_view what) {
  fail(source, node.Mark(), "bucket " + url + ": " + std::string(what));
}

std::string normalized_url(std::string_view source, const YAML::Node& key) {
  if (!key.IsScalar()) fail(source, key.Mark(), "bucket keys must be gs:// paths");
  std::string url = key.Scalar();
  if (url.rfind(kScheme, 0) != 0) fail(source, key.Mark(), "bucket key '" + url + "' must start with gs://");
  if (url.back() != '/') url += '/';
  return url;
}

// A string option; a null value (`prefix:`) keeps the default.
void read_string(std::string_view source, const YAML::Node& value, const std::string& url, std::string_view name,
                 std::string& out) {
  if (value.IsNull()) return;
  if (!value.IsScalar()) fail_bucket(source, value, url, std::string(name) + " must be a string");
  out = value.Scalar();
}

void read_sequential(std::string_view source, const YAML::Node& value, Bucket& bucket) {
  if (value.IsNull()) return;
  bool flag = true;
  if (!value.IsScalar() || !YAML::convert<bool>::decode(value, flag))
    fail_bucket(source, value, bucket.url, "sequential must be a bool (true or false)");
  bucket.sequential = flag;
}

// RE2 settings for exclude_jobs patterns.
// - UTF-8 (RE2's default): the reference runs Python's re.search on names
//   decoded from UTF-8 (GCS names are UTF-8 by contract), so '.', [^...] and
//   counted repeats take one code point, as there; Latin-1 would take one byte
//   and let `^.{3}$` or `[^é]` cut a character in two. (A byte that is not
//   valid UTF-8 is matched by no '.' or class; GCS never lists one.)
// - Errors are returned in the ConfigError, not printed by RE2 on stderr.
// - No captures: excludes() only asks whether a pattern matches.
// - max_mem bounds one pattern's compiled program and DFA cache; a pattern
//   that does not fit is refused at load, and a DFA that fills up falls back
//   to RE2's NFA (still linear).
RE2::Options exclude_options() {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingUTF8);
  o.set_log_errors(false);
  o.set_never_capture(true);
  o.set_max_mem(kExcludePatternMaxMem);
  return o;
}

// What RE2 refuses that Python's re accepts, spelled out next to RE2's words.
std::string_view unsupported_hint(RE2::ErrorCode code, const std::string& arg) {
  if (code == RE2::ErrorBadPerlOp) return " (lookaround is not supported)";
  if (code == RE2::ErrorBadEscape && arg.size() == 2 && arg[1] >= '1' && arg[1] <= '9')
    return " (backreferences are not supported)";
  return "";
}

// Patterns are compiled here so that a bad one stops loading, not a later run.
void read_excludes(std::string_view source, const YAML::Node& value, Bucket& bucket) {
  if (value.IsNull()) return;
  constexpr std::string_view kWhat = "exclude_jobs must be a list of strings";
  if (!value.IsSequence()) fail_bucket(source, value, bucket.url, kWhat);
  static const RE2::Options options = exclude_options();
  for (const auto& item : value) {
    if (!item.IsScalar()) fail_bucket(source, item, bucket.url, kWhat);
    const std::string& pattern = item.Scalar();
    auto compiled = std::make_shared<const RE2>(pattern, options);
    if (!compiled->ok()) {
      fail_bucket(source, item, bucket.url,
                  "invalid exclude_jobs regex '" + pattern + "' (RE2 syntax): " + compiled->error() +
                      std::string(unsupported_hint(compiled->error_code(), compiled->error_arg())));
    }
    bucket.exclude_regexes.push_back(std::move(compiled));
    bucket.exclude_patterns.push_back(pattern);
  }
}

Bucket read_bucket(std::string_view source, const YAML::Node& key, const YAML::Node& options) {
  Bucket bucket;
  bucket.url = normalized_url(source, key);
  if (options.IsNull()) return bucket;  // `gs://x/:` with no options = defaults
  if (!options.IsMap()) fail_bucket(source, options, bucket.url, "options must be a mapping");
  for (const auto& option : options) {
    const std::string name = option.first.IsScalar() ? option.first.Scalar() : std::string();
    const YAML::Node& value = option.second;
    if (name == "prefix") {
      read_string(source, value, bucket.url, name, bucket.prefix);
    } else if (name == "contact") {
      read_string(source, value, bucket.url, name, bucket.contact);
    } else if (name == "sequential") {
      read_sequential(source, value, bucket);
    } else if (name == "exclude_jobs") {
      read_excludes(source, value, bucket);
    }  // other keys are informational and ignored, as in the reference
  }
  return bucket;
}

YAML::Node parse_yaml(std::string_view yaml_text, std::string_view source) {
  try {
    return YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    fail(source, e.mark, "invalid YAML: " + e.msg);
  }
}

// A repeated key replaces the earlier options in place, like a YAML mapping
// read into a Python dict (position of the first, values of the last).
void add_entry(std::vector<Bucket>& entries, Bucket bucket, std::string_view source) {
  for (auto& existing : entries) {
    if (existing.url == bucket.url) {
      KLOG(warning) << source << ": bucket " << bucket.url << " is listed twice; the later options win";
      existing = std::move(bucket);
      return;
    }
  }
  entries.push_back(std::move(bucket));
}

std::string read_file(const std::filesystem::path& file) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "rb"), &std::fclose);
  if (!f) throw ConfigError(file.string() + ": cannot open buckets file: " + std::strerror(errno));
  std::string text;
  char buf[16384];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text.append(buf, n);
  // A directory opens fine on Linux and fails on read (EISDIR).
  if (std::ferror(f.get())) throw ConfigError(file.string() + ": cannot read buckets file: " + std::strerror(errno));
  return text;
}

}  // namespace

bool Bucket::excludes(std::string_view job) const {
  const re2::StringPiece text(job.data(), job.size());
  for (const auto& pattern : exclude_regexes) {
    if (RE2::PartialMatch(text, *pattern)) return true;
  }
  return false;
}

Buckets Buckets::load(const std::filesystem::path& file) { return parse(read_file(file), file.string()); }

Buckets Buckets::parse(std::string_view yaml_text, std::string_view source_name) {
  YAML::Node root = parse_yaml(yaml_text, source_name);
  Buckets buckets;
  if (root.IsNull()) {
    KLOG(warning) << source_name << ": no buckets configured (empty file)";
    return buckets;
  }
  if (!root.IsMap()) fail(source_name, root.Mark(), "top level must be a mapping of gs:// paths to options");
  for (const auto& entry : root) add_entry(buckets.entries_, read_bucket(source_name, entry.first, entry.second), source_name);
  return buckets;
}

const Bucket* Buckets::match_path(std::string_view path) const {
  for (const auto& bucket : entries_) {
    if (path.substr(0, bucket.url.size()) == bucket.url) return &bucket;
  }
  return nullptr;
}

}  // namespace kettle::config
