#include "kettle/update/prune.hpp"

#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::update {
namespace asio = boost::asio;

asio::awaitable<store::PruneResult> run_prune(app::Core& core, std::chrono::seconds older_than,
                                              bool require_all_table) {
  store::PruneOptions opt;
  opt.older_than = older_than;
  opt.require_all_table = require_all_table;
  opt.should_stop = [&core] { return core.stopping(); };
  const std::string db_path = core.db_path();
  KLOG(info) << "pruning the JUnit of builds that finished more than "
             << store::format_period(older_than) << " ago in " << db_path;
  // A named closure: g++ 12 destroys a temporary in a co_await expression twice.
  auto prune = [db_path, opt] { return store::prune_junit(db_path, opt); };
  store::PruneResult result = co_await core.offload(prune);
  auto& m = obs::metrics();
  m.pruned_builds.get().inc(static_cast<double>(result.builds));
  m.pruned_junit_bytes.get().inc(static_cast<double>(result.junit_bytes));
  m.db_freelist_bytes.get().set(static_cast<double>(result.freelist_pages * result.page_size));
  KLOG(info) << store::describe(result);
  co_return result;
}

}  // namespace kettle::update
