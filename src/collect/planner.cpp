#include "kettle/collect/planner.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <openssl/sha.h>

namespace kettle::collect {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string_view last_segment(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string natural_sort_key(std::string_view name) {
  std::string key;
  key.reserve(name.size() + 16);
  size_t i = 0;
  while (i < name.size()) {
    if (std::isdigit(static_cast<unsigned char>(name[i]))) {
      size_t j = i;
      while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
      size_t len = j - i;
      if (len < 16) key.append(16 - len, '0');
      key.append(name.substr(i, len));
      i = j;
    } else {
      key.push_back(name[i++]);
    }
  }
  return key;
}

std::optional<int64_t> parse_latest_build(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

std::optional<PointerName> parse_pointer_name(std::string_view object_name) {
  std::string_view file = last_segment(object_name);
  if (file.size() <= 4 || file.substr(file.size() - 4) != ".txt" || file == "latest-build.txt") return std::nullopt;
  std::string_view dir = object_name.substr(0, object_name.size() - file.size());
  if (dir.empty()) return std::nullopt;
  dir.remove_suffix(1);  // the '/'
  std::string_view job = last_segment(dir);
  if (job.empty()) return std::nullopt;
  return PointerName{std::string(job), std::string(file.substr(0, file.size() - 4))};
}

std::optional<std::string> parse_pointer_target(std::string_view content) {
  content = trim(content);
  while (!content.empty() && content.back() == '/') content.remove_suffix(1);
  if (content.size() <= 5 || content.substr(0, 5) != "gs://") return std::nullopt;
  return std::string(content);
}

bool is_junit_artifact(std::string_view artifacts_prefix, std::string_view object_name) {
  if (object_name.substr(0, artifacts_prefix.size()) != artifacts_prefix) return false;
  std::string_view file = object_name.substr(artifacts_prefix.size());
  if (file.find('/') != std::string_view::npos) return false;  // no recursion
  // The whole name matches junit.*\.xml: "junit", then anything but a line
  // break (what the regex's '.' takes), then ".xml". A fixed pattern, so a
  // plain check: no regex engine for every listed artifact.
  constexpr std::string_view kHead = "junit", kTail = ".xml";
  if (file.size() < kHead.size() + kTail.size()) return false;
  if (!file.starts_with(kHead) || !file.ends_with(kTail)) return false;
  std::string_view middle = file.substr(kHead.size(), file.size() - kHead.size() - kTail.size());
  return middle.find_first_of("\n\r") == std::string_view::npos;
}

Candidates sequential_candidates(int64_t latest, int64_t limit) {
  Candidates c;
  c.precise = false;
  c.latest = latest;
  c.count = limit > 0 ? std::min(latest, limit) : latest;
  return c;
}

Candidates listed_candidates(std::vector<std::string> names, int64_t limit) {
  std::vector<std::pair<std::string, std::string>> keyed;
  keyed.reserve(names.size());
  for (auto& n : names) keyed.emplace_back(natural_sort_key(n), std::move(n));
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  Candidates c;
  c.precise = true;
  size_t count = limit > 0 ? std::min<size_t>(keyed.size(), static_cast<size_t>(limit)) : keyed.size();
  for (size_t i = 0; i < count; ++i) c.listed.push_back(std::move(keyed[i].second));
  return c;
}

std::optional<std::string> CandidateWalker::next(const std::function<bool(const std::string& build)>& is_present) {
  while (!done_ && index_ < candidates_.size()) {
    std::string build = candidates_.at(index_++);
    if (!is_present(build)) return build;
    if (!candidates_.precise && ++present_ > kMaxPresentInImpreciseList) done_ = true;
  }
  done_ = true;
  return std::nullopt;
}

BuildKeySet::Key BuildKeySet::key_of(std::string_view job, std::string_view build) {
  // job and build joined by '/', which neither holds (they are path segments).
  std::string text;
  text.reserve(job.size() + 1 + build.size());
  text.append(job).append(1, '/').append(build);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  Key key;
  std::memcpy(&key.hi, digest, 8);
  std::memcpy(&key.lo, digest + 8, 8);
  return key;
}

void BuildKeySet::add_path(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return;
  std::string_view build = path.substr(slash + 1);
  std::string_view rest = path.substr(0, slash);
  auto job_slash = rest.rfind('/');
  std::string_view job = job_slash == std::string_view::npos ? rest : rest.substr(job_slash + 1);
  keys_.push_back(key_of(job, build));
}

void BuildKeySet::seal() {
  std::sort(keys_.begin(), keys_.end());
  keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
  keys_.shrink_to_fit();
}

bool BuildKeySet::contains(std::string_view job, std::string_view build) const {
  return std::binary_search(keys_.begin(), keys_.end(), key_of(job, build));
}

}  // namespace kettle::collect
