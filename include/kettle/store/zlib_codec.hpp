// zlib (RFC 1950) streams as stored in file.data (SPEC §4).
#pragma once

#include <zlib.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kettle::store {

inline constexpr size_t kMaxInflatedBytes = size_t{1} << 31;

std::string zlib_compress(std::string_view data, int level = 6);

// Inflates stream after stream into one buffer and one zlib state, both
// kept between calls: a row worker inflates thousands of small files, and a
// fresh state and zero-filled buffer per file cost as much as the inflating.
// One per thread.
class Inflater {
 public:
  // A buffer that grew beyond this is given back before the next stream, so
  // one huge file does not stay resident.
  static constexpr size_t kKeptBufferBytes = size_t{16} << 20;

  Inflater();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // The inflated bytes, valid until the next call; nullopt when `data` is not
  // a complete zlib stream or inflates beyond max_size. Bytes after the end
  // of the stream are ignored, as Python's zlib.decompress does.
  std::optional<std::string_view> inflate(std::string_view data, size_t max_size = kMaxInflatedBytes);

 private:
  z_stream z_{};
  bool ready_ = false;  // inflateInit succeeded
  std::string buffer_;  // its size only grows (up to kKeptBufferBytes): never zero-filled twice
};

// One stream, into a string of its own (see Inflater::inflate).
std::optional<std::string> zlib_decompress(std::string_view data, size_t max_size = kMaxInflatedBytes);

}  // namespace kettle::store
