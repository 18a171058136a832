// Where NDJSON goes: stdout or a file (io_uring when the kernel allows it,
// else plain writes). gzip is assembled on top (gzip_chunks.hpp).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "kettle/io/uring_probe.hpp"

namespace kettle::emit {

// An output failure, naming the file and the OS error.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // Appends bytes (buffered). Throws OutputError.
  virtual void write(std::string_view data) = 0;
  // Flushes everything and makes the output final (a file appears under its
  // name only now). Without finish(), a file output is discarded.
  virtual void finish() = 0;
  // Bytes accepted by write() so far.
  virtual uint64_t bytes_written() const = 0;
};

// io_uring or plain writes: io::backend_for("ndjson_write") decides.
using FileBackend = io::Backend;

std::unique_ptr<OutputSink> open_stdout_sink();
// Writes `path` + ".tmp" and renames it to `path` on finish(). The temp file
// is locked while written: a second sink on the same path throws OutputError
// (two runs never mix their output), and a temp file left by a killed run is
// discarded, with a warning naming its size.
std::unique_ptr<OutputSink> open_file_sink(const std::string& path, FileBackend backend);

}  // namespace kettle::emit
