#include "kettle/app/core.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "kettle/auth/default_credentials.hpp"
#include "kettle/bigquery/client.hpp"
#include "kettle/bigquery/schema.hpp"
#include "kettle/gcs/client.hpp"
#include "kettle/obs/http_metrics.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/log.hpp"
#include "kettle/pubsub/client.hpp"

namespace kettle::app {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

net::Config with_metrics(net::Config config) {
  if (!config.observer) config.observer = obs::http_metrics_observer();
  return config;
}

unsigned cpu_threads() { return std::max(2u, std::thread::hardware_concurrency()); }

}  // namespace

Core::Core(CoreOptions options)
    : options_(std::move(options)),
      io_(1),
      cpu_(cpu_threads()),
      http_(io_.get_executor(), with_metrics(options_.http)),
      stop_event_(io_, asio::steady_timer::time_point::max()),
      shutdown_timer_(io_) {
  if (options_.server) server_ = std::make_unique<obs::Server>(*options_.server);
}

Core::~Core() {
  http_.stop();
  cpu_.join();
}

int Core::run(std::function<asio::awaitable<int>(Core&)> command) {
  int code = 1;
  std::exception_ptr failure;
  asio::signal_set signals(io_, SIGINT, SIGTERM);
  std::function<void(const boost::system::error_code&, int)> on_signal_wait =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        on_signal(sig);
        signals.async_wait(on_signal_wait);
      };
  signals.async_wait(on_signal_wait);
  asio::co_spawn(io_, command(*this), [&](std::exception_ptr e, int result) {
    failure = e;
    code = result;
    signals.cancel();
    shutdown_timer_.cancel();
    stop_event_.cancel();
    http_.stop();
  });
  io_.run();
  if (failure) std::rethrow_exception(failure);
  if (stopping_ && code == 0) KLOG(info) << "stopped cleanly: everything collected is committed";
  return code;
}

void Core::on_signal(int sig) {
  if (++signals_ > 1) {
    KLOG(warning) << "signal " << sig << " again: exiting now, abandoning the work in flight (the database keeps "
                << "its last commit)";
    std::_Exit(1);
  }
  const auto grace = std::chrono::duration_cast<std::chrono::seconds>(options_.shutdown_timeout).count();
  KLOG(warning) << "signal " << sig << ": stopping; requests on the wire get up to " << grace
                << "s, then everything collected is committed (signal again to abandon)";
  request_stop("signal");
}

void Core::request_stop(const char* why) {
  if (stopping_.exchange(true)) return;
  KLOG(debug) << "stop requested (" << why << ")";
  http_.shutdown();
  stop_event_.cancel();
  shutdown_timer_.expires_after(options_.shutdown_timeout);
  shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    KLOG(warning) << "shutdown timeout: abandoning the requests still on the wire";
    http_.stop();
  });
}

asio::awaitable<bool> Core::sleep(std::chrono::steady_clock::duration d) {
  if (stopping_) co_return false;
  asio::steady_timer timer(io_, d);
  boost::system::error_code ec1, ec2;
  auto which = co_await (timer.async_wait(asio::redirect_error(asio::use_awaitable, ec1)) ||
                         stop_event_.async_wait(asio::redirect_error(asio::use_awaitable, ec2)));
  co_return which.index() == 0 && !stopping_;
}

asio::awaitable<void> Core::connect(unsigned apis) {
  auto gcs_endpoint = gcs::endpoint_from_env();
  auto ps_endpoint = pubsub::endpoint_from_env();
  auto bq_endpoint = bigquery::endpoint_from_env();
  const bool need_credentials = ((apis & gcs_api) && !gcs_endpoint.emulator) ||
                                ((apis & pubsub_api) && !ps_endpoint.emulator) ||
                                ((apis & bigquery_api) && !bq_endpoint.emulator);
  if (need_credentials && !credentials_) {
    // Named arguments, no temporaries: g++ 12 destroys temporaries of a
    // co_await expression twice.
    auth::Environment env = auth::process_environment();
    auth::Config config;
    auto made = co_await auth::make_default_credentials(http_, env, config);
    if (!made) throw auth::SetupException(made.error());
    credentials_ = *made;
  }
  auto credentials_for = [this](const net::Endpoint& e) { return e.emulator ? nullptr : credentials_; };
  // Retries of the APIs in use exported at 0, so increase() sees the first.
  for (auto [api, name] : {std::pair{gcs_api, "gcs"}, {pubsub_api, "pubsub"}, {bigquery_api, "bigquery"}})
    if (apis & api) obs::metrics().http_retries.with({name});
  if ((apis & gcs_api) && !gcs_) {
    gcs::ClientConfig config;
    config.base_url = gcs_endpoint.base_url;
    gcs_ = std::make_unique<gcs::Client>(http_, credentials_for(gcs_endpoint), config);
  }
  if ((apis & pubsub_api) && !pubsub_) {
    pubsub::ClientConfig config;
    config.base_url = ps_endpoint.base_url;
    // A long poll is still one attempt: --request-timeout bounds it too.
    const auto attempt_limit = http_.config().timeouts.total;
    config.long_poll_headers_timeout = std::min(config.long_poll_headers_timeout, attempt_limit);
    config.long_poll_total_timeout = std::min(config.long_poll_total_timeout, attempt_limit);
    pubsub_ = std::make_unique<pubsub::Client>(http_, credentials_for(ps_endpoint), config);
  }
  if ((apis & bigquery_api) && !bigquery_) {
    bigquery::ClientConfig config;
    config.base_url = bq_endpoint.base_url;
    config.file_executor = cpu_.get_executor();
    bigquery_ = std::make_unique<bigquery::Client>(http_, credentials_for(bq_endpoint), config);
  }
}

namespace {
template <class T>
T& connected(const std::unique_ptr<T>& client, const char* name) {
  if (!client) throw std::logic_error(std::string("the ") + name + " client is used before connect()");
  return *client;
}
}  // namespace

gcs::Client& Core::gcs() { return connected(gcs_, "GCS"); }
pubsub::Client& Core::pubsub() { return connected(pubsub_, "Pub/Sub"); }
bigquery::Client& Core::bigquery() { return connected(bigquery_, "BigQuery"); }

std::string Core::credentials_description() const {
  return credentials_ ? credentials_->description() : std::string("none (anonymous or an emulator)");
}

const boost::json::array& Core::schema() {
  if (!schema_) {
    schema_ = options_.schema_path.empty() ? bigquery::builtin_schema() : bigquery::read_schema(options_.schema_path);
  }
  return *schema_;
}

}  // namespace kettle::app
