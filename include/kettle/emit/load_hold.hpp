// Whether `update`'s load phase writes a finished build's row now or leaves
// it unemitted. A row is loaded once per table and never again (the `all`
// table is append-only), so a row loaded while the build's JUnit download or
// write has failed would keep no tests for good. Such a build (marked in
// build_junit_missing) is left out while it finished recently: the stream
// phase and the next cycle's collection retry its JUnit and then emit it with
// its tests. Past the bound its row goes without tests, so a build whose
// JUnit can never be read is late, never lost. No I/O: the caller says
// whether the JUnit is missing, when the build finished and what time it is.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace kettle::emit {

struct LoadHoldConfig {
  // How long after it finished a build's row waits for its JUnit. A cycle
  // runs about daily: two days give its next cycle, with a day of streaming
  // in between, room to read the JUnit again, and stay well inside the week
  // and all windows (the day table, a day wide, gets the row from the stream
  // or not at all, as for any build collected late).
  std::chrono::seconds bound = std::chrono::hours(48);
};

enum class LoadVerdict {
  emit,  // write the row: its JUnit is stored
  hold,  // JUnit missing and the build finished within the bound: leave it unemitted
  late,  // JUnit still missing past the bound: write without tests, warn
};

// `finished_time` and `now` in seconds since the epoch; a build without a
// finished time is never held (it would wait for good).
LoadVerdict load_hold_verdict(bool junit_missing, std::optional<double> finished_time, int64_t now,
                              const LoadHoldConfig& config);

}  // namespace kettle::emit
