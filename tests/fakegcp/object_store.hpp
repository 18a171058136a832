// What the GCS service serves objects from: a bucket store. Two kinds exist,
// files on disk (bucket_store.hpp) and buckets generated from a seed
// (synthetic_store.hpp). Both list through one walk, list_tree(), over the
// tree their names form, so listing semantics cannot drift between them.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fakegcp {

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

// A bucket's names seen as directories: a directory's key ends in '/', an
// object's key is its name; "" is the bucket itself.
class ObjectTree {
 public:
  // Called with each child's key; returns false to stop.
  using Visit = std::function<bool(const std::string& key, bool is_dir)>;

  virtual ~ObjectTree() = default;
  // The children of directory `dir`, in key order (byte order, directories
  // with their '/'), starting at the first child that may hold a name >= `from`.
  virtual void children(const std::string& dir, std::string_view from,
                        const Visit& visit) const = 0;
  // False when no object lies below `dir` (GCS has no empty directories).
  virtual bool has_objects(const std::string& dir) const = 0;
};

// One page of a listing: walks only the directories the query can reach, in
// name order, and stops once the page is full, so a page costs about its own
// size whatever the bucket holds.
ListPage list_tree(const ObjectTree& tree, const ListQuery& query);

// True when every name starting with `key` sorts before `bound`, so the
// subtree at `key` can be skipped without reading it.
inline bool all_below(std::string_view key, std::string_view bound) {
  return bound > key && !bound.starts_with(key);
}

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  virtual bool bucket_exists(std::string_view bucket) const = 0;
  virtual bool writable() const = 0;
  virtual std::optional<ObjectStat> stat(std::string_view bucket, std::string_view name) const = 0;
  virtual ObjectMeta meta(std::string_view bucket, std::string_view name) const = 0;
  // nullopt when the object does not exist.
  virtual std::optional<std::string> read(std::string_view bucket, std::string_view name,
                                          ObjectStat& stat) const = 0;
  // Returns an error text on failure.
  virtual std::optional<std::string> write(std::string_view bucket, std::string_view name,
                                           std::string_view bytes, const ObjectMeta& meta) = 0;
  virtual ListPage list(std::string_view bucket, const ListQuery& query) const = 0;
};

}  // namespace fakegcp
