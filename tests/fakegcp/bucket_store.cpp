#include "bucket_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace fakegcp {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxObjectName = 1024;
constexpr std::size_t kMaxBucketName = 222;

// Every '/'-separated segment is a real file name (not empty, ".", "..").
bool segments_storable(std::string_view path) {
  while (true) {
    auto slash = path.find('/');
    std::string_view segment = path.substr(0, slash);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

std::optional<ObjectStat> stat_file(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  ObjectStat out;
  out.size = static_cast<std::uint64_t>(st.st_size);
  out.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return out;
}

std::optional<std::string> slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return std::move(s).str();
}

// Writes then renames, so readers (the fake itself, tests) never see half a file.
std::optional<std::string> write_atomically(const fs::path& tmp_dir, const fs::path& target,
                                            std::string_view bytes) {
  static std::atomic<std::uint64_t> counter{0};
  std::error_code ec;
  fs::create_directories(tmp_dir, ec);
  fs::create_directories(target.parent_path(), ec);
  if (ec) return "cannot create directory " + target.parent_path().string() + ": " + ec.message();
  if (fs::is_directory(target, ec))
    return "object name collides with a directory of the fake's layout";
  fs::path tmp =
      tmp_dir / ("upload-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return "cannot write " + tmp.string();
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return "cannot rename upload into " + target.string();
  }
  return std::nullopt;
}

bool contains_file(const fs::path& dir) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) return true;
  return false;
}

// A bucket directory as an ObjectTree: a directory's children are read and
// sorted each time (nothing is cached: files change while the fake runs).
class FileTree : public ObjectTree {
 public:
  explicit FileTree(fs::path bucket_dir) : bucket_dir_(std::move(bucket_dir)) {}

  void children(const std::string& dir, std::string_view from, const Visit& visit) const override {
    if (!dir.empty() && !segments_storable(std::string_view(dir).substr(0, dir.size() - 1))) return;
    struct Child {
      std::string key;
      bool is_dir;
    };
    std::vector<Child> found;
    std::error_code ec;
    for (fs::directory_iterator it(bucket_dir_ / dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::error_code type_ec;
      bool is_dir = it->is_directory(type_ec);
      if (!is_dir && !it->is_regular_file(type_ec)) continue;
      std::string key = dir + it->path().filename().string();
      if (is_dir) key += '/';
      if (!all_below(key, from)) found.push_back({std::move(key), is_dir});
    }
    std::sort(found.begin(), found.end(),
              [](const Child& a, const Child& b) { return a.key < b.key; });
    for (const Child& c : found)
      if (!visit(c.key, c.is_dir)) return;
  }

  bool has_objects(const std::string& dir) const override {
    return contains_file(bucket_dir_ / dir);
  }

 private:
  fs::path bucket_dir_;
};

}  // namespace

bool valid_bucket_name(std::string_view bucket) {
  return !bucket.empty() && bucket.size() <= kMaxBucketName && bucket.front() != '.' &&
         bucket.find('/') == std::string_view::npos && bucket.find('\0') == std::string_view::npos;
}

bool valid_object_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxObjectName) return false;
  if (name.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) return false;
  return segments_storable(name);
}

fs::path BucketStore::object_path(std::string_view bucket, std::string_view name) const {
  return root_ / std::string(bucket) / std::string(name);
}

fs::path BucketStore::meta_path(std::string_view bucket, std::string_view name) const {
  return root_ / ".meta" / std::string(bucket) / (std::string(name) + ".json");
}

bool BucketStore::bucket_exists(std::string_view bucket) const {
  std::error_code ec;
  return !root_.empty() && valid_bucket_name(bucket) &&
         fs::is_directory(root_ / std::string(bucket), ec);
}

std::optional<ObjectStat> BucketStore::stat(std::string_view bucket, std::string_view name) const {
  return stat_file(object_path(bucket, name));
}

ObjectMeta BucketStore::meta(std::string_view bucket, std::string_view name) const {
  ObjectMeta meta;
  auto text = slurp(meta_path(bucket, name));
  if (!text) return meta;
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(*text, ec);
  if (ec || !doc.is_object()) return meta;  // a broken sidecar means "no metadata"
  for (auto& [key, value] : doc.as_object()) {
    if (key == "contentType" && value.is_string())
      meta.content_type = value.as_string();
    else if (key == "contentEncoding" && value.is_string())
      meta.content_encoding = value.as_string();
    else
      meta.extra.emplace(key, value);
  }
  return meta;
}

std::optional<std::string> BucketStore::read(std::string_view bucket, std::string_view name,
                                             ObjectStat& stat) const {
  fs::path path = object_path(bucket, name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::string> out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (got < bytes.size()) {
      ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (n <= 0) break;  // shrank while reading: serve what is there
      got += static_cast<std::size_t>(n);
    }
    bytes.resize(got);
    stat.size = got;
    stat.mtime_ns =
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    out = std::move(bytes);
  }
  ::close(fd);
  return out;
}

std::optional<std::string> BucketStore::write(std::string_view bucket, std::string_view name,
                                              std::string_view bytes, const ObjectMeta& meta) {
  fs::path tmp_dir = root_ / ".tmp";
  if (auto error = write_atomically(tmp_dir, object_path(bucket, name), bytes)) return error;
  fs::path sidecar = meta_path(bucket, name);
  if (meta.empty()) {
    std::error_code ec;
    fs::remove(sidecar, ec);
    return std::nullopt;
  }
  boost::json::object doc = meta.extra;
  if (!meta.content_type.empty()) doc["contentType"] = meta.content_type;
  if (!meta.content_encoding.empty()) doc["contentEncoding"] = meta.content_encoding;
  return write_atomically(tmp_dir, sidecar, boost::json::serialize(doc));
}

ListPage BucketStore::list(std::string_view bucket, const ListQuery& query) const {
  return list_tree(FileTree(root_ / std::string(bucket)), query);
}

}  // namespace fakegcp
