#include "field_mask.hpp"

#include <algorithm>
#include <boost/json/value.hpp>
#include <cctype>

namespace fakegcp {

// Recursive descent over:  list := sel (',' sel)* ;  sel := name ('/' name)* ['(' list ')']
class FieldMaskParser {
 public:
  explicit FieldMaskParser(std::string_view text) : text_(text) {}

  std::optional<FieldMask> parse_all() {
    auto mask = list();
    skip_space();
    if (!mask || pos_ != text_.size()) return std::nullopt;
    return mask;
  }

 private:
  std::optional<FieldMask> list() {
    FieldMask mask;
    mask.all_ = false;
    do {
      auto sel = selection();
      if (!sel) return std::nullopt;
      mask.merge(std::move(*sel));
    } while (eat(','));
    return mask;
  }

  // One selection as a mask with a single chain of children.
  std::optional<FieldMask> selection() {
    std::vector<std::string> path;
    do {
      auto n = name();
      if (n.empty()) return std::nullopt;
      path.push_back(std::move(n));
    } while (eat('/'));
    FieldMask leaf;  // selects everything unless a sub-list follows
    if (eat('(')) {
      auto sub = list();
      if (!sub || !eat(')')) return std::nullopt;
      leaf = std::move(*sub);
    }
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      FieldMask parent;
      parent.all_ = false;
      parent.children_.emplace(*it, std::move(leaf));
      leaf = std::move(parent);
    }
    return leaf;
  }

  std::string name() {
    skip_space();
    std::size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) ||
                                   text_[pos_] == '_' || text_[pos_] == '*'))
      ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  bool eat(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void skip_space() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

std::optional<FieldMask> FieldMask::parse(std::string_view expression) {
  return FieldMaskParser(expression).parse_all();
}

void FieldMask::merge(FieldMask other) {
  if (all_) return;
  if (other.all_) {
    all_ = true;
    children_.clear();
    return;
  }
  for (auto& [key, sub] : other.children_) {
    auto it = children_.find(key);
    if (it == children_.end())
      children_.emplace(key, std::move(sub));
    else
      it->second.merge(std::move(sub));
  }
}

const FieldMask* FieldMask::child(std::string_view key) const {
  static const FieldMask kEverything;
  if (all_) return &kEverything;
  if (auto star = children_.find("*"); star != children_.end()) return &star->second;
  auto it = children_.find(key);
  return it == children_.end() ? nullptr : &it->second;
}

bool FieldMask::selects_only(std::initializer_list<std::string_view> keys) const {
  if (all_) return false;
  for (const auto& [key, sub] : children_) {
    (void)sub;
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) return false;
  }
  return true;
}

void FieldMask::apply(boost::json::value& v) const {
  if (all_) return;
  if (v.is_array()) {
    for (auto& element : v.as_array()) apply(element);
    return;
  }
  if (!v.is_object()) return;
  // Rebuilt rather than erased in place: keeps key order and avoids O(n^2) moves.
  boost::json::object kept(v.storage());
  for (auto& entry : v.as_object()) {
    const FieldMask* sub = child(entry.key());
    if (!sub) continue;
    sub->apply(entry.value());
    kept.emplace(entry.key(), std::move(entry.value()));
  }
  v = std::move(kept);
}

}  // namespace fakegcp
