// The on-disk layout of the fake's buckets, and object listing over it.
//   root/<bucket>/<object name>         object bytes (as stored: gzip stays gzip)
//   root/.meta/<bucket>/<name>.json     optional metadata sidecar, e.g.
//                                       {"contentEncoding":"gzip","contentType":"application/json"}
//   root/.tmp/                          uploads in progress (renamed into place)
// Nothing is cached: tests add and change files while the fake runs.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "object_store.hpp"

namespace fakegcp {

// Bucket names: no '/', not starting with '.', at most 222 bytes.
bool valid_bucket_name(std::string_view bucket);
// Object names: 1..1024 bytes, no NUL/CR/LF, and storable as a relative file
// path (no empty, "." or ".." segments, no trailing '/').
bool valid_object_name(std::string_view name);

// An empty root holds no bucket (the fake may serve only synthetic ones).
class BucketStore : public ObjectStore {
 public:
  explicit BucketStore(std::filesystem::path root) : root_(std::move(root)) {}

  bool bucket_exists(std::string_view bucket) const override;
  bool writable() const override { return true; }
  std::optional<ObjectStat> stat(std::string_view bucket, std::string_view name) const override;
  ObjectMeta meta(std::string_view bucket, std::string_view name) const override;
  std::optional<std::string> read(std::string_view bucket, std::string_view name,
                                  ObjectStat& stat) const override;
  // Writes atomically (temp file + rename), creating directories; replaces the
  // sidecar (removes it when meta is empty).
  std::optional<std::string> write(std::string_view bucket, std::string_view name,
                                   std::string_view bytes, const ObjectMeta& meta) override;
  // Reads only the directories the walk reaches (the prefix's deepest one first).
  ListPage list(std::string_view bucket, const ListQuery& query) const override;

 private:
  std::filesystem::path object_path(std::string_view bucket, std::string_view name) const;
  std::filesystem::path meta_path(std::string_view bucket, std::string_view name) const;

  std::filesystem::path root_;
};

}  // namespace fakegcp
