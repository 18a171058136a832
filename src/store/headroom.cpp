#include "kettle/store/headroom.hpp"

#include <cstdio>

namespace kettle::store {

std::string human_bytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < sizeof kUnits / sizeof kUnits[0]) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  }
  return buf;
}

Headroom evaluate_headroom(const std::string& db_path, std::optional<obs::FilesystemSpace> space,
                           uint64_t min_free) {
  Headroom h;
  h.space = space;
  if (min_free == 0 || !space || space->free_bytes >= min_free) return h;
  h.ok = false;
  h.message = "only " + human_bytes(space->free_bytes) + " of " + human_bytes(space->size_bytes) +
              " is free on the file system holding " + db_path + ", less than --min-free " +
              human_bytes(min_free) +
              ": free space (e.g. 'kettle prune --junit-older-than 90d', or a larger volume), or "
              "lower --min-free";
  return h;
}

Headroom check_headroom(const std::string& db_path, uint64_t min_free) {
  return evaluate_headroom(db_path, obs::filesystem_space(db_path), min_free);
}

}  // namespace kettle::store
