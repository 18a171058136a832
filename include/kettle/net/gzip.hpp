// Decoding of gzip (and zlib) Content-Encoding, bounded in output size.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace kettle::net {

enum class GunzipStatus { ok, too_large, corrupt };

// Inflates `compressed` (gzip or zlib framing, concatenated gzip members
// allowed) into `out`; stops with too_large once the output would exceed
// `limit` bytes, corrupt on bad or truncated data.
GunzipStatus gunzip(std::string_view compressed, std::size_t limit, std::string& out);

// The same, a piece at a time, so the caller can make room (or wait for
// memory) between pieces. `compressed` must outlive the decoder.
class GzipDecoder {
 public:
  enum class Status { done, more, corrupt };

  explicit GzipDecoder(std::string_view compressed);
  ~GzipDecoder();
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  // Appends decoded bytes to `out` until the data ends (done), `out` holds
  // `until` bytes (more), or the data proves bad or truncated (corrupt).
  Status decode(std::string& out, std::size_t until);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kettle::net
