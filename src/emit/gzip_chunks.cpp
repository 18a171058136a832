#include "kettle/emit/gzip_chunks.hpp"

#include <zlib.h>

#include <deque>
#include <future>
#include <memory>

namespace kettle::emit {
namespace {

// One deflate state per thread, reset between chunks (initialising one costs
// far more than compressing a typical row).
class ThreadDeflater {
 public:
  explicit ThreadDeflater(int level) : level_(level) {
    // Negative window bits: raw deflate, no zlib or gzip wrapper.
    if (deflateInit2(&z_, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw OutputError("cannot initialise deflate");
  }
  ~ThreadDeflater() { deflateEnd(&z_); }
  int level() const { return level_; }

  std::string compress(std::string_view text) {
    deflateReset(&z_);
    std::string out;
    out.resize(deflateBound(&z_, static_cast<uLong>(text.size())) + 16);
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z_.avail_in = static_cast<uInt>(text.size());
    size_t produced = 0;
    for (;;) {
      z_.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      z_.avail_out = static_cast<uInt>(out.size() - produced);
      // A sync flush ends on a byte boundary with a non-final block: chunks
      // from separate streams can follow one another.
      int rc = deflate(&z_, Z_SYNC_FLUSH);
      if (rc == Z_STREAM_ERROR) throw OutputError("deflate failed");
      produced = out.size() - z_.avail_out;
      if (z_.avail_in == 0 && z_.avail_out != 0) break;
      out.resize(out.size() * 2);
    }
    out.resize(produced);
    return out;
  }

 private:
  int level_;
  z_stream z_{};
};

}  // namespace

DeflatedChunk deflate_chunk(std::string_view text, int level) {
  thread_local std::unique_ptr<ThreadDeflater> deflater;
  if (!deflater || deflater->level() != level) deflater = std::make_unique<ThreadDeflater>(level);
  DeflatedChunk chunk;
  chunk.data = deflater->compress(text);
  chunk.crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
  chunk.size = text.size();
  return chunk;
}

GzipAssembler::GzipAssembler(OutputSink& out) : out_(out), crc_(static_cast<uint32_t>(crc32(0L, Z_NULL, 0))) {
  // Magic, CM=deflate, no flags, no mtime, no extra flags, OS=unix.
  static const char header[10] = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, 3};
  out_.write(std::string_view(header, sizeof header));
}

void GzipAssembler::add(const DeflatedChunk& chunk) {
  out_.write(chunk.data);
  crc_ = static_cast<uint32_t>(crc32_combine(crc_, chunk.crc, static_cast<z_off_t>(chunk.size)));
  size_ += chunk.size;
}

void GzipAssembler::finish() {
  // An empty final block with fixed Huffman codes: bits 1 (BFINAL), 01 (fixed), 0000000 (end).
  static const char final_block[2] = {'\x03', '\x00'};
  out_.write(std::string_view(final_block, 2));
  char trailer[8];
  for (int i = 0; i < 4; ++i) trailer[i] = static_cast<char>((crc_ >> (8 * i)) & 0xff);
  auto isize = static_cast<uint32_t>(size_ & 0xffffffffu);
  for (int i = 0; i < 4; ++i) trailer[4 + i] = static_cast<char>((isize >> (8 * i)) & 0xff);
  out_.write(std::string_view(trailer, 8));
  out_.finish();
}

namespace {

class ParallelGzipSink final : public OutputSink {
 public:
  ParallelGzipSink(std::unique_ptr<OutputSink> inner, int level, size_t batch_bytes, size_t threads)
      : inner_(std::move(inner)), gzip_(*inner_), level_(level), batch_bytes_(batch_bytes),
        max_pending_(std::max<size_t>(1, threads)) {
    batch_.reserve(batch_bytes_);
  }
  ~ParallelGzipSink() override {
    for (auto& f : pending_) f.wait();  // never leave a thread behind
  }
  void write(std::string_view data) override {
    bytes_ += data.size();
    batch_.append(data);
    if (batch_.size() >= batch_bytes_) submit();
  }
  void finish() override {
    if (!batch_.empty()) submit();
    while (!pending_.empty()) take_oldest();
    gzip_.finish();
  }
  uint64_t bytes_written() const override { return bytes_; }

 private:
  void submit() {
    pending_.push_back(std::async(std::launch::async, [text = std::move(batch_), level = level_] {
      return deflate_chunk(text, level);
    }));
    batch_ = std::string();
    batch_.reserve(batch_bytes_);
    while (pending_.size() > max_pending_) take_oldest();
  }
  void take_oldest() {
    DeflatedChunk chunk = pending_.front().get();  // rethrows a compression failure
    pending_.pop_front();
    gzip_.add(chunk);
  }

  std::unique_ptr<OutputSink> inner_;
  GzipAssembler gzip_;
  int level_;
  size_t batch_bytes_;
  size_t max_pending_;
  std::string batch_;
  std::deque<std::future<DeflatedChunk>> pending_;
  uint64_t bytes_ = 0;
};

}  // namespace

std::unique_ptr<OutputSink> make_gzip_sink(std::unique_ptr<OutputSink> inner, int level, size_t batch_bytes,
                                           size_t threads) {
  return std::make_unique<ParallelGzipSink>(std::move(inner), level, batch_bytes, threads);
}

}  // namespace kettle::emit
