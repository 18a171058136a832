#include "object_store.hpp"

#include <algorithm>

namespace fakegcp {
namespace {

// Sorted depth-first walk: children come in key order, where directories
// carry a trailing '/', which yields names in byte order (GCS order) overall.
class ListingWalk {
 public:
  ListingWalk(const ObjectTree& tree, const ListQuery& q)
      : tree_(tree), q_(q), wanted_(q.max_results + 1) {
    // Nothing below the prefix, the start offset or the page token can be listed.
    from_ = std::max<std::string_view>(q.prefix, q.start_offset);
    if (q.after) from_ = std::max<std::string_view>(from_, *q.after);
  }

  void walk(const std::string& dir_key) {
    tree_.children(dir_key, from_, [this](const std::string& key, bool is_dir) {
      if (full() || past_end(key)) {
        stopped_ = true;
        return false;
      }
      if (!relevant(key, is_dir)) return true;
      if (!is_dir) {
        add_object(key);
      } else if (q_.delimiter == "/" && key.size() > q_.prefix.size() &&
                 key.starts_with(q_.prefix)) {
        add_directory_prefix(key);  // rolls up without reading the subtree
      } else {
        walk(key);
      }
      return !stopped_;
    });
  }

  ListPage finish() {
    ListPage page;
    if (entries_.size() > q_.max_results) {
      entries_.resize(q_.max_results);
      page.last = entries_.back().name;
    }
    for (auto& e : entries_)
      (e.is_prefix ? page.prefixes : page.items).push_back(std::move(e.name));
    return page;
  }

 private:
  struct Entry {
    std::string name;
    bool is_prefix;
  };

  bool full() const { return entries_.size() >= wanted_; }

  // Children come in order: once one lies beyond the end offset or past the
  // names the prefix allows, so does everything after it.
  bool past_end(const std::string& key) const {
    if (!q_.end_offset.empty() && key >= q_.end_offset) return true;
    return key > q_.prefix && !key.starts_with(q_.prefix) && !q_.prefix.starts_with(key);
  }

  bool relevant(const std::string& key, bool is_dir) const {
    if (is_dir) {
      if (!key.starts_with(q_.prefix) && !q_.prefix.starts_with(key)) return false;
      if (q_.after && all_below(key, *q_.after)) return false;
      if (all_below(key, q_.start_offset)) return false;
    } else {
      if (!key.starts_with(q_.prefix)) return false;
      if (key < q_.start_offset) return false;
    }
    return true;
  }

  void add_object(const std::string& name) {
    if (!q_.delimiter.empty()) {
      auto pos = name.find(q_.delimiter, q_.prefix.size());
      if (pos != std::string::npos) {
        add_prefix(name.substr(0, pos + q_.delimiter.size()));
        return;
      }
    }
    if (q_.after && name <= *q_.after) return;
    entries_.push_back({name, false});
  }

  void add_directory_prefix(const std::string& key) {
    if (q_.after && key <= *q_.after) return;
    // A prefix stands for the names in range below it: when an offset cuts
    // through the directory, some of them must lie on the right side.
    bool cut = (q_.start_offset > key && q_.start_offset.starts_with(key)) ||
               q_.end_offset.starts_with(key);
    if (cut ? !any_in_range(key) : !tree_.has_objects(key)) return;
    add_prefix(key);
  }

  // True when an object below `dir` lies within [start_offset, end_offset).
  bool any_in_range(const std::string& dir) const {
    bool found = false;
    tree_.children(dir, q_.start_offset, [&](const std::string& key, bool is_dir) {
      if (!q_.end_offset.empty() && key >= q_.end_offset) return false;
      if (all_below(key, q_.start_offset)) return true;
      found = is_dir ? any_in_range(key) : key >= q_.start_offset;
      return !found;
    });
    return found;
  }

  void add_prefix(std::string prefix) {
    if (q_.after && prefix <= *q_.after) return;
    // Names under one prefix are contiguous in order: comparing with the last
    // entry is enough to de-duplicate.
    if (!entries_.empty() && entries_.back().is_prefix && entries_.back().name == prefix) return;
    entries_.push_back({std::move(prefix), true});
  }

  const ObjectTree& tree_;
  const ListQuery& q_;
  std::string_view from_;
  std::size_t wanted_;  // one more than a page, to know whether another follows
  bool stopped_ = false;
  std::vector<Entry> entries_;
};

}  // namespace

ListPage list_tree(const ObjectTree& tree, const ListQuery& query) {
  // Start in the deepest directory the prefix names; nothing above can match.
  ListingWalk walk(tree, query);
  walk.walk(query.prefix.substr(0, query.prefix.rfind('/') + 1));
  return walk.finish();
}

}  // namespace fakegcp
