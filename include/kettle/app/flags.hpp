// Flag groups shared by the commands, declared once each, and their
// validation: a bad value is a cli::UsageError (exit 2) wherever it appears.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "kettle/app/core.hpp"
#include "kettle/cli/args.hpp"

namespace kettle::app {

// Whether a command runs for long (update, stream): then /metrics and
// /healthz are served by default.
enum class Lifetime { one_shot, long_running };

// --db, -v, --metrics-addr, --health-addr, --stall-timeout, --shutdown-timeout, --log-format.
void add_core_flags(cli::Parser& parser, Lifetime lifetime);
// --threads (HTTP requests in flight), --request-timeout, --max-attempts.
void add_http_flags(cli::Parser& parser);
// --full-listing, --full-listing-every DURATION (make-db, update).
void add_listing_flags(cli::Parser& parser);
// --full-listing-every in seconds (0: every listing in full), nullopt when not given.
std::optional<int64_t> full_listing_every(const cli::Args& args);
// --schema FILE (default: the schema built into kettle).
void add_schema_flag(cli::Parser& parser);
// --min-free SIZE: free space the database's file system needs before collecting.
void add_min_free_flag(cli::Parser& parser);
// --junit-hold DURATION (stream, update): how long a finished build's row waits for its JUnit.
void add_junit_hold_flag(cli::Parser& parser);

// The core's options from those groups (the ones the command declared).
CoreOptions core_options(const cli::Args& args, Lifetime lifetime);

// --buildlimit, else env BUILD_LIMIT, else 0 (no limit).
int64_t build_limit(const cli::Args& args);
// --min-free, else store::kDefaultMinFree (0 = no check).
uint64_t min_free(const cli::Args& args);
// A retention period (--junit-older-than, --retain-junit): whole seconds, positive.
std::optional<std::chrono::seconds> retention(const cli::Args& args, const char* flag);
// --junit-hold, nullopt when not given (the default is stream::JunitHoldConfig's).
std::optional<std::chrono::milliseconds> junit_hold(const cli::Args& args);
// --stop_at, an hour of the day.
std::optional<int> stop_hour(const cli::Args& args);
// An environment variable, or `fallback` when unset or empty.
std::string env_or(const char* name, const std::string& fallback);

}  // namespace kettle::app
