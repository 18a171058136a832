#include "kettle/obs/filesystem.hpp"

#include <sys/statvfs.h>

#include <filesystem>

namespace kettle::obs {

std::optional<FilesystemSpace> filesystem_space(const std::string& file_path) {
  std::filesystem::path dir = std::filesystem::path(file_path).parent_path();
  if (dir.empty()) dir = ".";
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return std::nullopt;
  const uint64_t unit = st.f_frsize ? st.f_frsize : st.f_bsize;
  return FilesystemSpace{static_cast<uint64_t>(st.f_bavail) * unit,
                         static_cast<uint64_t>(st.f_blocks) * unit};
}

}  // namespace kettle::obs
