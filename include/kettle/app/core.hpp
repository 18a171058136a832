// The application core every command runs in. It owns the event loop, the CPU
// pool, the HTTP client, the credentials, the API clients, the database path,
// the /metrics and /healthz server, and the one stop path:
//
//   first SIGTERM/SIGINT  -> stop requested: commands start no new work, the
//                            HTTP client refuses new requests and ends backoff
//                            waits, queued attempts and long polls at once;
//                            attempts on the wire get --shutdown-timeout, then
//                            are abandoned; the command commits and returns.
//   second signal         -> exit at once (SQLite transactions keep the DB sound).
//
// Commands are coroutines over the core: `int run(core, options)`.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "kettle/auth/credentials.hpp"
#include "kettle/net/config.hpp"
#include "kettle/net/http_client.hpp"
#include "kettle/obs/server.hpp"

namespace kettle::gcs {
class Client;
}
namespace kettle::pubsub {
class Client;
}
namespace kettle::bigquery {
class Client;
}

namespace kettle::app {

struct CoreOptions {
  std::string db_path = "build.db";         // --db, env KETTLE_DB
  net::Config http{};                       // deadlines, retries, requests in flight
  std::optional<obs::ServerOptions> server; // /metrics and /healthz; nullopt: none
  // Attempts on the wire may finish for this long after the first signal.
  std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(20);
  std::string schema_path;                  // --schema; empty: the built-in schema.json
};

// Which API clients a command uses; credentials are looked up only for those.
enum Api : unsigned { gcs_api = 1, pubsub_api = 2, bigquery_api = 4 };

class Core {
 public:
  explicit Core(CoreOptions options);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Runs `command` on the event loop until it returns, with the signal
  // handling above. An exception from the command is rethrown here.
  int run(std::function<boost::asio::awaitable<int>(Core&)> command);

  boost::asio::io_context& io() { return io_; }
  boost::asio::thread_pool& cpu() { return cpu_; }
  net::HttpClient& http() { return http_; }
  const CoreOptions& options() const { return options_; }
  const std::string& db_path() const { return options_.db_path; }

  // Creates the API clients in `apis` (once each), looking up credentials
  // when some of them is not an emulator. Throws auth::SetupException.
  boost::asio::awaitable<void> connect(unsigned apis);
  gcs::Client& gcs();            // after connect(gcs_api)
  pubsub::Client& pubsub();      // after connect(pubsub_api)
  bigquery::Client& bigquery();  // after connect(bigquery_api)
  // Where the credentials in use come from ("anonymous" when none), for hints.
  std::string credentials_description() const;

  // The table schema: --schema FILE, else the one built into the binary.
  const boost::json::array& schema();

  // Sets the HTTP retry policy until the guard ends: the stream's short
  // budgets inside `update`, whose other phases keep the configured one.
  class RetryScope {
   public:
    RetryScope(net::HttpClient& http, net::RetryConfig retry) : http_(http), saved_(http.config().retry) {
      http_.set_retry(retry);
    }
    ~RetryScope() { http_.set_retry(saved_); }
    RetryScope(const RetryScope&) = delete;
    RetryScope& operator=(const RetryScope&) = delete;

   private:
    net::HttpClient& http_;
    net::RetryConfig saved_;
  };
  [[nodiscard]] RetryScope retry_scope(net::RetryConfig retry) { return RetryScope(http_, retry); }

  // --- the stop path ---
  bool stopping() const { return stopping_.load(); }
  // As a signal does (tests, the `stop` file, the stream's stop hour use their own exits).
  void request_stop(const char* why);
  // Waits `d`, or less when a stop is requested; true when the full time passed.
  boost::asio::awaitable<bool> sleep(std::chrono::steady_clock::duration d);

  // Runs blocking work (SQLite scans, row building, file I/O) on the CPU pool
  // and resumes on the event loop with its result; exceptions propagate. The
  // work is not cancellable: it always runs to its end (a stop is seen by the
  // work itself, through stopping()). Pass a named closure: g++ 12 destroys a
  // temporary argument of a co_await expression twice.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F>> offload(F fn) {
    using R = std::invoke_result_t<F>;
    if constexpr (std::is_void_v<R>) {
      auto run = [fn = std::move(fn)]() mutable -> std::optional<int> {
        fn();
        return 0;
      };
      co_await offload_impl<int>(std::move(run));
    } else {
      auto run = [fn = std::move(fn)]() mutable -> std::optional<R> { return std::optional<R>(fn()); };
      co_return std::move(*(co_await offload_impl<R>(std::move(run))));
    }
  }

 private:
  // Posts `run` to the CPU pool, then posts its outcome back to the event
  // loop: plain posts, with the loop kept alive by a work guard, so no
  // cancellation state is shared between the two threads.
  template <class R, class Run>
  boost::asio::awaitable<std::optional<R>> offload_impl(Run run) {
    auto initiate = [this, run = std::move(run)](auto handler) mutable {
      auto work = boost::asio::make_work_guard(io_);
      boost::asio::post(cpu_, [run = std::move(run), handler = std::move(handler), work = std::move(work)]() mutable {
        std::exception_ptr failure;
        std::optional<R> result;
        try {
          result = run();
        } catch (...) {
          failure = std::current_exception();
        }
        auto io = work.get_executor();
        boost::asio::post(io, [handler = std::move(handler), failure, result = std::move(result)]() mutable {
          std::move(handler)(failure, std::move(result));
        });
      });
    };
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                   void(std::exception_ptr, std::optional<R>)>(
        std::move(initiate), boost::asio::use_awaitable);
  }

  void on_signal(int sig);

  CoreOptions options_;
  boost::asio::io_context io_;
  boost::asio::thread_pool cpu_;
  net::HttpClient http_;
  std::unique_ptr<obs::Server> server_;
  std::shared_ptr<auth::Credentials> credentials_;
  std::unique_ptr<gcs::Client> gcs_;
  std::unique_ptr<pubsub::Client> pubsub_;
  std::unique_ptr<bigquery::Client> bigquery_;
  std::optional<boost::json::array> schema_;
  std::atomic<bool> stopping_{false};
  int signals_ = 0;
  boost::asio::steady_timer stop_event_;      // never expires; cancelled on stop
  boost::asio::steady_timer shutdown_timer_;  // the grace period of attempts on the wire
};

}  // namespace kettle::app
