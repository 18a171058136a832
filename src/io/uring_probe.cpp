#include "kettle/io/uring_probe.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#if KETTLE_HAVE_LIBURING
#include <liburing.h>
#endif

#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::io {
namespace {

bool forced_off() {
  const char* off = std::getenv("KETTLE_NO_IO_URING");
  return off != nullptr && std::strcmp(off, "") != 0 && std::strcmp(off, "0") != 0;
}

Backend detect() {
#if KETTLE_HAVE_LIBURING
  if (forced_off()) {
    KLOG(info) << "KETTLE_NO_IO_URING is set: file I/O uses read/write syscalls";
    return Backend::syscalls;
  }
  io_uring ring{};
  int rc = io_uring_queue_init(2, &ring, 0);
  if (rc < 0) {
    KLOG(info) << "io_uring unavailable (" << std::strerror(-rc)
               << "; a seccomp profile may forbid it): file I/O uses read/write syscalls";
    return Backend::syscalls;
  }
  io_uring_queue_exit(&ring);
  KLOG(info) << "file I/O uses io_uring";
  return Backend::io_uring;
#else
  (void)forced_off;
  KLOG(debug) << "built without liburing: file I/O uses read/write syscalls";
  return Backend::syscalls;
#endif
}

}  // namespace

const char* to_string(Backend backend) {
  return backend == Backend::io_uring ? "io_uring" : "syscalls";
}

Backend probe_backend() {
  static const Backend backend = detect();
  return backend;
}

Backend backend_for(std::string_view path) {
  Backend backend = probe_backend();
  obs::metrics().io_backend.with({std::string(path), to_string(backend)}).set(1);
  return backend;
}

}  // namespace kettle::io
