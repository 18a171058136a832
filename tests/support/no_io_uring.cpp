// no_io_uring COMMAND [ARG...]: runs COMMAND under a seccomp filter that
// fails io_uring_setup, io_uring_enter and io_uring_register with EPERM, as
// Docker's default profile does. Tests use it to check that kettle detects a
// blocked io_uring at start and falls back to plain syscalls.
// Exit 125 when the filter cannot be installed or does not block io_uring
// (the caller skips), else COMMAND's exec.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>

#if defined(__x86_64__)
constexpr unsigned kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kArch = AUDIT_ARCH_AARCH64;
#else
#error "no_io_uring: unknown architecture"
#endif

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: no_io_uring COMMAND [ARG...]\n");
    return 2;
  }
  constexpr unsigned kDeny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 0, 6),  // another ABI: allow
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, kDeny),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  // No new privileges: what lets an unprivileged process install a filter.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    std::fprintf(stderr, "no_io_uring: cannot install a seccomp filter: %s\n",
                 std::strerror(errno));
    return 125;
  }
  // The filter must refuse what kettle's probe asks for.
  unsigned char params[120] = {};  // struct io_uring_params
  long fd = syscall(__NR_io_uring_setup, 2, params);
  if (fd >= 0 || errno != EPERM) {
    std::fprintf(stderr, "no_io_uring: the filter did not block io_uring_setup\n");
    return 125;
  }
  execvp(argv[1], argv + 1);
  std::fprintf(stderr, "no_io_uring: cannot run %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
