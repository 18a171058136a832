// fakegcp: a local fake of the Google Cloud APIs kettle talks to (GCS, Pub/Sub,
// BigQuery, OAuth, metadata), for tests, benchmarks and the demo. See server.hpp and the
// services for the behaviour; this file is only the command line.
#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "kettle/obs/log.hpp"
#include "server.hpp"

namespace {

constexpr std::string_view kUsage =
    "usage: fakegcp --root DIR [--synthetic BUCKET=SPEC]... [--host 127.0.0.1] [--port 0]\n"
    "               [--threads N]\n"
    "               [--tls-cert PEM --tls-key PEM] [--sa-public-key PEM]\n"
    "               [--token-ttl SECONDS] [--require-auth] [--faults FILE]\n"
    "               [--client-id ID] [--client-secret SECRET] [--refresh-token TOKEN]\n"
    "               [--latency-ms N] [--seed N] [--project ID] [-v]\n"
    "               [--pull-hold-ms N] [--min-ack-deadline SECONDS]\n"
    "               [--topic projects/P/topics/T] [--subscription "
    "projects/P/subscriptions/S=TOPIC]\n"
    "               [--notify BUCKET=projects/P/topics/T] [--dataset PROJECT:DATASET]\n"
    "               [--bq-job-delay-ms N]\n";

struct UsageError {
  std::string message;
};

unsigned long parse_number(std::string_view flag, const std::string& value) {
  char* end = nullptr;
  unsigned long n = std::strtoul(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || value.front() == '-')
    throw UsageError{std::string(flag) + " needs a non-negative integer, got '" + value + "'"};
  return n;
}

unsigned short parse_port(const std::string& value) {
  unsigned long n = parse_number("--port", value);
  if (n > 65535) throw UsageError{"--port must be at most 65535"};
  return static_cast<unsigned short>(n);
}

// "KEY=VALUE" of a repeatable flag.
std::pair<std::string, std::string> split_pair(std::string_view flag, const std::string& value) {
  auto eq = value.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
    throw UsageError{std::string(flag) + " wants KEY=VALUE, got '" + value + "'"};
  return {value.substr(0, eq), value.substr(eq + 1)};
}

fakegcp::ServerConfig parse_args(int argc, char** argv) {
  fakegcp::ServerConfig config;
  config.threads = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      inline_value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) throw UsageError{arg + " needs a value"};
      return argv[++i];
    };
    if (arg == "--root")
      config.root = value();
    else if (arg == "--synthetic")
      config.synthetic.push_back(split_pair(arg, value()));
    else if (arg == "--host")
      config.host = value();
    else if (arg == "--port")
      config.port = parse_port(value());
    else if (arg == "--threads")
      config.threads = static_cast<unsigned>(parse_number(arg, value()));
    else if (arg == "--tls-cert")
      config.tls_cert = value();
    else if (arg == "--tls-key")
      config.tls_key = value();
    else if (arg == "--sa-public-key")
      config.sa_public_key = value();
    else if (arg == "--token-ttl")
      config.token_ttl_seconds = static_cast<unsigned>(parse_number(arg, value()));
    else if (arg == "--client-id")
      config.oauth_client_id = value();
    else if (arg == "--client-secret")
      config.oauth_client_secret = value();
    else if (arg == "--refresh-token")
      config.refresh_token = value();
    else if (arg == "--require-auth")
      config.require_auth = true;
    else if (arg == "--faults")
      config.faults_file = value();
    else if (arg == "--latency-ms")
      config.latency_ms = static_cast<unsigned>(parse_number(arg, value()));
    else if (arg == "--seed")
      config.seed = parse_number(arg, value());
    else if (arg == "--project")
      config.project_id = value();
    else if (arg == "--pull-hold-ms")
      config.pull_hold_ms = static_cast<unsigned>(parse_number(arg, value()));
    else if (arg == "--min-ack-deadline")
      config.min_ack_deadline_s = static_cast<unsigned>(parse_number(arg, value()));
    else if (arg == "--topic")
      config.topics.push_back(value());
    else if (arg == "--subscription")
      config.subscriptions.push_back(split_pair(arg, value()));
    else if (arg == "--notify")
      config.notifications.push_back(split_pair(arg, value()));
    else if (arg == "--dataset")
      config.datasets.push_back(value());
    else if (arg == "--bq-job-delay-ms")
      config.bq_job_delay_ms = static_cast<unsigned>(parse_number(arg, value()));
    else if (arg == "-v" || arg == "--verbose")
      kettle::obs::set_verbose(true);
    else if (arg == "-h" || arg == "--help")
      throw UsageError{};
    else
      throw UsageError{"unknown flag " + arg};
  }
  if (config.root.empty() && config.synthetic.empty())
    throw UsageError{"--root or --synthetic is required"};
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  fakegcp::ServerConfig config;
  try {
    config = parse_args(argc, argv);
  } catch (const UsageError& e) {
    if (!e.message.empty()) std::cerr << "fakegcp: " << e.message << "\n";
    std::cerr << kUsage;
    return 2;
  }

  // Blocked before the io threads exist, so only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    fakegcp::Server server(std::move(config));
    server.start();
    std::cout << "listening on " << server.base_url()
              << std::endl;  // the one line callers wait for
    int signal = 0;
    sigwait(&stop_signals, &signal);
    KLOG(info) << "fakegcp: signal " << signal << ", stopping";
    server.stop();
  } catch (const std::exception& e) {
    KLOG(error) << "fakegcp: " << e.what();
    return 1;
  }
  return 0;
}
