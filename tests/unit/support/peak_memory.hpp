// Peak memory of a piece of work, for assertions that can fail.
//
// A process's high-water mark (VmHWM, ru_maxrss) only ever rises, so the
// work runs in a forked child: it hands the heap it inherited back to the
// system, notes its resident size, runs, and exits; the parent reads the
// child's peak from wait4. The child also gets an address-space allowance,
// so a regression fails quickly instead of filling the machine.
#pragma once

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <fstream>
#include <functional>
#include <string>

namespace kettle::test_support {

struct ChildPeak {
  bool ran = false;          // the child started and reported
  std::string failure;       // what the work reported as wrong ("" = fine)
  std::size_t baseline = 0;  // resident bytes before the work
  std::size_t peak = 0;      // highest resident bytes of the child
  std::size_t growth() const { return peak > baseline ? peak - baseline : 0; }
};

// A field of /proc/self/status in bytes ("VmRSS", "VmSize"), or 0.
inline std::size_t proc_status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  std::size_t kilobytes = 0;
  std::string unit;
  while (status >> key) {
    if (key == field + ":") {
      status >> kilobytes >> unit;
      return kilobytes * 1024;
    }
    std::getline(status, unit);
  }
  return 0;
}

// Runs `work` in a child allowed `allowance` bytes of address space beyond
// what it starts with. `work` returns "" when its results are right, else
// what is wrong; it must not use Boost.Test (the child's checks are lost).
inline ChildPeak peak_memory_in_child(const std::function<std::string()>& work,
                                      std::size_t allowance) {
  ChildPeak result;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return result;
  const pid_t pid = fork();
  if (pid < 0) return result;
  if (pid == 0) {
    close(pipe_fds[0]);
    malloc_trim(0);
    const std::size_t baseline = proc_status_bytes("VmRSS");
    rlimit limit{};
    getrlimit(RLIMIT_AS, &limit);
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, proc_status_bytes("VmSize") + allowance);
    setrlimit(RLIMIT_AS, &limit);
    std::string failure;
    try {
      failure = work();
    } catch (const std::exception& error) {
      failure = std::string("threw: ") + error.what();
    }
    const std::string report = std::to_string(baseline) + "\n" + failure;
    const ssize_t written = write(pipe_fds[1], report.data(), report.size());
    _exit(written == static_cast<ssize_t>(report.size()) ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, n);
  close(pipe_fds[0]);
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return result;
  }
  const std::size_t newline = report.find('\n');
  if (newline == std::string::npos) return result;
  result.ran = true;
  result.baseline = std::stoull(report.substr(0, newline));
  result.failure = report.substr(newline + 1);
  result.peak = static_cast<std::size_t>(usage.ru_maxrss) * 1024;  // Linux: kilobytes
  return result;
}

}  // namespace kettle::test_support
