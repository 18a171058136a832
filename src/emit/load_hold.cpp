#include "kettle/emit/load_hold.hpp"

namespace kettle::emit {

LoadVerdict load_hold_verdict(bool junit_missing, std::optional<double> finished_time, int64_t now,
                              const LoadHoldConfig& config) {
  if (!junit_missing) return LoadVerdict::emit;
  if (!finished_time) return LoadVerdict::late;
  const double age = static_cast<double>(now) - *finished_time;
  return age < static_cast<double>(config.bound.count()) ? LoadVerdict::hold : LoadVerdict::late;
}

}  // namespace kettle::emit
