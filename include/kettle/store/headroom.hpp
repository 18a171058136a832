// Disk headroom: the free space the database's file system must have before
// a bulk write phase (collection, loads) starts. Below it the phase is
// skipped with an error instead of filling the disk; SQLite would then fail
// with SQLITE_FULL somewhere in the middle.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kettle/obs/filesystem.hpp"

namespace kettle::store {

// --min-free: 2 GiB, several times what one collection cycle of the
// reference's buckets writes; 0 turns the check off.
inline constexpr uint64_t kDefaultMinFree = uint64_t{2} << 30;

struct Headroom {
  bool ok = true;
  std::optional<obs::FilesystemSpace> space;  // nullopt: could not be measured (counted as ok)
  std::string message;                        // when !ok: what, where, and what to do
};

// The decision, from a measurement (pure).
Headroom evaluate_headroom(const std::string& db_path, std::optional<obs::FilesystemSpace> space,
                           uint64_t min_free);
// Measures the file system holding db_path now.
Headroom check_headroom(const std::string& db_path, uint64_t min_free);

// "1.5 GiB", "300 MiB", "12 KiB", "512 B".
std::string human_bytes(uint64_t bytes);

}  // namespace kettle::store
