// The on-disk layout of the fake's buckets, and object listing over it.
//   root/<bucket>/<object name>         object bytes (as stored: gzip stays gzip)
//   root/.meta/<bucket>/<name>.json     optional metadata sidecar, e.g.
//                                       {"contentEncoding":"gzip","contentType":"application/json"}
//   root/.tmp/                          uploads in progress (renamed into place)
// Nothing is cached: tests add and change files while the fake runs.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fakegcp {

// Bucket names: no '/', not starting with '.', at most 222 bytes.
bool valid_bucket_name(std::string_view bucket);
// Object names: 1..1024 bytes, no NUL/CR/LF, and storable as a relative file
// path (no empty, "." or ".." segments, no trailing '/').
bool valid_object_name(std::string_view name);

struct ObjectMeta {
  std::string content_type;      // empty: guessed from the name
  std::string content_encoding;  // "gzip" for decompressive transcoding
  boost::json::object extra;     // any other sidecar keys, shown in the resource
  bool empty() const { return content_type.empty() && content_encoding.empty() && extra.empty(); }
};

struct ObjectStat {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  // also the generation (in microseconds)
};

struct ListQuery {
  std::string prefix;
  std::string delimiter;
  std::optional<std::string> after;  // resume strictly after this entry (page token)
  std::string start_offset;          // inclusive lower bound on names
  std::string end_offset;            // exclusive upper bound; empty = none
  std::size_t max_results = 1000;    // items and prefixes together, as GCS counts
};

struct ListPage {
  std::vector<std::string> items;     // object names, in order
  std::vector<std::string> prefixes;  // rolled-up prefixes, in order
  std::optional<std::string> last;    // the page's last entry when more follow
};

class BucketStore {
 public:
  explicit BucketStore(std::filesystem::path root) : root_(std::move(root)) {}

  bool bucket_exists(std::string_view bucket) const;
  std::optional<ObjectStat> stat(std::string_view bucket, std::string_view name) const;
  ObjectMeta meta(std::string_view bucket, std::string_view name) const;
  // nullopt when the object does not exist.
  std::optional<std::string> read(std::string_view bucket, std::string_view name,
                                  ObjectStat& stat) const;
  // Writes atomically (temp file + rename), creating directories; replaces the
  // sidecar (removes it when meta is empty). Returns an error text on failure.
  std::optional<std::string> write(std::string_view bucket, std::string_view name,
                                   std::string_view bytes, const ObjectMeta& meta);
  // One page of a listing, walking only the directory the prefix implies, in
  // name order, stopping once the page is full.
  ListPage list(std::string_view bucket, const ListQuery& query) const;

 private:
  std::filesystem::path object_path(std::string_view bucket, std::string_view name) const;
  std::filesystem::path meta_path(std::string_view bucket, std::string_view name) const;

  std::filesystem::path root_;
};

}  // namespace fakegcp
