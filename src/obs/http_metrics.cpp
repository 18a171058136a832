#include "kettle/obs/http_metrics.hpp"

#include <chrono>
#include <string>

#include "kettle/obs/kettle_metrics.hpp"

namespace kettle::obs {

namespace {

class HttpMetrics final : public net::Observer {
 public:
  void attempt_started(std::string_view api) override {
    metrics().http_in_flight.with({api}).add(1);
  }

  void attempt_finished(std::string_view api, int status, std::optional<net::ErrorKind> error,
                        net::Duration took) override {
    auto& m = metrics();
    m.http_in_flight.with({api}).add(-1);
    // Cut off by stop() or shutdown(), or never sent: says nothing about the
    // server, so it is not counted as a request.
    if (error == net::ErrorKind::cancelled) return;
    std::string code = error ? "none" : std::to_string(status);
    std::string_view outcome = error           ? net::to_string(*error)
                               : status >= 500 ? "server_error"
                               : status >= 400 ? "client_error"
                                               : "success";
    m.http_requests.with({api, code, outcome}).inc();
    m.http_duration.with({api}).observe(std::chrono::duration<double>(took).count());
  }

  void retry_scheduled(std::string_view api, net::Duration /*delay*/) override {
    metrics().http_retries.with({api}).inc();
  }

  void body_budget_changed(std::size_t in_use, std::size_t limit, std::size_t waiting) override {
    auto& m = metrics();
    m.http_body_budget.with({"in_use"}).set(static_cast<double>(in_use));
    m.http_body_budget.with({"limit"}).set(static_cast<double>(limit));
    m.http_body_budget_waiting.get().set(static_cast<double>(waiting));
  }
};

}  // namespace

std::shared_ptr<net::Observer> http_metrics_observer() {
  // Stateless: every client can share one.
  static const auto instance = std::make_shared<HttpMetrics>();
  return instance;
}

}  // namespace kettle::obs
