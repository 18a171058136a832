// Whether file I/O may go through io_uring here. Container seccomp profiles
// (Docker's default among them) often refuse io_uring_setup, so the answer
// is probed once per process, and every file path falls back to plain
// read/write syscalls when it is no. io_uring is never required.
#pragma once

#include <string_view>

namespace kettle::io {

enum class Backend { io_uring, syscalls };
const char* to_string(Backend backend);  // "io_uring", "syscalls"

// The probe's answer: set up a small ring, and tear it down. Computed on the
// first call (later calls return it) and logged once, naming the reason for
// a fallback. KETTLE_NO_IO_URING=1 (any value but empty or "0") forces
// syscalls; so does a build without liburing.
Backend probe_backend();

// The backend one file path uses (`path`: "ndjson_write", "upload_read"):
// the probe's answer, exported as kettle_io_backend_info{path,backend} 1.
Backend backend_for(std::string_view path);

}  // namespace kettle::io
