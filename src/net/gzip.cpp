#include "kettle/net/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>

namespace kettle::net {
namespace {

// Owns a z_stream set up for gzip or zlib input (window bits 15 + 32: auto-detect).
class Inflater {
 public:
  Inflater() { ok_ = inflateInit2(&stream_, 15 + 32) == Z_OK; }
  ~Inflater() {
    if (ok_) inflateEnd(&stream_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  bool ok() const { return ok_; }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

}  // namespace

GunzipStatus gunzip(std::string_view compressed, std::size_t limit, std::string& out) {
  out.clear();
  Inflater inflater;
  if (!inflater.ok()) return GunzipStatus::corrupt;
  z_stream& zs = inflater.stream();
  std::array<unsigned char, 64 * 1024> chunk{};
  std::string_view input = compressed;
  while (true) {
    if (zs.avail_in == 0 && !input.empty()) {
      // zlib counts in uInt; feed huge inputs in pieces.
      std::size_t piece = std::min<std::size_t>(input.size(), UINT_MAX);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
      zs.avail_in = static_cast<uInt>(piece);
      input.remove_prefix(piece);
    }
    zs.next_out = chunk.data();
    zs.avail_out = static_cast<uInt>(chunk.size());
    int rc = inflate(&zs, Z_NO_FLUSH);
    std::size_t produced = chunk.size() - zs.avail_out;
    if (out.size() + produced > limit) return GunzipStatus::too_large;
    out.append(reinterpret_cast<const char*>(chunk.data()), produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0 && input.empty()) return GunzipStatus::ok;
      // Another gzip member follows (concatenated gzip files are valid gzip).
      if (inflateReset(&zs) != Z_OK) return GunzipStatus::corrupt;
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && input.empty()) {
      return GunzipStatus::corrupt;  // input ended inside a member: truncated
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return GunzipStatus::corrupt;
  }
}

}  // namespace kettle::net
