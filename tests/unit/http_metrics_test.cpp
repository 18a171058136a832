// obs::http_metrics_observer(): the HTTP client's observer hooks become the
// kettle_http_* metrics, with the labels and outcome words dashboards use.
#include "kettle/obs/http_metrics.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "kettle/obs/kettle_metrics.hpp"

using namespace kettle;
using namespace std::chrono_literals;

namespace {

double requests(std::string_view api, std::string_view code, std::string_view outcome) {
  return obs::metrics().http_requests.with({api, code, outcome}).value();
}

std::uint64_t durations_observed(std::string_view api) {
  return obs::metrics().http_duration.with({api}).snapshot().cumulative.back();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(obs_http_metrics)

BOOST_AUTO_TEST_CASE(attempts_are_counted_by_code_and_outcome) {
  auto observer = obs::http_metrics_observer();
  const std::string api = "metrics-test-outcomes";
  auto& in_flight = obs::metrics().http_in_flight.with({api});

  observer->attempt_started(api);
  observer->attempt_started(api);
  BOOST_TEST(in_flight.value() == 2);
  observer->attempt_finished(api, 200, std::nullopt, 20ms);
  observer->attempt_finished(api, 404, std::nullopt, 10ms);
  BOOST_TEST(in_flight.value() == 0);
  struct Ending {
    int status;
    std::optional<net::ErrorKind> error;
  };
  for (Ending ending : {Ending{503, std::nullopt}, Ending{0, net::ErrorKind::timeout},
                        Ending{0, net::ErrorKind::connect}}) {
    observer->attempt_started(api);
    observer->attempt_finished(api, ending.status, ending.error, 1s);
  }

  BOOST_TEST(requests(api, "200", "success") == 1);
  BOOST_TEST(requests(api, "404", "client_error") == 1);
  BOOST_TEST(requests(api, "503", "server_error") == 1);
  BOOST_TEST(requests(api, "none", "timeout") == 1);
  BOOST_TEST(requests(api, "none", "connect") == 1);
  BOOST_TEST(durations_observed(api) == 5u);
  BOOST_TEST(obs::metrics().http_duration.with({api}).snapshot().sum == 3.03,
             boost::test_tools::tolerance(1e-9));
  BOOST_TEST(in_flight.value() == 0);
}

BOOST_AUTO_TEST_CASE(abandoned_attempts_leave_flight_without_being_counted) {
  auto observer = obs::http_metrics_observer();
  const std::string api = "metrics-test-cancelled";
  observer->attempt_started(api);
  BOOST_TEST(obs::metrics().http_in_flight.with({api}).value() == 1);
  observer->attempt_finished(api, 0, net::ErrorKind::cancelled, 0s);
  BOOST_TEST(obs::metrics().http_in_flight.with({api}).value() == 0);
  BOOST_TEST(requests(api, "none", "cancelled") == 0);
  BOOST_TEST(durations_observed(api) == 0u);
}

BOOST_AUTO_TEST_CASE(retries_are_counted_per_api) {
  auto observer = obs::http_metrics_observer();
  observer->retry_scheduled("metrics-test-retries", 2s);
  observer->retry_scheduled("metrics-test-retries", 0s);
  BOOST_TEST(obs::metrics().http_retries.with({"metrics-test-retries"}).value() == 2);
  BOOST_TEST(obs::http_metrics_observer() == observer);  // one shared instance
}

BOOST_AUTO_TEST_CASE(the_exported_names_and_labels_are_unchanged) {
  auto observer = obs::http_metrics_observer();
  observer->attempt_started("metrics-test-render");
  observer->attempt_finished("metrics-test-render", 500, std::nullopt, 1ms);
  observer->retry_scheduled("metrics-test-render", 1ms);
  std::string text = obs::registry().render();
  for (const char* sample :
       {"kettle_http_requests_total{api=\"metrics-test-render\",code=\"500\",outcome=\"server_"
        "error\"} 1",
        "kettle_http_request_duration_seconds_count{api=\"metrics-test-render\"} 1",
        "kettle_http_requests_in_flight{api=\"metrics-test-render\"} 0",
        "kettle_http_retries_total{api=\"metrics-test-render\"} 1"}) {
    BOOST_TEST(text.find(sample) != std::string::npos, sample);
  }
}

BOOST_AUTO_TEST_CASE(body_budget_changes_become_gauges) {
  auto observer = obs::http_metrics_observer();
  observer->body_budget_changed(3 << 20, 256 << 20, 2);
  auto& m = obs::metrics();
  BOOST_TEST(m.http_body_budget.with({"in_use"}).value() == double(3 << 20));
  BOOST_TEST(m.http_body_budget.with({"limit"}).value() == double(256 << 20));
  BOOST_TEST(m.http_body_budget_waiting.get().value() == 2);
  observer->body_budget_changed(0, 256 << 20, 0);
  BOOST_TEST(m.http_body_budget.with({"in_use"}).value() == 0);
  BOOST_TEST(m.http_body_budget_waiting.get().value() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
