#include "kettle/net/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>

namespace kettle::net {

// A z_stream set up for gzip or zlib input (window bits 15 + 32: auto-detect).
struct GzipDecoder::Impl {
  explicit Impl(std::string_view compressed) : input(compressed) {
    ok = inflateInit2(&stream, 15 + 32) == Z_OK;
  }
  ~Impl() {
    if (ok) inflateEnd(&stream);
  }
  z_stream stream{};
  bool ok = false;
  std::string_view input;  // not yet handed to zlib
  std::array<unsigned char, 64 * 1024> chunk{};
};

GzipDecoder::GzipDecoder(std::string_view compressed) : impl_(std::make_unique<Impl>(compressed)) {}
GzipDecoder::~GzipDecoder() = default;

GzipDecoder::Status GzipDecoder::decode(std::string& out, std::size_t until) {
  if (!impl_->ok) return Status::corrupt;
  z_stream& zs = impl_->stream;
  std::string_view& input = impl_->input;
  while (true) {
    if (zs.avail_in == 0 && !input.empty()) {
      // zlib counts in uInt; feed huge inputs in pieces.
      std::size_t piece = std::min<std::size_t>(input.size(), UINT_MAX);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
      zs.avail_in = static_cast<uInt>(piece);
      input.remove_prefix(piece);
    }
    if (out.size() >= until) return Status::more;
    zs.next_out = impl_->chunk.data();
    zs.avail_out = static_cast<uInt>(std::min(impl_->chunk.size(), until - out.size()));
    const std::size_t room = zs.avail_out;
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.append(reinterpret_cast<const char*>(impl_->chunk.data()), room - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0 && input.empty()) return Status::done;
      // Another gzip member follows (concatenated gzip files are valid gzip).
      if (inflateReset(&zs) != Z_OK) return Status::corrupt;
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && input.empty()) {
      return Status::corrupt;  // input ended inside a member: truncated
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return Status::corrupt;
  }
}

GunzipStatus gunzip(std::string_view compressed, std::size_t limit, std::string& out) {
  out.clear();
  GzipDecoder decoder(compressed);
  // One byte past the limit tells "exactly at the limit" from "over it".
  const std::size_t until = limit == SIZE_MAX ? limit : limit + 1;
  const GzipDecoder::Status status = decoder.decode(out, until);
  if (out.size() > limit) return GunzipStatus::too_large;
  return status == GzipDecoder::Status::done ? GunzipStatus::ok : GunzipStatus::corrupt;
}

}  // namespace kettle::net
