// collect::fetch_build against a scripted GCS on 127.0.0.1: what a build's
// started.json and finished.json become, hostile sizes included.

#include "kettle/collect/fetch_build.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>

#include "support/scripted_server.hpp"
#include "support/stderr_capture.hpp"

namespace asio = boost::asio;
using namespace kettle;
using namespace kettle::test_support;

namespace {

using Fixture = ClientFixture<gcs::Client, gcs::ClientConfig>;

const std::string kBuild = "gs://bucket/logs/job/7";
const std::string kFinished = R"({"timestamp": 1700000100, "result": "SUCCESS"})";

// Valid JSON, padded to `size` bytes: only its size is wrong.
std::string big_started(size_t size) {
  std::string json = R"({"timestamp": 1700000000, "pad": ")";
  json += std::string(size - json.size() - 2, 'x');
  return json + "\"}";
}

// Answers started.json and finished.json with the given bodies.
Script build_objects(std::string started, std::string finished) {
  return [started, finished](const Seen& seen, int) {
    if (seen.target.find("started.json") != std::string::npos) return Reply{.body = started};
    if (seen.target.find("finished.json") != std::string::npos) return Reply{.body = finished};
    return Reply{.status = 404};
  };
}

net::Result<collect::BuildWrite> fetch(Fixture& f) {
  std::optional<net::Result<collect::BuildWrite>> result;
  f.run([&]() -> asio::awaitable<void> {
    std::string path = kBuild;
    result = co_await collect::fetch_build(f.client, path);
  });
  return std::move(*result);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fetch_build)

BOOST_AUTO_TEST_CASE(a_started_json_over_the_limit_is_absent_with_a_warning) {
  Fixture f(build_objects(big_started(2 << 20), kFinished), {}, quick_net_config(), nullptr);
  StderrCapture capture;
  auto write = fetch(f);
  const std::string log = capture.stop();
  // A build, not an error: make-db stores it and counts nothing as failed.
  BOOST_REQUIRE_MESSAGE(write.has_value(), write.error().what());
  BOOST_TEST(write->path == kBuild);
  BOOST_TEST(!write->started_json.has_value());
  BOOST_TEST(write->finished_json.has_value());
  BOOST_TEST(log.find("gs://bucket/logs/job/7/started.json is too large") != std::string::npos,
             log);
  BOOST_TEST(log.find("Content-Length 2097152") != std::string::npos, log);
  BOOST_TEST(f.server.seen.size() == 2u);  // not retried
}

BOOST_AUTO_TEST_CASE(both_over_the_limit_leave_nothing_to_store) {
  Fixture f(build_objects(big_started(2 << 20), big_started(3 << 20)), {}, quick_net_config(),
            nullptr);
  StderrCapture capture;
  auto write = fetch(f);
  const std::string log = capture.stop();
  BOOST_REQUIRE_MESSAGE(write.has_value(), write.error().what());
  BOOST_TEST(!write->started_json.has_value());
  BOOST_TEST(!write->finished_json.has_value());
  BOOST_TEST(log.find("finished.json is too large") != std::string::npos, log);
}

BOOST_AUTO_TEST_CASE(a_started_json_of_exactly_the_limit_is_kept) {
  Fixture f(build_objects(big_started(collect::kBuildJsonBodyLimit), kFinished), {},
            quick_net_config(), nullptr);
  auto write = fetch(f);
  BOOST_REQUIRE_MESSAGE(write.has_value(), write.error().what());
  BOOST_TEST(write->started_json.has_value());
  BOOST_TEST(write->finished_json.has_value());
}

BOOST_AUTO_TEST_CASE(a_server_failure_is_still_an_error) {
  // Only "too large" turns into absent: a 5xx that outlasts retries fails the build.
  Fixture f(
      [](const Seen& seen, int) {
        if (seen.target.find("started.json") != std::string::npos) return Reply{.status = 503};
        return Reply{.body = kFinished};
      },
      {}, quick_net_config(), nullptr);
  auto write = fetch(f);
  BOOST_REQUIRE(!write.has_value());
  BOOST_TEST((write.error().kind == net::ErrorKind::http_status));
}

BOOST_AUTO_TEST_SUITE_END()
