#include "kettle/app/flags.hpp"

#include <cstdlib>

#include "kettle/obs/log.hpp"
#include "kettle/store/headroom.hpp"

namespace kettle::app {

using cli::UsageError;

void add_core_flags(cli::Parser& p, Lifetime lifetime) {
  const bool long_running = lifetime == Lifetime::long_running;
  const std::string metrics_default = long_running ? "default :9090" : "default off";
  const std::string health_default = long_running ? "default :8081" : "default off";
  p.option("db", "PATH", "SQLite database (env KETTLE_DB, default build.db)")
      .option("metrics-addr", "HOST:PORT", "serve Prometheus /metrics here (" + metrics_default + "; '' = off)")
      .option("health-addr", "HOST:PORT", "serve /healthz and /healthz/ready here (" + health_default + "; '' = off)")
      .option("stall-timeout", "DURATION",
              "/healthz fails when a stage with work made no progress for this long (default 15m)")
      .option("shutdown-timeout", "DURATION",
              "after SIGTERM, requests on the wire get this long before they are abandoned (default 20s)")
      .option("log-format", "text|json",
              "text: glog-style lines (default); json: one object per line with Cloud Logging's fields");
}

void add_http_flags(cli::Parser& p) {
  p.option("threads", "N", "HTTP requests in flight (default 32)")
      .option("request-timeout", "DURATION", "deadline of one HTTP attempt, long polls included (default 120s)")
      .option("max-attempts", "N", "HTTP attempts per request before giving up (default 10)");
}

void add_listing_flags(cli::Parser& p) {
  p.flag("full-listing", "list every job and PR pointer in full, as the reference does (no listing from a cursor)")
      .option("full-listing-every", "DURATION",
              "a job listed from its cursor is still listed in full once in this period (default 24h; 0 = always)");
}

std::optional<int64_t> full_listing_every(const cli::Args& args) {
  auto d = args.get_duration("full-listing-every");
  if (!d) return std::nullopt;
  if (d->count() < 0) throw UsageError("--full-listing-every must not be negative");
  return std::chrono::duration_cast<std::chrono::seconds>(*d).count();
}

void add_schema_flag(cli::Parser& p) {
  p.option("schema", "FILE", "schema.json for the tables (default: the schema built into kettle)");
}

void add_min_free_flag(cli::Parser& p) {
  p.option("min-free", "SIZE",
           "collect only while the database's file system has this much free, e.g. 2GiB, 500MiB (default 2GiB; "
           "0 = no check)");
}

void add_junit_hold_flag(cli::Parser& p) {
  p.option("junit-hold", "DURATION",
           "a finished build's row waits this long for its JUnit when the download fails, then goes without "
           "tests (default 30m; 0 = no wait)");
}

namespace {

std::chrono::milliseconds positive_duration(const cli::Args& args, const char* flag, std::chrono::milliseconds fallback) {
  auto d = args.get_duration(flag);
  if (!d) return fallback;
  if (d->count() <= 0) throw UsageError(std::string("--") + flag + " must be positive");
  return *d;
}

std::optional<obs::ServerOptions> server_options(const cli::Args& args, Lifetime lifetime) {
  const bool long_running = lifetime == Lifetime::long_running;
  auto address = [&](const char* flag, const char* fallback) {
    std::string value = args.get_or(flag, long_running ? fallback : "");
    return value == "off" ? std::string() : value;
  };
  obs::ServerOptions options;
  options.metrics_addr = address("metrics-addr", ":9090");
  options.health_addr = address("health-addr", ":8081");
  options.metrics_addr_is_default = !args.has("metrics-addr");
  options.health_addr_is_default = !args.has("health-addr");
  options.stall_timeout = positive_duration(args, "stall-timeout", std::chrono::minutes(15));
  if (options.metrics_addr.empty() && options.health_addr.empty()) return std::nullopt;
  return options;
}

}  // namespace

CoreOptions core_options(const cli::Args& args, Lifetime lifetime) {
  obs::set_verbose(args.has("v"));
  if (auto format = args.get("log-format")) {
    auto parsed = obs::parse_log_format(*format);
    if (!parsed) throw UsageError("--log-format must be text or json");
    obs::set_log_format(*parsed);
  }
  CoreOptions o;
  o.db_path = args.get_or("db", env_or("KETTLE_DB", "build.db"));
  o.server = server_options(args, lifetime);
  o.shutdown_timeout = positive_duration(args, "shutdown-timeout", o.shutdown_timeout);
  o.schema_path = args.get_or("schema", "");
  if (auto t = args.get_int("threads")) {
    if (*t < 1 || *t > 100000) throw UsageError("--threads must be between 1 and 100000");
    o.http.max_in_flight = static_cast<size_t>(*t);
  } else {
    o.http.max_in_flight = 32;
  }
  o.http.max_connections_per_host = std::max(o.http.max_connections_per_host, o.http.max_in_flight);
  if (args.has("request-timeout")) {
    auto limit = positive_duration(args, "request-timeout", {});
    net::limit_attempt_time(o.http, std::chrono::duration<double>(limit).count());
  }
  if (auto n = args.get_int("max-attempts")) {
    if (*n < 1 || *n > 1000) throw UsageError("--max-attempts must be between 1 and 1000");
    o.http.retry.max_attempts = static_cast<int>(*n);
  }
  return o;
}

int64_t build_limit(const cli::Args& args) {
  std::optional<long long> limit = args.get_int("buildlimit");
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

uint64_t min_free(const cli::Args& args) { return args.get_size("min-free").value_or(store::kDefaultMinFree); }

std::optional<std::chrono::seconds> retention(const cli::Args& args, const char* flag) {
  auto d = args.get_duration(flag);
  if (!d) return std::nullopt;
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*d);
  if (seconds.count() <= 0) throw UsageError(std::string("--") + flag + " must be at least 1s (e.g. 90d)");
  return seconds;
}

std::optional<std::chrono::milliseconds> junit_hold(const cli::Args& args) { return args.get_duration("junit-hold"); }

std::optional<int> stop_hour(const cli::Args& args) {
  auto h = args.get_int("stop_at");
  if (!h) return std::nullopt;
  if (*h < 0 || *h > 23) throw UsageError("--stop_at must be an hour from 0 to 23");
  return static_cast<int>(*h);
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

}  // namespace kettle::app
