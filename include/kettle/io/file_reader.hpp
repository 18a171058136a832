// Reads a file at given offsets from a coroutine without blocking the event
// loop: through an io_uring of its own whose completions wake the loop (an
// eventfd the loop watches), or with pread on a thread pool.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "kettle/io/uring_probe.hpp"

namespace kettle::io {

class FileReader {
 public:
  // Opens `path`. io_uring: reads complete on `loop` (a ring that cannot be
  // set up falls back to syscalls, with a warning). syscalls: pread runs on
  // `blocking` (a cold disk must not stall every request on the loop), or
  // on the loop when unset. Throws std::system_error naming the path.
  FileReader(std::string path, Backend backend, boost::asio::any_io_executor loop,
             std::optional<boost::asio::any_io_executor> blocking);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  // Fills `buffer` from byte `offset`: the count read is buffer.size(), or
  // less only at the end of the file. One read at a time. Not cancellable:
  // the kernel writes into `buffer` until the read ends (a disk read is
  // short), so `buffer` must outlive the call. Run on the loop.
  boost::asio::awaitable<boost::system::result<std::size_t>> read_at(std::uint64_t offset,
                                                                     std::span<char> buffer);

  Backend backend() const;
  const std::string& path() const { return path_; }

 private:
  class Ring;
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<Ring> ring_;  // null: syscalls
  std::optional<boost::asio::any_io_executor> blocking_;
};

}  // namespace kettle::io
