// `kettle prune` and update's --retain-junit: store::prune_junit run on the
// core's CPU pool, logged, and counted in the metrics.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>

#include "kettle/app/core.hpp"
#include "kettle/store/prune.hpp"

namespace kettle::update {

// Throws store::CutoffError (a retention period not longer than a window in
// use) and store::StoreError. `require_all_table`: see store::PruneOptions.
boost::asio::awaitable<store::PruneResult> run_prune(app::Core& core,
                                                     std::chrono::seconds older_than,
                                                     bool require_all_table = false);

}  // namespace kettle::update
