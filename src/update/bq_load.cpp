#include "kettle/update/bq_load.hpp"

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "kettle/bigquery/client.hpp"
#include "kettle/obs/health.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::update {

boost::json::array read_schema(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read schema file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  boost::json::error_code ec;
  auto doc = boost::json::parse(text.str(), ec);
  if (ec) throw std::runtime_error("schema file " + path + " is not JSON: " + ec.message());
  // schema.json is a field array; a {"fields": [...]} object is accepted too.
  if (doc.is_array()) return doc.get_array();
  if (doc.is_object()) {
    if (auto* fields = doc.get_object().if_contains("fields"); fields && fields->is_array()) return fields->get_array();
  }
  throw std::runtime_error("schema file " + path + " is not a list of fields");
}

boost::asio::awaitable<int> bq_load(cloud::Context& cloud, const BqLoadOptions& opt) {
  std::string error;
  auto table = bigquery::TableRef::in_dataset(opt.dataset, opt.table, &error);
  if (!table) throw std::runtime_error(error);
  if (!std::filesystem::exists(opt.file)) throw std::runtime_error("no such file " + opt.file);

  auto endpoint = bigquery::endpoint_from_env();
  auto credentials = co_await cloud.credentials_for(endpoint.emulator);
  bigquery::ClientConfig config;
  config.base_url = endpoint.base_url;
  bigquery::Client bq(cloud.http(), credentials, config);

  bigquery::LoadOptions load;
  if (!opt.schema_path.empty()) {
    load.schema = read_schema(opt.schema_path);
    auto ensured = co_await bq.ensure_table(*table, load.schema);
    if (!ensured) {
      KLOG(error) << "cannot create " << table->str() << ": " << ensured.error().what();
      co_return 1;
    }
  }
  obs::Stage& stage = obs::stage("load");
  auto busy = stage.busy();
  load.on_progress = [&stage] { stage.progress(); };
  auto& jobs = obs::metrics().bigquery_load_jobs;
  load.write_disposition = opt.replace ? bigquery::WriteDisposition::truncate : bigquery::WriteDisposition::append;
  load.max_bad_records = opt.max_bad_records;
  KLOG(info) << "loading " << opt.file << " (" << std::filesystem::file_size(opt.file) << " bytes) into "
             << table->str() << (opt.replace ? " (replace)" : " (append)");
  auto result = co_await bq.load(*table, opt.file, load);
  if (!result) {
    jobs.with({table->str(), "failed"}).inc();
    KLOG(error) << "load into " << table->str() << " failed: " << result.error().what();
    co_return 1;
  }
  if (!result->ok()) {
    jobs.with({table->str(), "failed"}).inc();
    KLOG(error) << "load job " << result->job_id << " into " << table->str() << " failed: " << result->summary();
    co_return 1;
  }
  jobs.with({table->str(), "succeeded"}).inc();
  obs::metrics().bigquery_rows_loaded.with({table->str()}).inc(static_cast<double>(result->output_rows));
  obs::metrics().bigquery_last_insert.with({table->str()}).set_to_current_time();
  KLOG(info) << "loaded " << table->str() << ": " << result->summary();
  co_return 0;
}

}  // namespace kettle::update
