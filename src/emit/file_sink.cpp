#include "kettle/emit/file_sink.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#if KETTLE_HAVE_LIBURING
#include <liburing.h>
#endif

#include "kettle/obs/log.hpp"

namespace kettle::emit {
namespace {

// Output is staged in buffers of this size; a buffer is one write request.
constexpr size_t kBufferSize = size_t{1} << 20;

std::string os_error(const std::string& what, const std::string& path, int err) {
  return what + " " + path + ": " + std::strerror(err);
}

// Writes all of `data` at `fd` (current position for stdout).
void write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw OutputError(os_error("cannot write", name, errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// stdout: buffered, and flushed only in whole buffers or at finish, so a
// reader never sees half a line from a single flush.
class StdoutSink final : public OutputSink {
 public:
  StdoutSink() { buffer_.reserve(kBufferSize); }
  void write(std::string_view data) override {
    buffer_.append(data);
    bytes_ += data.size();
    if (buffer_.size() >= kBufferSize) flush();
  }
  void finish() override { flush(); }
  uint64_t bytes_written() const override { return bytes_; }

 private:
  void flush() {
    write_all(STDOUT_FILENO, buffer_, "standard output");
    buffer_.clear();
  }
  std::string buffer_;
  uint64_t bytes_ = 0;
};

// A temp file renamed into place on finish(); removed when abandoned.
//
// The temp file is locked (flock) for as long as it is written: a second run
// writing the same output fails at once instead of interleaving its bytes
// with the first's, and a temp file that nobody holds is what a killed run
// left behind (the kernel drops the lock with the process), so it is
// discarded with a log line.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
    fd_ = open_locked();
    struct stat st{};
    if (::fstat(fd_, &st) != 0) {
      int err = errno;
      ::close(fd_);
      throw OutputError(os_error("cannot stat", tmp_, err));
    }
    if (st.st_size > 0) {
      KLOG(warning) << "removed stale " << obs::printable(tmp_) << " (" << st.st_size
                    << " bytes), left by a run that did not finish";
    }
    if (::ftruncate(fd_, 0) != 0) {
      int err = errno;
      ::close(fd_);
      throw OutputError(os_error("cannot truncate", tmp_, err));
    }
  }
  ~TempFile() {
    // Unlinked while still locked: a run starting now creates a new file
    // rather than adopting this one.
    if (!committed_) ::unlink(tmp_.c_str());
    if (fd_ >= 0) ::close(fd_);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }
  const std::string& tmp_path() const { return tmp_; }
  void commit() {
    if (::fsync(fd_) != 0) throw OutputError(os_error("cannot sync", tmp_, errno));
    // Renamed before the close that drops the lock, for the same reason.
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) throw OutputError(os_error("cannot rename to", path_, errno));
    committed_ = true;
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) throw OutputError(os_error("cannot close", path_, errno));
  }

 private:
  // The temp file, opened and locked. Not truncated by open(): only its
  // lock holder may. Retried when the path changed under the lock (the
  // previous holder renamed or removed the file it had locked).
  int open_locked() {
    for (;;) {
      int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) throw OutputError(os_error("cannot create", tmp_, errno));
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK)
          throw OutputError(tmp_ + " is being written by another run (same --output at once?)");
        throw OutputError(os_error("cannot lock", tmp_, err));
      }
      struct stat locked{};
      struct stat named{};
      if (::fstat(fd, &locked) == 0 && ::stat(tmp_.c_str(), &named) == 0 &&
          locked.st_dev == named.st_dev && locked.st_ino == named.st_ino)
        return fd;
      ::close(fd);
    }
  }

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

class PosixFileSink final : public OutputSink {
 public:
  explicit PosixFileSink(const std::string& path) : file_(path) { buffer_.reserve(kBufferSize); }
  void write(std::string_view data) override {
    buffer_.append(data);
    bytes_ += data.size();
    if (buffer_.size() >= kBufferSize) flush();
  }
  void finish() override {
    flush();
    file_.commit();
  }
  uint64_t bytes_written() const override { return bytes_; }

 private:
  void flush() {
    write_all(file_.fd(), buffer_, file_.tmp_path());
    buffer_.clear();
  }
  TempFile file_;
  std::string buffer_;
  uint64_t bytes_ = 0;
};

#if KETTLE_HAVE_LIBURING
// Double-buffered io_uring writes: one buffer fills while the other is being
// written by the kernel, so formatting never waits on the disk.
class UringFileSink final : public OutputSink {
 public:
  explicit UringFileSink(const std::string& path) : file_(path) {
    int rc = io_uring_queue_init(kSlots, &ring_, 0);
    if (rc < 0) throw OutputError(os_error("cannot set up io_uring for", path, -rc));
    for (auto& slot : slots_) slot.data.reserve(kBufferSize);
  }
  ~UringFileSink() override {
    try {
      drain();
    } catch (...) {
      // Abandoned output: the temp file is removed anyway.
    }
    io_uring_queue_exit(&ring_);
  }
  void write(std::string_view data) override {
    bytes_ += data.size();
    while (!data.empty()) {
      Slot& slot = slots_[current_];
      size_t take = std::min(data.size(), kBufferSize - slot.data.size());
      slot.data.append(data.substr(0, take));
      data.remove_prefix(take);
      if (slot.data.size() == kBufferSize) submit_current();
    }
  }
  void finish() override {
    if (!slots_[current_].data.empty()) submit_current();
    drain();
    file_.commit();
  }
  uint64_t bytes_written() const override { return bytes_; }

 private:
  static constexpr unsigned kSlots = 2;
  struct Slot {
    std::string data;
    size_t done = 0;       // bytes of data the kernel has written
    uint64_t offset = 0;   // file offset of data[0]
    bool in_flight = false;
  };

  void submit_current() {
    Slot& slot = slots_[current_];
    slot.offset = next_offset_;
    next_offset_ += slot.data.size();
    slot.done = 0;
    queue_write(current_);
    current_ = (current_ + 1) % kSlots;
    // The next buffer must be free before it is filled again.
    while (slots_[current_].in_flight) reap_one();
    slots_[current_].data.clear();
  }

  void queue_write(unsigned index) {
    Slot& slot = slots_[index];
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) throw OutputError("io_uring submission queue full for " + file_.tmp_path());
    io_uring_prep_write(sqe, file_.fd(), slot.data.data() + slot.done,
                        static_cast<unsigned>(slot.data.size() - slot.done), slot.offset + slot.done);
    io_uring_sqe_set_data(sqe, reinterpret_cast<void*>(static_cast<uintptr_t>(index)));
    int rc = io_uring_submit(&ring_);
    if (rc < 0) throw OutputError(os_error("io_uring submit failed for", file_.tmp_path(), -rc));
    slot.in_flight = true;
  }

  void reap_one() {
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_wait_cqe(&ring_, &cqe);
    if (rc == -EINTR) return;
    if (rc < 0) throw OutputError(os_error("io_uring wait failed for", file_.tmp_path(), -rc));
    auto index = static_cast<unsigned>(reinterpret_cast<uintptr_t>(io_uring_cqe_get_data(cqe)));
    int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    Slot& slot = slots_[index];
    slot.in_flight = false;
    if (res == -EINTR || res == -EAGAIN) {
      queue_write(index);
      return;
    }
    if (res < 0) throw OutputError(os_error("cannot write", file_.tmp_path(), -res));
    slot.done += static_cast<size_t>(res);
    if (slot.done < slot.data.size()) queue_write(index);  // short write: continue
  }

  void drain() {
    for (;;) {
      bool busy = false;
      for (auto& slot : slots_) busy = busy || slot.in_flight;
      if (!busy) return;
      reap_one();
    }
  }

  TempFile file_;
  io_uring ring_{};
  std::array<Slot, kSlots> slots_;
  unsigned current_ = 0;
  uint64_t next_offset_ = 0;
  uint64_t bytes_ = 0;
};
#endif

}  // namespace

std::unique_ptr<OutputSink> open_stdout_sink() { return std::make_unique<StdoutSink>(); }

std::unique_ptr<OutputSink> open_file_sink(const std::string& path, FileBackend backend) {
#if KETTLE_HAVE_LIBURING
  if (backend == FileBackend::io_uring) return std::make_unique<UringFileSink>(path);
#else
  (void)backend;
#endif
  return std::make_unique<PosixFileSink>(path);
}

}  // namespace kettle::emit
