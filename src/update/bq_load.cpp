#include "kettle/update/bq_load.hpp"

#include <filesystem>
#include <stdexcept>

#include "kettle/bigquery/client.hpp"
#include "kettle/obs/health.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::update {

boost::asio::awaitable<int> bq_load(app::Core& core, BqLoadOptions opt) {
  std::string error;
  auto table = bigquery::TableRef::in_dataset(opt.dataset, opt.table, &error);
  if (!table) throw std::runtime_error(error);
  if (!std::filesystem::exists(opt.file)) throw std::runtime_error("no such file " + opt.file);

  co_await core.connect(app::bigquery_api);
  bigquery::Client& bq = core.bigquery();
  bigquery::LoadOptions load;
  load.schema = core.schema();
  auto ensured = co_await bq.ensure_table(*table, load.schema);
  if (!ensured) {
    KLOG(error) << obs::label("stage", "load") << obs::label("table", table->str()) << "cannot create " << table->str() << ": " << ensured.error().what();
    co_return 1;
  }
  obs::Stage& stage = obs::stage("load");
  auto busy = stage.busy();
  load.on_progress = [&stage] { stage.progress(); };
  auto& jobs = obs::metrics().bigquery_load_jobs;
  load.write_disposition = opt.replace ? bigquery::WriteDisposition::truncate : bigquery::WriteDisposition::append;
  load.max_bad_records = opt.max_bad_records;
  KLOG(info) << obs::label("stage", "load") << obs::label("table", table->str()) << "loading " << opt.file << " (" << std::filesystem::file_size(opt.file) << " bytes) into "
             << table->str() << (opt.replace ? " (replace)" : " (append)");
  auto result = co_await bq.load(*table, opt.file, load);
  if (!result) {
    jobs.with({table->str(), "failed"}).inc();
    KLOG(error) << obs::label("stage", "load") << obs::label("table", table->str()) << "load into " << table->str() << " failed: " << result.error().what();
    co_return 1;
  }
  if (!result->ok()) {
    jobs.with({table->str(), "failed"}).inc();
    KLOG(error) << obs::label("stage", "load") << obs::label("table", table->str()) << "load job " << result->job_id << " into " << table->str() << " failed: " << result->summary();
    co_return 1;
  }
  jobs.with({table->str(), "succeeded"}).inc();
  obs::metrics().bigquery_rows_loaded.with({table->str()}).inc(static_cast<double>(result->output_rows));
  obs::metrics().bigquery_last_insert.with({table->str()}).set_to_current_time();
  KLOG(info) << obs::label("stage", "load") << obs::label("table", table->str()) << "loaded " << table->str() << ": " << result->summary();
  co_return 0;
}

}  // namespace kettle::update
