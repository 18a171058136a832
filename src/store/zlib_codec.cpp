#include "kettle/store/zlib_codec.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace kettle::store {
namespace {

// zlib counts in uInt; larger buffers are fed in slices of this size.
constexpr size_t kMaxSlice = std::numeric_limits<uInt>::max();
// Output grows by this much per inflate round, so a tiny bomb cannot reserve
// memory up front.
constexpr size_t kInflateChunk = size_t{64} << 10;

// Hands zlib the next slice of `data`, starting at `offset`.
void feed(z_stream& z, std::string_view data, size_t& offset) {
  size_t n = std::min(data.size() - offset, kMaxSlice);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
  z.avail_in = static_cast<uInt>(n);
  offset += n;
}

// Frees the deflate state on every path out.
struct DeflateGuard {
  z_stream& z;
  ~DeflateGuard() { deflateEnd(&z); }
};

}  // namespace

std::string zlib_compress(std::string_view data, int level) {
  if (level < Z_DEFAULT_COMPRESSION || level > Z_BEST_COMPRESSION) {
    throw std::invalid_argument("zlib level must be -1..9, not " + std::to_string(level));
  }
  z_stream z{};
  if (deflateInit(&z, level) != Z_OK) throw std::runtime_error("zlib deflateInit failed");
  DeflateGuard guard{z};

  std::string out;
  // Start small and double: JUnit XML shrinks about tenfold, so sizing for the
  // worst case (deflateBound, a bit over the input) would hold a second copy
  // of a large file for nothing.
  const size_t bound = deflateBound(&z, static_cast<uLong>(std::min(data.size(), kMaxSlice))) + 16;
  out.resize(std::min(bound, kInflateChunk + data.size() / 8));
  size_t offset = 0;
  size_t produced = 0;
  feed(z, data, offset);
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    size_t room = std::min(out.size() - produced, kMaxSlice);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(room);
    if (z.avail_in == 0 && offset < data.size()) feed(z, data, offset);
    int flush = offset < data.size() ? Z_NO_FLUSH : Z_FINISH;
    int rc = deflate(&z, flush);
    produced += room - z.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("zlib deflate failed");
  }
  out.resize(produced);
  out.shrink_to_fit();  // the blob is kept queued for the writer: no slack
  return out;
}

Inflater::Inflater() { ready_ = inflateInit(&z_) == Z_OK; }

Inflater::~Inflater() {
  if (ready_) inflateEnd(&z_);
}

std::optional<std::string_view> Inflater::inflate(std::string_view data, size_t max_size) {
  if (!ready_ || inflateReset(&z_) != Z_OK) return std::nullopt;
  if (buffer_.size() > kKeptBufferBytes) std::string().swap(buffer_);
  // One byte beyond max_size is enough to detect an oversized stream.
  const size_t limit = max_size == std::numeric_limits<size_t>::max() ? max_size : max_size + 1;
  size_t offset = 0;
  size_t produced = 0;
  feed(z_, data, offset);
  for (;;) {
    if (produced == buffer_.size()) {
      if (produced > max_size) return std::nullopt;
      // Grows by doubling from a small start, so a tiny bomb cannot reserve
      // memory up front.
      const size_t grow = std::min(std::max(kInflateChunk, buffer_.size()), limit - buffer_.size());
      if (grow == 0) return std::nullopt;
      buffer_.resize(buffer_.size() + grow);
    }
    const size_t room = std::min(std::min(buffer_.size(), limit) - produced, kMaxSlice);
    z_.next_out = reinterpret_cast<Bytef*>(buffer_.data() + produced);
    z_.avail_out = static_cast<uInt>(room);
    if (z_.avail_in == 0 && offset < data.size()) feed(z_, data, offset);
    const int rc = ::inflate(&z_, Z_NO_FLUSH);
    produced += room - z_.avail_out;
    if (produced > max_size) return std::nullopt;
    if (rc == Z_STREAM_END) break;  // bytes after the stream are ignored
    if (rc == Z_BUF_ERROR && z_.avail_in == 0 && offset == data.size() && z_.avail_out != 0) {
      return std::nullopt;  // input ended before the stream did: truncated
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) return std::nullopt;  // data error, dictionary, memory
  }
  return std::string_view(buffer_.data(), produced);
}

std::optional<std::string> zlib_decompress(std::string_view data, size_t max_size) {
  Inflater inflater;
  auto text = inflater.inflate(data, max_size);
  if (!text) return std::nullopt;
  return std::string(*text);
}

}  // namespace kettle::store
