// Log lines go to stderr: tests that check what was logged send this
// process's stderr to a file for a while and read it back.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "files.hpp"

namespace kettle::test_support {

// Sends this process's stderr to a file until stop() (or the end of scope).
class StderrCapture {
 public:
  // Into a fresh temporary file, removed at the end of scope.
  StderrCapture() : StderrCapture(temporary_file(), true) {}
  explicit StderrCapture(std::filesystem::path file) : StderrCapture(std::move(file), false) {}
  ~StderrCapture() {
    stop();
    if (remove_) {
      std::error_code ignored;
      std::filesystem::remove(file_, ignored);
    }
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  // Restores stderr; returns everything written to it meanwhile.
  std::string stop() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
      saved_ = -1;
    }
    return read_file(file_);
  }

 private:
  StderrCapture(std::filesystem::path file, bool remove) : file_(std::move(file)), remove_(remove) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(file_.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
    BOOST_REQUIRE(saved_ >= 0 && fd >= 0);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }

  static std::filesystem::path temporary_file() {
    std::string name = (std::filesystem::temp_directory_path() / "kettle-stderr-XXXXXX").string();
    int fd = ::mkstemp(name.data());
    BOOST_REQUIRE_MESSAGE(fd >= 0, "cannot create a temporary file for stderr");
    ::close(fd);
    return name;
  }

  std::filesystem::path file_;
  bool remove_ = false;
  int saved_ = -1;
};

}  // namespace kettle::test_support
