// Metrics rendering, stage health and the /metrics + /healthz server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>
#include <cstdio>

#include "kettle/obs/log.hpp"
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>

#include "kettle/obs/health.hpp"
#include "kettle/obs/kettle_metrics.hpp"
#include "kettle/obs/metrics.hpp"
#include "kettle/obs/server.hpp"

using namespace kettle::obs;
using namespace std::chrono_literals;

namespace {

struct HttpReply {
  int status = 0;
  std::string head, body;
};

// A blocking HTTP/1.0 GET against host:port, enough to probe the server.
HttpReply http_get(const std::string& address, const std::string& target, const std::string& method = "GET") {
  auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  int port = std::stoi(address.substr(colon + 1));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host == "0.0.0.0" ? "127.0.0.1" : host.c_str(), &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to " + address);
  }
  std::string request = method + " " + target + " HTTP/1.0\r\nHost: test\r\n\r\n";
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    throw std::runtime_error("short write");
  }
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  HttpReply reply;
  auto split = raw.find("\r\n\r\n");
  reply.head = raw.substr(0, split);
  reply.body = split == std::string::npos ? "" : raw.substr(split + 4);
  if (raw.size() > 12) reply.status = std::stoi(raw.substr(9, 3));
  return reply;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(obs_metrics)

BOOST_AUTO_TEST_CASE(counters_and_gauges_render_with_labels) {
  Registry r;
  auto& requests = r.counter("x_requests_total", "Requests.", {"api", "code"});
  requests.with({"gcs", "200"}).inc();
  requests.with({"gcs", "200"}).inc(2);
  requests.with({"pubsub", "503"}).inc();
  r.gauge("x_temperature", "Now.").get().set(-1.5);
  BOOST_TEST(requests.with({"gcs", "200"}).value() == 3);
  BOOST_TEST(r.render() ==
             "# HELP x_requests_total Requests.\n"
             "# TYPE x_requests_total counter\n"
             "x_requests_total{api=\"gcs\",code=\"200\"} 3\n"
             "x_requests_total{api=\"pubsub\",code=\"503\"} 1\n"
             "# HELP x_temperature Now.\n"
             "# TYPE x_temperature gauge\n"
             "x_temperature -1.5\n");
}

BOOST_AUTO_TEST_CASE(label_values_and_help_are_escaped) {
  Registry r;
  r.counter("x_total", "Back\\slash\nnewline.", {"table"}).with({"a\"b\\c\nd"}).inc();
  BOOST_TEST(r.render() ==
             "# HELP x_total Back\\\\slash\\nnewline.\n"
             "# TYPE x_total counter\n"
             "x_total{table=\"a\\\"b\\\\c\\nd\"} 1\n");
}

BOOST_AUTO_TEST_CASE(families_without_samples_are_left_out) {
  Registry r;
  r.counter("x_never_total", "Never touched.", {"stage"});
  BOOST_TEST(r.render().empty());
}

BOOST_AUTO_TEST_CASE(histogram_buckets_are_cumulative) {
  Registry r;
  auto& h = r.histogram("x_seconds", "Durations.", {"api"}, {0.1, 1}).with({"gcs"});
  for (double v : {0.05, 0.1, 0.5, 3.0}) h.observe(v);
  BOOST_TEST(r.render() ==
             "# HELP x_seconds Durations.\n"
             "# TYPE x_seconds histogram\n"
             "x_seconds_bucket{api=\"gcs\",le=\"0.1\"} 2\n"
             "x_seconds_bucket{api=\"gcs\",le=\"1\"} 3\n"
             "x_seconds_bucket{api=\"gcs\",le=\"+Inf\"} 4\n"
             "x_seconds_sum{api=\"gcs\"} 3.65\n"
             "x_seconds_count{api=\"gcs\"} 4\n");
}

BOOST_AUTO_TEST_CASE(misuse_is_refused) {
  Registry r;
  auto& f = r.counter("x_total", "X.", {"a", "b"});
  BOOST_CHECK_THROW(f.with({"only-one"}), std::logic_error);
  BOOST_CHECK_THROW(r.gauge("x_total", "Again."), std::logic_error);
  BOOST_CHECK_THROW(r.histogram("x_h_seconds", "Bad.", {}, {1, 0.5}), std::logic_error);
}

BOOST_AUTO_TEST_CASE(values_format_like_prometheus) {
  BOOST_TEST(format_value(0) == "0");
  BOOST_TEST(format_value(1e21) == "1e+21");
  BOOST_TEST(format_value(0.1) == "0.1");
  BOOST_TEST(format_value(INFINITY) == "+Inf");
  BOOST_TEST(format_value(-INFINITY) == "-Inf");
  BOOST_TEST(format_value(NAN) == "NaN");
}

BOOST_AUTO_TEST_CASE(scrape_hooks_run_before_render) {
  Registry r;
  auto& g = r.gauge("x_calls", "Renders so far.").get();
  r.on_collect([&g] { g.add(1); });
  r.render();
  BOOST_TEST(r.render().find("x_calls 2\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(kettle_catalog_exports_build_info_and_process_metrics) {
  metrics().builds_collected.with({"collect"}).inc(5);
  std::string text = registry().render();
  BOOST_TEST(text.find("kettle_build_info{version=\"") != std::string::npos);
  BOOST_TEST(text.find("kettle_builds_collected_total{stage=\"collect\"} 5\n") != std::string::npos);
  BOOST_TEST(text.find("process_resident_memory_bytes ") != std::string::npos);
  BOOST_TEST(text.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(counters_with_known_labels_start_at_zero) {
  std::string text = registry().render();
  for (const char* sample :
       {"kettle_builds_collected_total{stage=\"stream\"} 0\n", "kettle_junit_files_total{stage=\"collect\"} 0\n",
        "kettle_collect_errors_total{stage=\"collect\",what=\"listing\"} 0\n",
        "kettle_collect_errors_total{stage=\"stream\",what=\"junit\"} 0\n",
        "kettle_pubsub_messages_acked_total{outcome=\"missing_finished\"} 0\n", "kettle_rows_emitted_total 0\n"})
    BOOST_TEST(text.find(sample) != std::string::npos, sample);
  BOOST_TEST(!metrics().bigquery_load_jobs.has({"p:d.t", "failed"}));
  metrics().declare_table("p:d.t");
  text = registry().render();
  for (const char* sample :
       {"kettle_bigquery_rows_inserted_total{table=\"p:d.t\"} 0\n",
        "kettle_bigquery_rows_loaded_total{table=\"p:d.t\"} 0\n",
        "kettle_bigquery_rows_failed_total{table=\"p:d.t\",reason=\"rejected\"} 0\n",
        "kettle_bigquery_load_jobs_total{table=\"p:d.t\",outcome=\"failed\"} 0\n"})
    BOOST_TEST(text.find(sample) != std::string::npos, sample);
  // The freshness gauge is not a counter: it waits for tables.get.
  BOOST_TEST(!metrics().bigquery_last_insert.has({"p:d.t"}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(obs_log)

BOOST_AUTO_TEST_CASE(printable_escapes_control_characters) {
  using kettle::obs::printable;
  BOOST_TEST(printable("logs/job/1") == "logs/job/1");
  BOOST_TEST(printable("a\nI1124 10:00:00.000] forged") == "a\\nI1124 10:00:00.000] forged");
  BOOST_TEST(printable(std::string_view("x\0y\tz\r\x7f", 7)) == "x\\x00y\\tz\\r\\x7f");
  BOOST_TEST(printable("caf\xc3\xa9") == "caf\xc3\xa9");  // UTF-8 stays
}

namespace {
// A signed assertion as a service account sends it (header.claims.signature).
const std::string kJwt =
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJpc3MiOiJrZXR0bGVAcHJvai5pYW0uZ3NlcnZpY2VhY2NvdW50LmNvbSIsImF1ZCI6Imh0dHBzOi8vb2F1dGgyIn0"
    ".c2lnbmF0dXJlLWJ5dGVzLXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQtYW55d2hlcmU";
}  // namespace

BOOST_AUTO_TEST_CASE(redact_secrets_replaces_jwts) {
  using kettle::obs::redact_secrets;
  BOOST_TEST(redact_secrets("invalid_grant: Invalid JWT " + kJwt + " expired") ==
             "invalid_grant: Invalid JWT [redacted JWT] expired");
  // In a form body, the JWT is the value of assertion=.
  BOOST_TEST(redact_secrets("grant_type=x&assertion=" + kJwt) == "grant_type=x&assertion=[redacted JWT]");
  // Cut by an excerpt after its header: still recognisable by "eyJ".
  BOOST_TEST(redact_secrets("bad " + kJwt.substr(0, 50)) == "bad [redacted JWT]");
  // Three long base64url parts without the usual header start.
  BOOST_TEST(redact_secrets("x AAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBB.CCCCCCCCCCCCCCCCCCCC y") ==
             "x [redacted JWT] y");
}

BOOST_AUTO_TEST_CASE(redact_secrets_replaces_tokens) {
  using kettle::obs::redact_secrets;
  BOOST_TEST(redact_secrets("token ya29.a0AfH6SMBx-yz_0123456789 rejected") == "token [redacted token] rejected");
  BOOST_TEST(redact_secrets("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345") ==
             "Authorization: Bearer [redacted token]");
  BOOST_TEST(redact_secrets("access_token=s3cr3tvalue&expires_in=3599") ==
             "access_token=[redacted token]&expires_in=3599");
  BOOST_TEST(redact_secrets(R"({"access_token": "s3cr3t", "token_type": "Bearer"})") ==
             R"({"access_token": "[redacted token]", "token_type": "Bearer"})");
  BOOST_TEST(redact_secrets(R"({"Refresh_Token":"1//0gsecret","client_secret":"GOCSPX-abc"})") ==
             R"({"Refresh_Token":"[redacted token]","client_secret":"[redacted token]"})");
  BOOST_TEST(redact_secrets("refresh 1//0gABCDEFGHIJKLMNOPQRSTUVWXYZ") == "refresh [redacted token]");
  // JSON quoted inside a JSON string.
  BOOST_TEST(redact_secrets(R"("{\"id_token\": \"abc.def\"}")") == R"("{\"id_token\": \"[redacted token]\"}")");
}

BOOST_AUTO_TEST_CASE(redact_secrets_replaces_private_keys) {
  using kettle::obs::redact_secrets;
  BOOST_TEST(redact_secrets("key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\nend") ==
             "key: [redacted key]\nend");
  // As it appears in a key file (JSON escapes) and cut before its END line.
  BOOST_TEST(redact_secrets(R"({"private_key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEow)") ==
             R"({"private_key": "[redacted key])");
  BOOST_TEST(redact_secrets("x -----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIEow") == "x [redacted key]");
  // A certificate is public.
  const std::string cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
  BOOST_TEST(redact_secrets(cert) == cert);
  BOOST_TEST(redact_secrets(R"({"private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", "x": 1})") ==
             R"({"private_key": "[redacted key]\n", "x": 1})");
}

BOOST_AUTO_TEST_CASE(redact_secrets_keeps_ordinary_text) {
  using kettle::obs::redact_secrets;
  for (std::string text :
       {"Not Found", "invalid_grant: Token has been expired or revoked.",
        "https://oauth2.googleapis.com/token answered 503", "gs://kubernetes-jenkins/logs/ci-kubernetes-e2e/123",
        "Request had invalid authentication credentials. Expected OAuth 2 access token",
        "missing Bearer token", "the access_token is missing", "v1.28.0-alpha.1.123+abcdef0123456789",
        "-----BEGIN", "-----BEGIN PRIVATE", ""}) {
    BOOST_TEST(redact_secrets(text) == text);
  }
}

namespace {

LogRecord record_of(Severity severity, std::string message,
                    std::vector<std::pair<std::string, std::string>> labels = {}) {
  LogRecord r;
  r.severity = severity;
  r.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1732442400123));  // 2024-11-24T10:00:00.123Z
  r.message = std::move(message);
  r.labels = std::move(labels);
  return r;
}

boost::json::object json_of(const std::string& line) {
  BOOST_TEST_REQUIRE(!line.empty());
  BOOST_TEST(line.back() == '\n');
  // One line: the only newline is the last byte, and no other control byte.
  for (std::size_t i = 0; i + 1 < line.size(); ++i)
    BOOST_TEST_REQUIRE(static_cast<unsigned char>(line[i]) >= 0x20, "control byte at " << i);
  return boost::json::parse(line).as_object();
}

// What `write` logs to stderr, with stderr redirected to a file meanwhile.
template <class Write>
std::string captured_stderr(Write write) {
  std::FILE* file = std::tmpfile();
  BOOST_TEST_REQUIRE(file != nullptr);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(file), STDERR_FILENO);
  write();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out;
  std::rewind(file);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file)) > 0;) out.append(buf, n);
  std::fclose(file);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(json_lines_carry_cloud_logging_fields) {
  auto line = format_log_line(record_of(Severity::warning, "retrying in 120ms", {{"url", "https://x/y"}, {"api", "gcs"}}),
                              LogFormat::json);
  auto json = json_of(line);
  BOOST_TEST(json.at("severity").as_string() == "WARNING");
  BOOST_TEST(json.at("message").as_string() == "retrying in 120ms");
  BOOST_TEST(json.at("time").as_string() == "2024-11-24T10:00:00.123Z");
  auto& labels = json.at("logging.googleapis.com/labels").as_object();
  BOOST_TEST(labels.at("url").as_string() == "https://x/y");
  BOOST_TEST(labels.at("api").as_string() == "gcs");
  // Fields in a fixed order, labels only when there are some.
  BOOST_TEST(line.starts_with(R"({"severity":"WARNING","time":"2024-11-24T10:00:00.123Z","message":)"));
  BOOST_TEST(!json_of(format_log_line(record_of(Severity::info, "x"), LogFormat::json))
                  .contains("logging.googleapis.com/labels"));
  const std::pair<Severity, const char*> names[] = {
      {Severity::debug, "DEBUG"}, {Severity::info, "INFO"}, {Severity::warning, "WARNING"}, {Severity::error, "ERROR"}};
  for (auto [severity, name] : names)
    BOOST_TEST(json_of(format_log_line(record_of(severity, "m"), LogFormat::json)).at("severity").as_string() == name);
}

BOOST_AUTO_TEST_CASE(json_lines_escape_control_characters_and_bad_utf8) {
  const std::string hostile = std::string("a\nE1124 forged\r\t\x1b[31m\0z", 22) + "caf\xc3\xa9 \xff\xc3";
  auto json = json_of(format_log_line(record_of(Severity::info, hostile, {{"url", "gs://b/\n\x01"}}), LogFormat::json));
  // Control characters come back as they were; bytes that are not UTF-8 as U+FFFD.
  BOOST_TEST(json.at("message").as_string() ==
             std::string("a\nE1124 forged\r\t\x1b[31m\0z", 22) + "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd");
  BOOST_TEST(json.at("logging.googleapis.com/labels").at("url").as_string() == "gs://b/\n\x01");
  // Overlong forms and surrogates are not UTF-8 either.
  auto odd = json_of(format_log_line(record_of(Severity::info, "\xc0\xaf \xed\xa0\x80"), LogFormat::json));
  const std::string fffd = "\xef\xbf\xbd";
  BOOST_TEST(odd.at("message").as_string() == fffd + fffd + " " + fffd + fffd + fffd);
}

BOOST_AUTO_TEST_CASE(text_lines_stay_glog_style_on_one_line) {
  auto line = format_log_line(record_of(Severity::error, "cannot read a\nI1124 forged", {{"table", "t"}}),
                              LogFormat::text);
  BOOST_TEST(line.size() > 20);
  BOOST_TEST(line[0] == 'E');
  BOOST_TEST(line.substr(5, 15).size() == 15);
  BOOST_TEST(line.substr(20) == "cannot read a\\nI1124 forged\n");  // labels are for JSON readers
}

BOOST_AUTO_TEST_CASE(secrets_never_reach_a_line) {
  const std::string token = "ya29.a0AfH6SMBx-yz_0123456789";
  for (auto format : {LogFormat::text, LogFormat::json}) {
    auto line = format_log_line(
        record_of(Severity::error, "refused " + token + " and " + kJwt, {{"url", "https://x/?access_token=abcdef"}}),
        format);
    BOOST_TEST(line.find(token) == std::string::npos);
    BOOST_TEST(line.find(kJwt.substr(0, 40)) == std::string::npos);
    BOOST_TEST(line.find("abcdef") == std::string::npos);
    BOOST_TEST(line.find("[redacted token]") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(klog_writes_labels_in_the_chosen_format) {
  BOOST_TEST((parse_log_format("json") == LogFormat::json));
  BOOST_TEST((parse_log_format("text") == LogFormat::text));
  BOOST_TEST(!parse_log_format("JSON").has_value());
  auto out = captured_stderr([] {
    set_log_format(LogFormat::json);
    KLOG(info) << label("table", "p:d.day") << label("stage", "stream") << "inserted " << 3 << " rows";
    KLOG(debug) << "not verbose: not written";
    set_log_format(LogFormat::text);
    KLOG(warning) << label("table", "p:d.day") << "plain " << std::string("text");
  });
  auto newline = out.find('\n');
  BOOST_TEST_REQUIRE(newline != std::string::npos);
  auto json = json_of(out.substr(0, newline + 1));
  BOOST_TEST(json.at("message").as_string() == "inserted 3 rows");
  BOOST_TEST(json.at("severity").as_string() == "INFO");
  BOOST_TEST(json.at("logging.googleapis.com/labels").at("table").as_string() == "p:d.day");
  BOOST_TEST(json.at("logging.googleapis.com/labels").at("stage").as_string() == "stream");
  std::string text = out.substr(newline + 1);
  BOOST_TEST(text[0] == 'W');
  BOOST_TEST(text.ends_with("] plain text\n"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(obs_health)

BOOST_AUTO_TEST_CASE(a_busy_stage_without_progress_fails_and_recovers) {
  Stage& s = stage("test-busy");
  BOOST_TEST(check_health(50ms).healthy);  // idle: never stalled
  {
    auto busy = s.busy();
    std::this_thread::sleep_for(120ms);
    auto report = check_health(50ms);
    BOOST_TEST(!report.healthy);
    BOOST_TEST(report.text.find("test-busy: no progress for") != std::string::npos, report.text);
    BOOST_TEST(check_health(10s).healthy);  // within a generous limit
    s.progress();
    BOOST_TEST(check_health(50ms).healthy);
    std::this_thread::sleep_for(120ms);
    BOOST_TEST(!check_health(50ms).healthy);
  }
  BOOST_TEST(check_health(50ms).healthy);  // the work ended
}

BOOST_AUTO_TEST_CASE(new_work_is_not_stalled_by_an_old_quiet_spell) {
  Stage& s = stage("test-new-work");
  s.progress();
  std::this_thread::sleep_for(120ms);
  auto busy = s.busy();
  BOOST_TEST(check_health(50ms).healthy);
}

BOOST_AUTO_TEST_CASE(progress_and_busy_are_exported) {
  Stage& s = stage("test-exported");
  auto busy = s.busy();
  s.progress();
  std::string text = registry().render();
  BOOST_TEST(text.find("kettle_stage_busy{stage=\"test-exported\"} 1\n") != std::string::npos);
  BOOST_TEST(text.find("kettle_stage_last_progress_timestamp_seconds{stage=\"test-exported\"} 1") !=
             std::string::npos);  // a Unix time in this century starts with 1
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(obs_server)

BOOST_AUTO_TEST_CASE(listen_addresses) {
  auto any = parse_listen_address(":9090");
  BOOST_REQUIRE(any);
  BOOST_TEST(any->host == "0.0.0.0");
  BOOST_TEST(any->port == 9090);
  BOOST_TEST(parse_listen_address("localhost:0")->host == "127.0.0.1");
  BOOST_TEST(parse_listen_address("[::1]:8081")->host == "::1");
  std::string error;
  BOOST_TEST(!parse_listen_address("9090", &error));
  BOOST_TEST(error.find("no port") != std::string::npos);
  BOOST_TEST(!parse_listen_address(":99999"));
  BOOST_TEST(!parse_listen_address("example.com:80"));
}

BOOST_AUTO_TEST_CASE(serves_metrics_health_and_readiness) {
  ServerOptions options;
  options.metrics_addr = "127.0.0.1:0";
  options.health_addr = "127.0.0.1:0";
  options.stall_timeout = 100ms;
  Server server(options);
  BOOST_TEST(server.metrics_address() != server.health_address());

  auto m = http_get(server.metrics_address(), "/metrics");
  BOOST_TEST(m.status == 200);
  BOOST_TEST(m.head.find("text/plain; version=0.0.4") != std::string::npos);
  BOOST_TEST(m.body.find("# TYPE kettle_build_info gauge") != std::string::npos);

  set_ready(false);
  BOOST_TEST(http_get(server.health_address(), "/healthz/ready").status == 503);
  set_ready();
  BOOST_TEST(http_get(server.health_address(), "/healthz/ready").status == 200);

  BOOST_TEST(http_get(server.health_address(), "/healthz").status == 200);
  {
    auto busy = stage("test-server").busy();
    std::this_thread::sleep_for(200ms);
    auto stuck = http_get(server.health_address(), "/healthz");
    BOOST_TEST(stuck.status == 503);
    BOOST_TEST(stuck.body.find("test-server: no progress") != std::string::npos, stuck.body);
    stage("test-server").progress();
    BOOST_TEST(http_get(server.health_address(), "/healthz").status == 200);
  }
  BOOST_TEST(http_get(server.health_address(), "/nope").status == 404);
  BOOST_TEST(http_get(server.health_address(), "/healthz", "POST").status == 405);
  auto head = http_get(server.health_address(), "/healthz/ready", "HEAD");
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.body.empty());
  BOOST_TEST(head.head.find("Content-Length: 6") != std::string::npos, head.head);  // "ready\n"
}

BOOST_AUTO_TEST_CASE(one_address_for_both_and_off) {
  ServerOptions first;
  first.metrics_addr = "127.0.0.1:0";
  std::string fixed = Server(first).metrics_address();  // a port free a moment ago
  ServerOptions shared;
  shared.metrics_addr = shared.health_addr = fixed;
  Server server(shared);
  BOOST_TEST(server.metrics_address() == server.health_address());
  BOOST_TEST(http_get(server.health_address(), "/healthz").status == 200);
  BOOST_TEST(http_get(server.metrics_address(), "/metrics").status == 200);

  Server off(ServerOptions{});
  BOOST_TEST(off.metrics_address().empty());
  BOOST_TEST(off.health_address().empty());
}

BOOST_AUTO_TEST_CASE(a_taken_port_is_a_clear_error) {
  ServerOptions first;
  first.metrics_addr = "127.0.0.1:0";
  Server taken(first);
  ServerOptions second;
  second.metrics_addr = taken.metrics_address();
  try {
    Server clash(second);
    BOOST_FAIL("a second server on the same port started");
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    BOOST_TEST(what.find("--metrics-addr " + taken.metrics_address() + ": cannot listen") != std::string::npos, what);
  }
  // A default address that is taken is skipped: another kettle may hold it.
  ServerOptions defaulted;
  defaulted.metrics_addr = taken.metrics_address();
  defaulted.metrics_addr_is_default = true;
  defaulted.health_addr = "127.0.0.1:0";
  Server without_metrics(defaulted);
  BOOST_TEST(without_metrics.metrics_address().empty());
  BOOST_TEST(http_get(without_metrics.health_address(), "/healthz").status == 200);

  ServerOptions bad;
  bad.health_addr = "nowhere";
  BOOST_CHECK_THROW(Server{bad}, std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
