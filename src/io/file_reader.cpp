#include "kettle/io/file_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <system_error>

#if KETTLE_HAVE_LIBURING
#include <liburing.h>
#include <sys/eventfd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#endif

#include "kettle/obs/log.hpp"

namespace kettle::io {
namespace asio = boost::asio;
using boost::system::error_code;
using ReadResult = boost::system::result<std::size_t>;

namespace {

// One request never asks for more: the kernel's length field is 32 bits.
constexpr std::size_t kMaxRequest = std::size_t{1} << 30;

error_code os_error(int err) { return {err, boost::system::system_category()}; }

ReadResult pread_all(int fd, std::uint64_t offset, std::span<char> buffer) {
  std::size_t done = 0;
  while (done < buffer.size()) {
    std::size_t want = std::min(buffer.size() - done, kMaxRequest);
    ssize_t n = ::pread(fd, buffer.data() + done, want, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno);
    }
    if (n == 0) break;  // end of file
    done += static_cast<std::size_t>(n);
  }
  return done;
}

// pread on `pool`, resumed on the loop: plain posts, the loop kept alive by
// a work guard, no cancellation state shared between the threads.
asio::awaitable<ReadResult> pread_on(asio::any_io_executor pool, int fd, std::uint64_t offset,
                                     std::span<char> buffer) {
  auto loop = co_await asio::this_coro::executor;
  auto initiate = [pool, loop, fd, offset, buffer](auto handler) {
    auto work = asio::make_work_guard(loop);
    asio::post(
        pool, [fd, offset, buffer, handler = std::move(handler), work = std::move(work)]() mutable {
          ReadResult result = pread_all(fd, offset, buffer);
          auto back = work.get_executor();
          asio::post(back, [handler = std::move(handler), result]() mutable {
            std::move(handler)(result);
          });
        });
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(ReadResult)>(
      std::move(initiate), asio::use_awaitable);
}

}  // namespace

#if KETTLE_HAVE_LIBURING
// A ring of its own (one read in flight at a time) whose completions signal
// an eventfd the loop waits on, so a read costs the loop no thread hop.
class FileReader::Ring {
 public:
  Ring(int fd, const asio::any_io_executor& loop) : fd_(fd), wake_(loop) {
    int rc = io_uring_queue_init(kEntries, &ring_, 0);
    if (rc < 0) throw std::system_error(-rc, std::system_category(), "io_uring_queue_init");
    int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0 || (rc = io_uring_register_eventfd(&ring_, efd)) < 0) {
      int err = efd < 0 ? errno : -rc;
      if (efd >= 0) ::close(efd);
      io_uring_queue_exit(&ring_);
      throw std::system_error(err, std::system_category(), "io_uring eventfd");
    }
    wake_.assign(efd);
  }
  ~Ring() {
    // A read abandoned mid-way (its coroutine destroyed) still writes into
    // its buffer: wait for it before the memory can go.
    if (in_flight_) {
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(&ring_, &cqe) == 0) io_uring_cqe_seen(&ring_, cqe);
    }
    io_uring_queue_exit(&ring_);
  }

  asio::awaitable<ReadResult> read_at(std::uint64_t offset, std::span<char> buffer) {
    std::size_t done = 0;
    while (done < buffer.size()) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);  // never null: one request at a time
      auto want = static_cast<unsigned>(std::min(buffer.size() - done, kMaxRequest));
      io_uring_prep_read(sqe, fd_, buffer.data() + done, want, offset + done);
      int rc = io_uring_submit(&ring_);
      if (rc < 0) co_return os_error(-rc);
      in_flight_ = true;
      io_uring_cqe* cqe = co_await completion();
      int res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      in_flight_ = false;
      if (res == -EINTR || res == -EAGAIN) continue;
      if (res < 0) co_return os_error(-res);
      if (res == 0) break;  // end of file
      done += static_cast<std::size_t>(res);
    }
    co_return done;
  }

 private:
  static constexpr unsigned kEntries = 2;

  asio::awaitable<io_uring_cqe*> completion() {
    io_uring_cqe* cqe = nullptr;
    while (io_uring_peek_cqe(&ring_, &cqe) != 0) {
      error_code ec;
      // No cancellation: the buffer belongs to the kernel until the read ends.
      auto token = asio::bind_cancellation_slot(asio::cancellation_slot(),
                                                asio::redirect_error(asio::use_awaitable, ec));
      co_await wake_.async_wait(asio::posix::stream_descriptor::wait_read, token);
      if (ec) {
        // The loop is going away: finish the read here (it is short).
        int rc = io_uring_wait_cqe(&ring_, &cqe);
        if (rc == 0) break;
        if (rc != -EINTR) throw std::system_error(-rc, std::system_category(), "io_uring_wait_cqe");
        continue;
      }
      std::uint64_t count = 0;
      [[maybe_unused]] auto n =
          ::read(wake_.native_handle(), &count, sizeof count);  // re-arm; EAGAIN is fine
    }
    co_return cqe;
  }

  int fd_;
  io_uring ring_{};
  asio::posix::stream_descriptor wake_;
  bool in_flight_ = false;
};
#else
class FileReader::Ring {
 public:
  Ring(int, const asio::any_io_executor&) {
    throw std::system_error(ENOSYS, std::system_category(), "io_uring");
  }
  asio::awaitable<ReadResult> read_at(std::uint64_t, std::span<char>) {
    co_return os_error(ENOSYS);
  }
};
#endif

FileReader::FileReader(std::string path, Backend backend, asio::any_io_executor loop,
                       std::optional<asio::any_io_executor> blocking)
    : path_(std::move(path)), blocking_(std::move(blocking)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::system_category(), "cannot open " + path_);
  if (backend == Backend::io_uring) {
    try {
      ring_ = std::make_unique<Ring>(fd_, loop);
    } catch (const std::system_error& e) {
      KLOG(warning) << "reading " << obs::printable(path_) << " with pread: " << e.what();
    }
  }
}

FileReader::~FileReader() {
  ring_.reset();  // before the file it reads
  ::close(fd_);
}

Backend FileReader::backend() const { return ring_ ? Backend::io_uring : Backend::syscalls; }

asio::awaitable<ReadResult> FileReader::read_at(std::uint64_t offset, std::span<char> buffer) {
  if (ring_) co_return co_await ring_->read_at(offset, buffer);
  if (blocking_) co_return co_await pread_on(*blocking_, fd_, offset, buffer);
  co_return pread_all(fd_, offset, buffer);
}

}  // namespace kettle::io
