// kettle: command-line dispatch only. Each command declares its flag groups,
// turns them into its options, and runs as a coroutine over the one core.
#include <iostream>
#include <string>
#include <vector>

#include "kettle/app/core.hpp"
#include "kettle/app/flags.hpp"
#include "kettle/auth/credentials.hpp"
#include "kettle/cli/args.hpp"
#include "kettle/collect/make_db.hpp"
#include "kettle/config/buckets.hpp"
#include "kettle/emit/file_sink.hpp"
#include "kettle/emit/make_json.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/store/database.hpp"
#include "kettle/store/headroom.hpp"
#include "kettle/store/prune.hpp"
#include "kettle/stream/stream.hpp"
#include "kettle/update/bq_load.hpp"
#include "kettle/update/cycle.hpp"
#include "kettle/update/monitor.hpp"
#include "kettle/update/prune.hpp"

namespace {

namespace asio = boost::asio;
using kettle::app::Core;
using kettle::app::Lifetime;
using kettle::cli::Args;
using kettle::cli::Parser;
using kettle::cli::UsageError;

// Builds the core and runs `command` in it.
template <class Command>
int run_in_core(kettle::app::CoreOptions options, Command command) {
  Core core(std::move(options));
  return core.run(std::move(command));
}

int make_json(const std::vector<std::string>& words) {
  Parser p("kettle make-json [flags] [gs://build/path ...]",
           "Writes one BigQuery row (JSON) per build not yet emitted, then records them as emitted.");
  kettle::app::add_core_flags(p, Lifetime::one_shot);
  p.option("days", "D", "only builds finished in the last D days; tracked in table build_emitted_<D>")
      .flag("reset-emitted", "forget what was emitted into this table before emitting")
      .option("assert-oldest", "X",
              "emit nothing; exit 1 if the table is empty or its oldest build finished more than X days ago")
      .option("buckets", "FILE", "buckets.yaml mapping build locations to job prefixes (default buckets.yaml)")
      .option("output", "FILE", "write here instead of standard output (appears complete or not at all)")
      .flag("gzip", "compress the output with gzip")
      .option("threads", "N", "row-building threads (default: all cores)")
      .positionals("gs://build/path", "emit exactly these builds (scratch table incremental_manual)");
  auto args = p.parse(words);
  if (!args) return 0;
  // The shared flags first: their errors read the same in every command.
  auto core_options = kettle::app::core_options(*args, Lifetime::one_shot);
  kettle::emit::MakeJsonOptions opt;
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
  return run_in_core(core_options, [opt](Core& core) mutable -> asio::awaitable<int> {
    opt.db_path = core.db_path();
    opt.should_stop = [&core] { return core.stopping(); };
    kettle::obs::watch_database_size(core.db_path());
    // A named closure: g++ 12 destroys a temporary in a co_await expression twice.
    auto emit_rows = [opt] { return kettle::emit::run_make_json(opt); };
    auto result = co_await core.offload(emit_rows);
    co_return result.exit_code;
  });
}

int make_db(const std::vector<std::string>& words) {
  Parser p("kettle make-db --buckets FILE [flags]",
           "Collects Prow builds (started.json, finished.json and, with --junit, JUnit XML) from GCS into the "
           "database.\nA rerun fetches only what is new; SIGTERM finishes the builds in flight and commits.");
  kettle::app::add_core_flags(p, Lifetime::one_shot);
  kettle::app::add_http_flags(p);
  p.option("buckets", "FILE", "buckets.yaml listing the GCS build locations (default buckets.yaml)")
      .flag("junit", "also download JUnit results of builds that miss them")
      .option("buildlimit", "N", "at most N builds per job (env BUILD_LIMIT; 0 = no limit)")
      .flag("skip-gcs", "skip build collection (with --junit: only download JUnit)");
  kettle::app::add_listing_flags(p);
  kettle::app::add_min_free_flag(p);
  auto args = p.parse(words);
  if (!args) return 0;
  // The shared flags first: their errors read the same in every command.
  auto core_options = kettle::app::core_options(*args, Lifetime::one_shot);
  kettle::collect::MakeDbOptions opt;
  opt.buckets_path = args->get_or("buckets", "buckets.yaml");
  opt.junit = args->has("junit");
  opt.skip_gcs = args->has("skip-gcs");
  opt.build_limit = kettle::app::build_limit(*args);
  opt.full_listing = args->has("full-listing");
  opt.listing.full_listing_every = kettle::app::full_listing_every(*args).value_or(opt.listing.full_listing_every);
  const uint64_t min_free = kettle::app::min_free(*args);
  return run_in_core(core_options, [opt, min_free](Core& core) -> asio::awaitable<int> {
    kettle::obs::watch_database_size(core.db_path());
    if (auto headroom = kettle::store::check_headroom(core.db_path(), min_free); !headroom.ok) {
      KLOG(error) << "make-db: not collecting: " << headroom.message;
      co_return 1;
    }
    auto result = co_await kettle::collect::make_db(core, opt);
    co_return kettle::collect::exit_code(result);
  });
}

int bq_load(const std::vector<std::string>& words) {
  Parser p("kettle bq-load --dataset PROJECT:DATASET --table NAME [flags] FILE.ndjson[.gz]",
           "Loads newline-delimited JSON (gzip or not) into a BigQuery table with a load job and waits for it.");
  kettle::app::add_core_flags(p, Lifetime::one_shot);
  kettle::app::add_schema_flag(p);
  p.option("dataset", "PROJECT:DATASET", "the dataset")
      .option("table", "NAME", "the table (created with the schema when missing)")
      .flag("replace", "replace the table's rows (WRITE_TRUNCATE) instead of appending")
      .option("max-bad-records", "N", "rows BigQuery may reject before the job fails (default 0)")
      .positionals("FILE", "the NDJSON file");
  auto args = p.parse(words);
  if (!args) return 0;
  // The shared flags first: their errors read the same in every command.
  auto core_options = kettle::app::core_options(*args, Lifetime::one_shot);
  kettle::update::BqLoadOptions opt;
  opt.dataset = args->get_or("dataset", "");
  opt.table = args->get_or("table", "");
  if (opt.dataset.empty() || opt.table.empty()) throw UsageError("--dataset and --table are required");
  if (args->positionals().size() != 1) throw UsageError("exactly one FILE to load");
  opt.file = args->positionals()[0];
  opt.replace = args->has("replace");
  auto bad = args->get_int("max-bad-records").value_or(0);
  if (bad < 0 || bad > 1'000'000'000) throw UsageError("--max-bad-records must be between 0 and 1000000000");
  opt.max_bad_records = static_cast<int>(bad);
  return run_in_core(core_options,
                     [opt](Core& core) { return kettle::update::bq_load(core, opt); });
}

int monitor(const std::vector<std::string>& words) {
  Parser p("kettle monitor --table PROJECT:DATASET.TABLE... [--stale HOURS]",
           "Prints each table's size, rows and age as JSON; exit 1 when one is missing or older than --stale.");
  kettle::app::add_core_flags(p, Lifetime::one_shot);
  p.option("table", "PROJECT:DATASET.TABLE", "tables to check", true)
      .option("stale", "HOURS", "a table not modified for longer is stale (default: not checked)");
  auto args = p.parse(words);
  if (!args) return 0;
  // The shared flags first: their errors read the same in every command.
  auto core_options = kettle::app::core_options(*args, Lifetime::one_shot);
  kettle::update::MonitorOptions opt;
  opt.tables = args->all("table");
  if (opt.tables.empty()) throw UsageError("--table is required");
  opt.stale_hours = args->get_double("stale");
  if (opt.stale_hours && *opt.stale_hours < 0) throw UsageError("--stale must not be negative");
  return run_in_core(core_options,
                     [opt](Core& core) { return kettle::update::monitor(core, opt); });
}

int stream(const std::vector<std::string>& words) {
  Parser p("kettle stream --poll PROJECT/TOPIC/SUBSCRIPTION --dataset PROJECT:DATASET --tables NAME:DAYS... [flags]",
           "Streams newly finished builds from GCS notifications (Pub/Sub) into the database and BigQuery.\n"
           "Stops when the --stop_at hour begins, when a file named 'stop' appears, or on SIGTERM.");
  kettle::app::add_core_flags(p, Lifetime::long_running);
  kettle::app::add_http_flags(p);
  kettle::app::add_schema_flag(p);
  p.option("poll", "PROJECT/TOPIC/SUBSCRIPTION", "the Pub/Sub subscription to pull")
      .option("dataset", "PROJECT:DATASET", "the BigQuery dataset")
      .option("tables", "NAME:DAYS", "tables to insert into, with their window in days", true)
      .option("stop_at", "H", "stop when this local hour (0-23) begins")
      .option("buckets", "FILE", "buckets.yaml (default buckets.yaml)");
  kettle::app::add_junit_hold_flag(p);
  auto args = p.parse(words);
  if (!args) return 0;
  // The shared flags first: their errors read the same in every command.
  auto core_options = kettle::app::core_options(*args, Lifetime::long_running);
  kettle::stream::StreamOptions opt;
  if (auto hold = kettle::app::junit_hold(*args)) opt.junit_hold.hold = *hold;
  opt.poll = args->get_or("poll", "");
  opt.dataset = args->get_or("dataset", "");
  opt.tables = args->all("tables");
  if (opt.poll.empty() || opt.dataset.empty() || opt.tables.empty())
    throw UsageError("--poll, --dataset and --tables are required");
  opt.stop_at = kettle::app::stop_hour(*args);
  opt.buckets_path = args->get_or("buckets", "buckets.yaml");
  return run_in_core(core_options, [opt](Core& core) -> asio::awaitable<int> {
    kettle::obs::watch_database_size(core.db_path());
    co_return co_await kettle::stream::run_stream(core, opt);
  });
}

int update(const std::vector<std::string>& words) {
  Parser p("kettle update [--once] [--buckets FILE] [--dataset PROJECT:DATASET]",
           "The whole cycle: collect (make-db --junit), load the tables (make-json + bq-load), stream until the\n"
           "stop hour (America/Los_Angeles unless TZ is set); forever. Environment: DEPLOYMENT (prod: tables day,\n"
           "week, all; else one staging table), SUBSCRIPTION_PATH (PROJECT/TOPIC/SUBSCRIPTION), BUILD_LIMIT,\n"
           "BUCKETS_URL, KETTLE_DB.");
  kettle::app::add_core_flags(p, Lifetime::long_running);
  kettle::app::add_http_flags(p);
  kettle::app::add_schema_flag(p);
  p.flag("once", "one collect + load cycle, no stream phase")
      .option("buckets", "FILE", "buckets.yaml (default buckets.yaml)")
      .option("buckets-url", "URL", "refresh buckets.yaml from this URL each cycle (env BUCKETS_URL; '' = off)")
      .option("dataset", "PROJECT:DATASET", "BigQuery dataset (default kubernetes-public:k8s_infra_kettle)")
      .option("stop_at", "H", "the stream phase ends when this hour begins (default 1)")
      .option("retain-junit", "DURATION",
              "each cycle, drop the stored JUnit of builds that finished longer ago, e.g. 90d (default: keep all; "
              "see 'kettle prune --help')");
  kettle::app::add_listing_flags(p);
  kettle::app::add_min_free_flag(p);
  kettle::app::add_junit_hold_flag(p);
  auto args = p.parse(words);
  if (!args) return 0;
  // The shared flags first: their errors read the same in every command.
  auto core_options = kettle::app::core_options(*args, Lifetime::long_running);
  kettle::update::UpdateOptions opt;
  opt.retain_junit = kettle::app::retention(*args, "retain-junit");
  opt.min_free = kettle::app::min_free(*args);
  opt.junit_hold = kettle::app::junit_hold(*args);
  opt.collect.buckets_path = args->get_or("buckets", "buckets.yaml");
  opt.collect.build_limit = kettle::app::build_limit(*args);
  opt.collect.full_listing = args->has("full-listing");
  opt.collect.listing.full_listing_every =
      kettle::app::full_listing_every(*args).value_or(opt.collect.listing.full_listing_every);
  // An empty --buckets-url or BUCKETS_URL turns the refresh off.
  opt.buckets_url = args->has("buckets-url") ? args->get_or("buckets-url", "")
                                             : kettle::app::env_or("BUCKETS_URL", "");
  opt.dataset = args->get_or("dataset", opt.dataset);
  opt.subscription = kettle::app::env_or("SUBSCRIPTION_PATH", "");
  opt.prod = kettle::app::env_or("DEPLOYMENT", "staging") == "prod";
  opt.once = args->has("once");
  opt.stop_at = kettle::app::stop_hour(*args).value_or(opt.stop_at);
  // prod's widest window is the all table's; the database's windows are checked every cycle.
  constexpr auto kProdWidestWindow = std::chrono::hours(30 * 24);
  if (opt.prod && opt.retain_junit && *opt.retain_junit <= kProdWidestWindow)
    throw UsageError("--retain-junit must be longer than 30d, the window of prod's all table");
  return run_in_core(core_options, [opt](Core& core) -> asio::awaitable<int> {
    kettle::obs::watch_database_size(core.db_path());
    co_return co_await kettle::update::run_update(core, opt);
  });
}

int prune(const std::vector<std::string>& words) {
  Parser p("kettle prune --junit-older-than DURATION [flags]",
           "Drops the stored JUnit of builds that finished longer ago than DURATION (e.g. 90d), so the database\n"
           "stops growing. The build rows stay: make-db never collects these builds or their JUnit again.\n"
           "DURATION must be longer than every make-json --days window in use (the D of each build_emitted_<D>\n"
           "table); where build_emitted exists (make-json without --days), only builds recorded there are pruned.\n"
           "Freed pages are reused; a database created by kettle (auto_vacuum=INCREMENTAL) also shrinks.\n"
           "Runs in short transactions, so a stream writing the same database is never blocked for long.\n"
           "WARNING: a later 'make-json --reset-emitted' without --days, or make-json with explicit paths, emits\n"
           "pruned builds again, without their tests.");
  kettle::app::add_core_flags(p, Lifetime::one_shot);
  p.option("junit-older-than", "DURATION", "drop the JUnit of builds that finished longer ago (e.g. 45d, 90d)");
  auto args = p.parse(words);
  if (!args) return 0;
  // The shared flags first: their errors read the same in every command.
  auto core_options = kettle::app::core_options(*args, Lifetime::one_shot);
  auto older_than = kettle::app::retention(*args, "junit-older-than");
  if (!older_than) throw UsageError("--junit-older-than is required");
  return run_in_core(core_options, [older_than = *older_than](Core& core) -> asio::awaitable<int> {
    kettle::obs::watch_database_size(core.db_path());
    try {
      co_await kettle::update::run_prune(core, older_than);
    } catch (const kettle::store::CutoffError& e) {
      // The value does not fit the database: a usage error (exit 2).
      throw UsageError(std::string("--junit-older-than: ") + e.what());
    }
    co_return 0;
  });
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
    "  prune      drop the stored JUnit of old builds (retention)\n"
    "\n"
    "common flags: --db PATH (env KETTLE_DB, default build.db), -v, --shutdown-timeout 20s,\n"
    "  --metrics-addr HOST:PORT, --health-addr HOST:PORT (update, stream: :9090, :8081), --stall-timeout 15m,\n"
    "  --log-format text|json (json: Cloud Logging's fields)\n"
    "Run 'kettle COMMAND --help' for a command's flags; 'kettle --version' for the version.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty() || words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    (words.empty() ? std::cerr : std::cout) << kUsage;
    return words.empty() ? 2 : 0;
  }
  if (words[0] == "--version" || words[0] == "version") {
    std::cout << "kettle " << kettle::obs::version() << "\n";
    return 0;
  }
  const std::string command = words[0];
  words.erase(words.begin());
  try {
    if (command == "make-json" || command == "make_json") return make_json(words);
    if (command == "make-db" || command == "make_db") return make_db(words);
    if (command == "bq-load") return bq_load(words);
    if (command == "monitor") return monitor(words);
    if (command == "stream") return stream(words);
    if (command == "update") return update(words);
    if (command == "prune") return prune(words);
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
