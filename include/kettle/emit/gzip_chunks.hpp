// Parallel gzip: the text is cut into batches deflated independently on
// other threads (raw deflate ending in a sync flush, so the pieces concatenate
// into one valid stream) and joined in order under one gzip header/trailer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "kettle/emit/file_sink.hpp"

namespace kettle::emit {

struct DeflatedChunk {
  std::string data;   // raw deflate blocks, byte-aligned, not final
  uint32_t crc = 0;   // crc32 of the uncompressed text
  uint64_t size = 0;  // uncompressed bytes
};

// Compresses `text` (thread-safe: one reusable deflate state per thread).
DeflatedChunk deflate_chunk(std::string_view text, int level = 6);

// Writes a gzip member (RFC 1952) made of chunks, in the order added.
class GzipAssembler {
 public:
  explicit GzipAssembler(OutputSink& out);
  void add(const DeflatedChunk& chunk);
  // The final empty block and the trailer (CRC-32, size mod 2^32); then out.finish().
  void finish();
  uint64_t uncompressed_bytes() const { return size_; }

 private:
  OutputSink& out_;
  uint32_t crc_;
  uint64_t size_ = 0;
};

// gzip (RFC 1952) over another sink, compressing batches of `batch_bytes` on
// up to `threads` threads while the caller keeps writing.
std::unique_ptr<OutputSink> make_gzip_sink(std::unique_ptr<OutputSink> inner, int level = 6,
                                           size_t batch_bytes = size_t{1} << 20, size_t threads = 2);

}  // namespace kettle::emit
