// Space on the file system that holds a file (the database), from statvfs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kettle::obs {

struct FilesystemSpace {
  uint64_t free_bytes = 0;  // available to this (unprivileged) process: f_bavail
  uint64_t size_bytes = 0;  // f_blocks
};

// Of the directory holding `file_path` (the file need not exist yet);
// nullopt when that directory cannot be read.
std::optional<FilesystemSpace> filesystem_space(const std::string& file_path);

}  // namespace kettle::obs
