// kettle: command-line dispatch only. Each command lives in its own folder.
#include <chrono>
#include <atomic>
#include <csignal>
#include <pthread.h>
#include <thread>
#include <filesystem>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "kettle/auth/credentials.hpp"
#include "kettle/cli/args.hpp"
#include "kettle/cloud/context.hpp"
#include "kettle/collect/make_db.hpp"
#include "kettle/stream/stream.hpp"
#include "kettle/update/bq_load.hpp"
#include "kettle/update/cycle.hpp"
#include "kettle/update/monitor.hpp"
#include "kettle/config/buckets.hpp"
#include "kettle/emit/file_sink.hpp"
#include "kettle/emit/make_json.hpp"
#include "kettle/obs/health.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/obs/server.hpp"
#include "kettle/store/database.hpp"

namespace {

using kettle::cli::Args;
using kettle::cli::Parser;
using kettle::cli::UsageError;

volatile std::sig_atomic_t g_stop = 0;

void on_stop_signal(int sig) {
  g_stop = 1;
  // A second signal ends the process the ordinary way.
  std::signal(sig, SIG_DFL);
}

void install_stop_signals() {
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
}

std::string default_db() {
  const char* env = std::getenv("KETTLE_DB");
  return env && *env ? env : "build.db";
}

void add_common(Parser& p) {
  p.option("db", "PATH", "SQLite database (env KETTLE_DB, default build.db)");
}

void apply_common(const Args& args) {
  kettle::obs::set_verbose(args.has("v"));
}

// Prometheus /metrics and /healthz: on by default for the long-running
// commands (update, stream), off unless asked for the one-shot ones.
void add_observability(Parser& p, bool long_running) {
  const std::string metrics_default = long_running ? "default :9090" : "default off";
  const std::string health_default = long_running ? "default :8081" : "default off";
  p.option("metrics-addr", "HOST:PORT", "serve Prometheus /metrics here (" + metrics_default + "; '' = off)")
      .option("health-addr", "HOST:PORT", "serve /healthz and /healthz/ready here (" + health_default + "; '' = off)")
      .option("stall-timeout", "DURATION",
              "/healthz fails when a stage with work made no progress for this long (default 15m)");
}

std::unique_ptr<kettle::obs::Server> start_observability(const Args& args, bool long_running,
                                                         const std::string& db_path = {}) {
  auto address = [&](const char* flag, const char* fallback) {
    std::string value = args.get_or(flag, long_running ? fallback : "");
    return value == "off" ? std::string() : value;
  };
  kettle::obs::ServerOptions options;
  options.metrics_addr = address("metrics-addr", ":9090");
  options.health_addr = address("health-addr", ":8081");
  options.metrics_addr_is_default = !args.has("metrics-addr");
  options.health_addr_is_default = !args.has("health-addr");
  if (auto stall = args.get_duration("stall-timeout")) {
    if (stall->count() <= 0) throw UsageError("--stall-timeout must be positive");
    options.stall_timeout = *stall;
  }
  if (!db_path.empty()) kettle::obs::watch_database_size(db_path);
  if (options.metrics_addr.empty() && options.health_addr.empty()) return nullptr;
  return std::make_unique<kettle::obs::Server>(options);
}

// --request-timeout SECONDS: bounds every HTTP attempt and its phases.
std::optional<double> request_timeout(const Args& args) {
  auto secs = args.get_double("request-timeout");
  if (secs && *secs <= 0) throw UsageError("--request-timeout must be positive");
  return secs;
}

void apply_request_timeout(const Args& args, kettle::net::Config& http) {
  if (auto secs = request_timeout(args)) kettle::net::limit_attempt_time(http, *secs);
}

// --buildlimit, else env BUILD_LIMIT, else 0 (no limit).
int64_t build_limit(const Args& args) {
  std::optional<long long> limit = args.has("buildlimit") ? args.get_int("buildlimit") : std::nullopt;
  if (!limit) {
    if (const char* env = std::getenv("BUILD_LIMIT"); env && *env) {
      char* end = nullptr;
      limit = std::strtoll(env, &end, 10);
      if (*end != '\0') throw UsageError(std::string("BUILD_LIMIT='") + env + "' is not an integer");
    }
  }
  if (limit && *limit < 0) throw UsageError("--buildlimit / BUILD_LIMIT must not be negative");
  return limit.value_or(0);
}

// --stop_at, an hour of the day.
std::optional<int> stop_hour(const Args& args) {
  auto h = args.get_int("stop_at");
  if (!h) return std::nullopt;
  if (*h < 0 || *h > 23) throw UsageError("--stop_at must be an hour from 0 to 23");
  return static_cast<int>(*h);
}

int make_json(const std::vector<std::string>& words) {
  Parser p("kettle make-json [flags] [gs://build/path ...]",
           "Writes one BigQuery row (JSON) per build not yet emitted, then records them as emitted.");
  add_common(p);
  p.option("days", "D", "only builds finished in the last D days; tracked in table build_emitted_<D>")
      .flag("reset-emitted", "forget what was emitted into this table before emitting")
      .option("assert-oldest", "X",
              "emit nothing; exit 1 if the table is empty or its oldest build finished more than X days ago")
      .option("buckets", "FILE", "buckets.yaml mapping build locations to job prefixes (default buckets.yaml)")
      .option("output", "FILE", "write here instead of standard output (appears complete or not at all)")
      .flag("gzip", "compress the output with gzip")
      .option("threads", "N", "row-building threads (default: all cores)")
      .positionals("gs://build/path", "emit exactly these builds (scratch table incremental_manual)");
  add_observability(p, false);
  auto args = p.parse(words);
  if (!args) return 0;
  apply_common(*args);
  auto observability = start_observability(*args, false, args->get_or("db", default_db()));

  kettle::emit::MakeJsonOptions opt;
  opt.db_path = args->get_or("db", default_db());
  opt.days = args->get_double("days");
  if (opt.days && *opt.days < 0) throw UsageError("--days must not be negative");
  opt.reset_emitted = args->has("reset-emitted");
  opt.assert_oldest = args->get_double("assert-oldest");
  opt.buckets_path = args->get_or("buckets", "buckets.yaml");
  opt.output = args->get("output");
  opt.gzip = args->has("gzip");
  opt.paths = args->positionals();
  if (auto t = args->get_int("threads")) {
    if (*t < 1 || *t > 1024) throw UsageError("--threads must be between 1 and 1024");
    opt.threads = static_cast<unsigned>(*t);
  }
  opt.should_stop = [] { return g_stop != 0; };
  return kettle::emit::run_make_json(opt).exit_code;
}

int make_db(const std::vector<std::string>& words) {
  Parser p("kettle make-db --buckets FILE [flags]",
           "Collects Prow builds (started.json, finished.json and, with --junit, JUnit XML) from GCS into the "
           "database.\nA rerun fetches only what is new; SIGTERM finishes the builds in flight and commits.");
  add_common(p);
  p.option("buckets", "FILE", "buckets.yaml listing the GCS build locations (default buckets.yaml)")
      .flag("junit", "also download JUnit results of builds that miss them")
      .option("threads", "N", "HTTP requests in flight (default 32)")
      .option("buildlimit", "N", "at most N builds per job (env BUILD_LIMIT; 0 = no limit)")
      .flag("skip-gcs", "skip build collection (with --junit: only download JUnit)")
      .option("request-timeout", "SECONDS", "deadline of one HTTP attempt (default 120)")
      .option("max-attempts", "N", "HTTP attempts per request before giving up (default 10)");
  add_observability(p, false);
  auto args = p.parse(words);
  if (!args) return 0;
  apply_common(*args);
  auto observability = start_observability(*args, false, args->get_or("db", default_db()));

  kettle::collect::MakeDbOptions opt;
  opt.db_path = args->get_or("db", default_db());
  opt.buckets_path = args->get_or("buckets", "buckets.yaml");
  opt.junit = args->has("junit");
  opt.skip_gcs = args->has("skip-gcs");
  if (auto t = args->get_int("threads")) {
    if (*t < 1 || *t > 100000) throw UsageError("--threads must be between 1 and 100000");
    opt.threads = static_cast<size_t>(*t);
  }
  opt.build_limit = build_limit(*args);
  apply_request_timeout(*args, opt.http);
  if (auto n = args->get_int("max-attempts")) {
    if (*n < 1) throw UsageError("--max-attempts must be at least 1");
    opt.http.retry.max_attempts = static_cast<int>(*n);
  }
  auto result = kettle::collect::run_make_db(opt);
  // Single builds that failed are retried by the next run; a failed listing
  // means whole jobs or buckets were not seen.
  return result.listing_errors > 0 ? 1 : 0;
}

int bq_load(const std::vector<std::string>& words) {
  Parser p("kettle bq-load --dataset PROJECT:DATASET --table NAME [flags] FILE.ndjson[.gz]",
           "Loads newline-delimited JSON (gzip or not) into a BigQuery table with a load job and waits for it.");
  p.option("dataset", "PROJECT:DATASET", "the dataset")
      .option("table", "NAME", "the table (created with --schema when missing)")
      .flag("replace", "replace the table's rows (WRITE_TRUNCATE) instead of appending")
      .option("max-bad-records", "N", "rows BigQuery may reject before the job fails (default 0)")
      .option("schema", "FILE", "schema.json for the table (default: schema.json when present)")
      .positionals("FILE", "the NDJSON file");
  add_observability(p, false);
  auto args = p.parse(words);
  if (!args) return 0;
  apply_common(*args);
  auto observability = start_observability(*args, false);
  kettle::update::BqLoadOptions opt;
  opt.dataset = args->get_or("dataset", "");
  opt.table = args->get_or("table", "");
  if (opt.dataset.empty() || opt.table.empty()) throw UsageError("--dataset and --table are required");
  if (args->positionals().size() != 1) throw UsageError("exactly one FILE to load");
  opt.file = args->positionals()[0];
  opt.replace = args->has("replace");
  opt.max_bad_records = static_cast<int>(args->get_int("max-bad-records").value_or(0));
  opt.schema_path = args->get_or("schema", std::filesystem::exists("schema.json") ? "schema.json" : "");
  kettle::cloud::Context cloud;
  return cloud.run([&]() { return kettle::update::bq_load(cloud, opt); });
}

int monitor(const std::vector<std::string>& words) {
  Parser p("kettle monitor --table PROJECT:DATASET.TABLE... [--stale HOURS]",
           "Prints each table's rows, size and hours since it was modified; exit 1 when one is missing or stale.");
  p.option("table", "PROJECT:DATASET.TABLE", "tables to check", true)
      .option("stale", "HOURS", "a table not modified for longer is stale (default 24)");
  add_observability(p, false);
  auto args = p.parse(words);
  if (!args) return 0;
  apply_common(*args);
  auto observability = start_observability(*args, false);
  auto tables = args->all("table");
  if (tables.empty()) throw UsageError("--table is required");
  double stale = args->get_double("stale").value_or(24.0);
  kettle::cloud::Context cloud;
  return cloud.run([&]() { return kettle::update::monitor(cloud, tables, stale); });
}

int stream(const std::vector<std::string>& words) {
  Parser p("kettle stream --poll PROJECT/TOPIC/SUBSCRIPTION --dataset PROJECT:DATASET --tables NAME:DAYS... [flags]",
           "Streams newly finished builds from GCS notifications (Pub/Sub) into the database and BigQuery.\n"
           "Stops when the --stop_at hour begins, when a file named 'stop' appears, or on SIGTERM.");
  add_common(p);
  p.option("poll", "PROJECT/TOPIC/SUBSCRIPTION", "the Pub/Sub subscription to pull")
      .option("dataset", "PROJECT:DATASET", "the BigQuery dataset")
      .option("tables", "NAME:DAYS", "tables to insert into, with their window in days", true)
      .option("stop_at", "H", "stop when this local hour (0-23) begins")
      .option("buckets", "FILE", "buckets.yaml (default buckets.yaml)")
      .option("schema", "FILE", "schema.json for tables created here (default schema.json)")
      .option("request-timeout", "SECONDS", "deadline of one HTTP attempt, long polls included (default 120)");
  add_observability(p, true);
  auto args = p.parse(words);
  if (!args) return 0;
  apply_common(*args);
  kettle::stream::StreamOptions opt;
  opt.db_path = args->get_or("db", default_db());
  opt.poll = args->get_or("poll", "");
  opt.dataset = args->get_or("dataset", "");
  opt.tables = args->all("tables");
  if (opt.poll.empty() || opt.dataset.empty() || opt.tables.empty())
    throw UsageError("--poll, --dataset and --tables are required");
  opt.stop_at = stop_hour(*args);
  opt.buckets_path = args->get_or("buckets", "buckets.yaml");
  opt.schema_path = args->get_or("schema", "schema.json");
  auto http = kettle::stream::stream_http_config();
  apply_request_timeout(*args, http);
  auto observability = start_observability(*args, true, opt.db_path);
  std::atomic<bool> stop{false};
  kettle::cloud::Context cloud(http);
  return cloud.run([&]() { return kettle::stream::run_stream(cloud, opt, stop); }, [&stop] { stop = true; });
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

int update(const std::vector<std::string>& words) {
  Parser p("kettle update [--once] [--buckets FILE] [--dataset PROJECT:DATASET]",
           "The whole cycle: collect (make-db --junit), load the tables (make-json + bq-load), stream until the\n"
           "stop hour; forever. Environment: DEPLOYMENT (prod: tables day, week, all; else one staging table),\n"
           "SUBSCRIPTION_PATH (PROJECT/TOPIC/SUBSCRIPTION), BUILD_LIMIT, KETTLE_DB.");
  add_common(p);
  p.flag("once", "one collect + load cycle, no stream phase")
      .option("buckets", "FILE", "buckets.yaml (default buckets.yaml)")
      .option("buckets-url", "URL", "refresh buckets.yaml from this URL each cycle")
      .option("dataset", "PROJECT:DATASET", "BigQuery dataset (default kubernetes-public:k8s_infra_kettle)")
      .option("schema", "FILE", "schema.json for the tables (default schema.json)")
      .option("threads", "N", "HTTP requests in flight while collecting (default 32)")
      .option("stop_at", "H", "the stream phase ends when this local hour begins (default 1)")
      .option("request-timeout", "SECONDS", "deadline of one HTTP attempt (default 120)");
  add_observability(p, true);
  auto args = p.parse(words);
  if (!args) return 0;
  apply_common(*args);
  kettle::update::UpdateOptions opt;
  opt.db_path = args->get_or("db", default_db());
  opt.buckets_path = args->get_or("buckets", "buckets.yaml");
  opt.buckets_url = args->get_or("buckets-url", env_or("BUCKETS_URL", ""));
  opt.dataset = args->get_or("dataset", opt.dataset);
  opt.schema_path = args->get_or("schema", "schema.json");
  opt.subscription = env_or("SUBSCRIPTION_PATH", "");
  opt.prod = env_or("DEPLOYMENT", "staging") == "prod";
  opt.once = args->has("once");
  if (auto t = args->get_int("threads")) opt.threads = static_cast<size_t>(std::max(1LL, *t));
  opt.stop_at = stop_hour(*args).value_or(opt.stop_at);
  opt.build_limit = build_limit(*args);
  opt.request_timeout = request_timeout(*args).value_or(0);
  // The cycle runs several phases, each with its own event loop: one thread
  // takes the signals for all of them, so SIGTERM is graceful in every phase.
  static std::atomic<bool> stop{false};
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Started after the mask, so that its thread leaves the signals to sigwait.
  auto observability = start_observability(*args, true, opt.db_path);
  std::thread([signals] {
    int sig = 0;
    for (int received = 0; sigwait(&signals, &sig) == 0;) {
      if (++received > 1) {
        KLOG(error) << "signal " << sig << " again: exiting without finishing";
        std::_Exit(1);
      }
      KLOG(warning) << "signal " << sig << ": finishing the current phase's work in flight, then exiting";
      stop = true;
    }
  }).detach();
  int code = kettle::update::run_update(opt, stop);
  return stop ? 0 : code;
}

const char* kUsage =
    "usage: kettle COMMAND [flags]\n"
    "\n"
    "Collects Prow CI results from GCS into SQLite and BigQuery.\n"
    "\n"
    "commands:\n"
    "  make-db    collect builds (started/finished, JUnit) from GCS into the database\n"
    "  make-json  write BigQuery rows (NDJSON) for builds not yet emitted\n"
    "  bq-load    load an NDJSON file into a BigQuery table\n"
    "  stream     stream newly finished builds from Pub/Sub into BigQuery\n"
    "  update     the whole cycle: collect, load, stream (forever or --once)\n"
    "  monitor    check BigQuery table freshness\n"
    "\n"
    "common flags: --db PATH (env KETTLE_DB, default build.db), -v,\n"
    "  --metrics-addr HOST:PORT, --health-addr HOST:PORT (update, stream: :9090, :8081), --stall-timeout 15m\n"
    "Run 'kettle COMMAND --help' for a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty() || words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    (words.empty() ? std::cerr : std::cout) << kUsage;
    return words.empty() ? 2 : 0;
  }
  const std::string command = words[0];
  words.erase(words.begin());
  install_stop_signals();
  try {
    if (command == "make-json" || command == "make_json") return make_json(words);
    if (command == "make-db" || command == "make_db") return make_db(words);
    if (command == "bq-load") return bq_load(words);
    if (command == "monitor") return monitor(words);
    if (command == "stream") return stream(words);
    if (command == "update") return update(words);
    std::cerr << "kettle: unknown command '" << command << "'\n\n" << kUsage;
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "kettle " << command << ": " << e.what() << "\nRun 'kettle " << command << " --help' for usage.\n";
    return 2;
  } catch (const kettle::store::StoreError& e) {
    KLOG(error) << e.what();
  } catch (const kettle::config::ConfigError& e) {
    KLOG(error) << e.what();
  } catch (const kettle::auth::SetupException& e) {
    KLOG(error) << "credentials: " << e.what();
  } catch (const kettle::emit::OutputError& e) {
    KLOG(error) << e.what();
  } catch (const std::exception& e) {
    KLOG(error) << "kettle " << command << " failed: " << e.what();
  }
  return 1;
}
