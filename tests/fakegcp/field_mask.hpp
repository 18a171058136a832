// The `fields` partial-response parameter of Google JSON APIs, e.g.
// "nextPageToken,prefixes,items(name,size)" or "items/name".
#pragma once

#include <boost/json/fwd.hpp>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fakegcp {

class FieldMask {
 public:
  // nullopt when the expression does not parse: callers then answer in full,
  // which every client can read.
  static std::optional<FieldMask> parse(std::string_view expression);

  // Keeps only selected keys of objects (recursively; arrays apply the mask
  // to each element).
  void apply(boost::json::value& v) const;

  // The selection below `key`: nullptr when the key is not selected; a mask
  // selecting everything when the key was named without a sub-selection.
  const FieldMask* child(std::string_view key) const;
  // True when the whole value is selected (no sub-selection).
  bool selects_all() const { return all_; }
  // True when only keys from `keys` can be selected (lets a listing skip stat calls).
  bool selects_only(std::initializer_list<std::string_view> keys) const;

 private:
  bool all_ = true;  // an empty selection means "everything below"
  std::map<std::string, FieldMask, std::less<>> children_;

  friend class FieldMaskParser;
  void merge(FieldMask other);
};

}  // namespace fakegcp
