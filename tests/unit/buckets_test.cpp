// buckets.yaml (SPEC §1): the spec vector, defaults, normalisation, path
// matching, regex search semantics (RE2: linear time, UTF-8), and every error
// path with its location.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kettle/config/buckets.hpp"

using kettle::config::Bucket;
using kettle::config::Buckets;
using kettle::config::ConfigError;

namespace {

const std::filesystem::path kSpecBuckets = std::filesystem::path(KETTLE_TEST_DATA) / "spec" / "buckets.yaml";

// The ConfigError message for `yaml`, or "" when parsing succeeds.
std::string error_of(const std::string& yaml, const std::string& source = "b.yaml") {
  try {
    Buckets::parse(yaml, source);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool starts_with(const std::string& s, const std::string& head) { return s.rfind(head, 0) == 0; }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A unique temporary directory, removed at scope end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("kettle_buckets_test_" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + "_" +
            std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(buckets)

BOOST_AUTO_TEST_CASE(spec_vector_entries_in_file_order) {
  auto b = Buckets::load(kSpecBuckets);
  const auto& e = b.entries();
  BOOST_REQUIRE_EQUAL(e.size(), 4u);
  BOOST_CHECK_EQUAL(e[0].url, "gs://kubernetes-ci-logs/logs/");
  BOOST_CHECK_EQUAL(e[1].url, "gs://kubernetes-jenkins/logs/");
  BOOST_CHECK_EQUAL(e[2].url, "gs://kubernetes-jenkins/pr-logs/directory/");
  BOOST_CHECK_EQUAL(e[3].url, "gs://istio-prow/logs/");
}

BOOST_AUTO_TEST_CASE(spec_vector_options) {
  auto b = Buckets::load(kSpecBuckets);
  const auto& e = b.entries();
  BOOST_REQUIRE_EQUAL(e.size(), 4u);
  BOOST_CHECK_EQUAL(e[0].prefix, "");
  BOOST_CHECK_EQUAL(e[1].prefix, "jenkins:");
  BOOST_CHECK_EQUAL(e[2].prefix, "jenkins-pr:");
  BOOST_CHECK_EQUAL(e[3].prefix, "istio:");
  BOOST_CHECK(!e[0].sequential);
  BOOST_CHECK(e[1].sequential);  // default
  BOOST_CHECK(e[2].sequential);  // default
  BOOST_CHECK(!e[3].sequential);
  BOOST_CHECK_EQUAL(e[0].contact, "someone");
  BOOST_CHECK(e[0].exclude_patterns.empty());
  BOOST_REQUIRE_EQUAL(e[3].exclude_patterns.size(), 1u);
  BOOST_CHECK_EQUAL(e[3].exclude_patterns[0], "^ci-istio-flaky$");
  BOOST_CHECK(e[3].excludes("ci-istio-flaky"));
  BOOST_CHECK(!e[3].excludes("ci-istio-flaky-2"));
  BOOST_CHECK(!e[3].excludes("pre-ci-istio-flaky"));
  BOOST_CHECK(!e[1].excludes("ci-istio-flaky"));
}

BOOST_AUTO_TEST_CASE(trailing_slash_added) {
  auto b = Buckets::parse("gs://bucket/logs:\n  prefix: 'x:'\ngs://other/:\n  prefix: ''\n", "t.yaml");
  BOOST_REQUIRE_EQUAL(b.entries().size(), 2u);
  BOOST_CHECK_EQUAL(b.entries()[0].url, "gs://bucket/logs/");
  BOOST_CHECK_EQUAL(b.entries()[1].url, "gs://other/");
}

BOOST_AUTO_TEST_CASE(null_options_mean_defaults) {
  auto b = Buckets::parse("gs://a/logs/:\ngs://b/logs/: {}\ngs://c/logs/:\n  prefix:\n  exclude_jobs:\n", "t.yaml");
  BOOST_REQUIRE_EQUAL(b.entries().size(), 3u);
  for (const auto& e : b.entries()) {
    BOOST_CHECK_EQUAL(e.prefix, "");
    BOOST_CHECK(e.sequential);
    BOOST_CHECK(e.exclude_patterns.empty());
    BOOST_CHECK(e.contact.empty());
    BOOST_CHECK(!e.excludes("anything"));
  }
}

BOOST_AUTO_TEST_CASE(unknown_keys_ignored_and_bool_spellings) {
  auto b = Buckets::parse(
      "gs://a/:\n  owner: me\n  nested: {x: [1, 2]}\n  sequential: no\n"
      "gs://b/:\n  sequential: True\n",
      "t.yaml");
  BOOST_REQUIRE_EQUAL(b.entries().size(), 2u);
  BOOST_CHECK(!b.entries()[0].sequential);
  BOOST_CHECK(b.entries()[1].sequential);
}

BOOST_AUTO_TEST_CASE(repeated_key_keeps_first_position_and_last_options) {
  auto b = Buckets::parse("gs://a/:\n  prefix: 'one:'\ngs://b/:\n  prefix: 'b:'\ngs://a:\n  prefix: 'two:'\n", "t.yaml");
  BOOST_REQUIRE_EQUAL(b.entries().size(), 2u);
  BOOST_CHECK_EQUAL(b.entries()[0].url, "gs://a/");
  BOOST_CHECK_EQUAL(b.entries()[0].prefix, "two:");
  BOOST_CHECK_EQUAL(b.entries()[1].url, "gs://b/");
}

BOOST_AUTO_TEST_CASE(match_path_first_prefix_in_file_order) {
  auto b = Buckets::parse(
      "gs://b/logs/special/:\n  prefix: 'special:'\n"
      "gs://b/logs/:\n  prefix: 'logs:'\n"
      "gs://b/logs/special/deeper/:\n  prefix: 'never:'\n",
      "t.yaml");
  const Bucket* m = b.match_path("gs://b/logs/job/1");
  BOOST_REQUIRE(m);
  BOOST_CHECK_EQUAL(m->prefix, "logs:");
  m = b.match_path("gs://b/logs/special/deeper/1");
  BOOST_REQUIRE(m);
  BOOST_CHECK_EQUAL(m->prefix, "special:");
  BOOST_CHECK(!b.match_path("gs://b/log/job/1"));
  BOOST_CHECK(!b.match_path("gs://b/logs"));  // no trailing slash: not under the entry
  BOOST_CHECK(!b.match_path("gs://other/logs/job/1"));
  BOOST_CHECK(!b.match_path(""));
}

BOOST_AUTO_TEST_CASE(match_path_on_spec_vector) {
  auto b = Buckets::load(kSpecBuckets);
  const Bucket* m = b.match_path("gs://kubernetes-jenkins/logs/ci-kubernetes-e2e/123");
  BOOST_REQUIRE(m);
  BOOST_CHECK_EQUAL(m->prefix, "jenkins:");
  BOOST_CHECK(!b.match_path("gs://kubernetes-ci-logs/pr-logs/pull/1/job/2"));
}

BOOST_AUTO_TEST_CASE(exclude_is_regex_search) {
  auto b = Buckets::parse("gs://a/:\n  exclude_jobs:\n    - flaky\n    - ^a$\n    - 'kind-.*-ipv6'\n", "t.yaml");
  const Bucket& e = b.entries().at(0);
  BOOST_CHECK_EQUAL(e.exclude_regexes.size(), 3u);
  BOOST_CHECK(e.excludes("ci-flaky-x"));  // matches anywhere, not a full match
  BOOST_CHECK(e.excludes("flaky"));
  BOOST_CHECK(e.excludes("a"));
  BOOST_CHECK(!e.excludes("ab"));
  BOOST_CHECK(!e.excludes("ba"));
  BOOST_CHECK(e.excludes("ci-kind-e2e-ipv6-x"));
  BOOST_CHECK(!e.excludes("ci-kind-e2e"));
  BOOST_CHECK(!e.excludes(""));
}

BOOST_AUTO_TEST_CASE(empty_file_has_no_entries) {
  BOOST_CHECK(Buckets::parse("", "t.yaml").entries().empty());
  BOOST_CHECK(Buckets::parse("# only a comment\n\n", "t.yaml").entries().empty());
  BOOST_CHECK(Buckets::parse("~\n", "t.yaml").entries().empty());
}

BOOST_AUTO_TEST_CASE(error_exclude_jobs_not_a_list) {
  std::string msg = error_of("gs://a/:\n  prefix: ''\n  exclude_jobs: flaky\n");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "b.yaml:3: bucket gs://a/: exclude_jobs must be a list of strings"));
}

BOOST_AUTO_TEST_CASE(error_exclude_jobs_item_not_a_string) {
  std::string msg = error_of("gs://a/:\n  exclude_jobs:\n    - ok\n    - [nested]\n");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "b.yaml:4: bucket gs://a/: exclude_jobs must be a list of strings"));
}

BOOST_AUTO_TEST_CASE(error_prefix_not_a_string) {
  std::string msg = error_of("gs://a/:\n  prefix: [x]\n");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "b.yaml:2: bucket gs://a/: prefix must be a string"));
  msg = error_of("gs://a/:\n  prefix:\n    k: v\n");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "b.yaml:3: bucket gs://a/: prefix must be a string"));
}

BOOST_AUTO_TEST_CASE(error_contact_not_a_string) {
  std::string msg = error_of("gs://a/:\n  contact: [x]\n");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "b.yaml:2: bucket gs://a/: contact must be a string"));
}

BOOST_AUTO_TEST_CASE(error_sequential_not_a_bool) {
  std::string msg = error_of("gs://a/:\n\n  sequential: maybe\n");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "b.yaml:3: bucket gs://a/: sequential must be a bool"));
  BOOST_CHECK(starts_with(error_of("gs://a/:\n  sequential: [true]\n"), "b.yaml:2: bucket gs://a/: sequential"));
}

BOOST_AUTO_TEST_CASE(error_invalid_regex_names_pattern_bucket_and_file) {
  std::string msg = error_of("gs://a/logs/:\n  exclude_jobs:\n    - good\n    - 'bad(('\n", "conf/buckets.yaml");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "conf/buckets.yaml:4: bucket gs://a/logs/: invalid exclude_jobs regex 'bad(('"));
}

// Patterns a backtracking engine takes exponential time on (or overflows its
// stack on): each must answer, correctly, on long job names.
BOOST_AUTO_TEST_CASE(pathological_patterns_answer_on_long_names) {
  auto b = Buckets::parse(
      "gs://a/:\n  exclude_jobs:\n    - '(a*)*b'\n"
      "gs://b/:\n  exclude_jobs:\n    - '^(a+)+$'\n"
      "gs://c/:\n  exclude_jobs:\n    - '(a|aa)*c'\n"
      "gs://d/:\n  exclude_jobs:\n    - '^(j*)*x'\n",
      "t.yaml");
  const auto& e = b.entries();
  BOOST_REQUIRE_EQUAL(e.size(), 4u);
  const std::string as(100000, 'a');
  BOOST_CHECK(!e[0].excludes(as));
  BOOST_CHECK(e[0].excludes(as + "b"));
  BOOST_CHECK(e[1].excludes(as));
  BOOST_CHECK(!e[1].excludes(as + "!"));
  BOOST_CHECK(!e[2].excludes(as));
  BOOST_CHECK(e[2].excludes(as + "c"));
  const std::string js(100000, 'j');
  BOOST_CHECK(!e[3].excludes(js));
  BOOST_CHECK(e[3].excludes(js + "x"));
  BOOST_CHECK(!e[3].excludes(js + "yx"));
  const std::string sized(40, 'a');  // where backtracking already takes hours
  BOOST_CHECK(!e[0].excludes(sized));
  BOOST_CHECK(!e[1].excludes(sized + "!"));
}

// What RE2 cannot run in linear time (backreferences, lookaround) and plain
// syntax errors stop loading, naming the file, line, pattern and the reason.
BOOST_AUTO_TEST_CASE(unsupported_patterns_are_config_errors) {
  struct Case {
    std::string pattern, reason;
  };
  const std::vector<Case> cases = {
      {R"((a)\1)", R"(invalid escape sequence: \1 (backreferences are not supported))"},
      {R"((a)\99999999999999999999)", "backreferences are not supported"},
      {"(?=x)", "invalid perl operator: (?= (lookaround is not supported)"},
      {"(?!x)", "invalid perl operator: (?! (lookaround is not supported)"},
      {"(?<=x)", "lookaround is not supported"},
      {"(?<!x)", "lookaround is not supported"},
      {"ci-[a-", "missing ]"},
      {"^j**x", "bad repetition operator: **"},  // Python's re refuses it too
      {"a{1001}", "invalid repetition size"},
  };
  for (const auto& c : cases) {
    std::string yaml = "gs://a/logs/:\n  prefix: ''\n  exclude_jobs:\n    - ok\n    - '" + c.pattern + "'\n";
    std::string msg = error_of(yaml, "conf/buckets.yaml");
    BOOST_TEST_INFO(c.pattern << " -> " << msg);
    BOOST_CHECK(starts_with(msg, "conf/buckets.yaml:5: bucket gs://a/logs/: invalid exclude_jobs regex '" +
                                     c.pattern + "' (RE2 syntax): "));
    BOOST_CHECK(contains(msg, c.reason));
  }
}

// UTF-8 job names are read as code points, as Python's re.search on str does.
BOOST_AUTO_TEST_CASE(exclude_reads_job_names_as_utf8) {
  auto b = Buckets::parse("gs://a/:\n  exclude_jobs:\n    - '^j.b-'\n    - '^[^a-z]+$'\n    - 'ü'\n", "t.yaml");
  const Bucket& e = b.entries().at(0);
  BOOST_CHECK(e.excludes("j\xc3\xb6" "b-x"));  // "jöb-x": '.' takes the whole ö
  BOOST_CHECK(e.excludes("\xe2\x9c\x93\xf0\x9f\x9a\x80"));  // "✓🚀"
  BOOST_CHECK(e.excludes("x-\xc3\xbc"));  // "x-ü"
  BOOST_CHECK(!e.excludes("jo\xcc\x88" "b-x"));  // o + combining diaeresis: two code points
  BOOST_CHECK(!e.excludes("plain"));
}

// Copies of the configuration share the compiled patterns and match the same.
BOOST_AUTO_TEST_CASE(copies_match_like_the_original) {
  Buckets copy;
  {
    auto b = Buckets::parse("gs://a/:\n  exclude_jobs:\n    - ^flaky-\n    - -skip$\n", "t.yaml");
    copy = b;
  }
  const Bucket& e = copy.entries().at(0);
  BOOST_CHECK_EQUAL(e.exclude_regexes.size(), 2u);
  BOOST_CHECK(e.excludes("flaky-e2e"));
  BOOST_CHECK(e.excludes("e2e-skip"));
  BOOST_CHECK(!e.excludes("e2e-skip-not"));
  Bucket one = e;
  BOOST_CHECK(one.excludes("flaky-x"));
}

BOOST_AUTO_TEST_CASE(error_key_without_scheme) {
  std::string msg = error_of("gs://ok/:\n  prefix: ''\nkubernetes-jenkins/logs/:\n  prefix: 'x:'\n");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "b.yaml:3: "));
  BOOST_CHECK(contains(msg, "kubernetes-jenkins/logs/"));
  BOOST_CHECK(contains(msg, "gs://"));
  BOOST_CHECK(starts_with(error_of("? [a, b]\n: {}\n"), "b.yaml:1: "));
}

BOOST_AUTO_TEST_CASE(error_top_level_not_a_mapping) {
  std::string msg = error_of("- gs://a/\n- gs://b/\n");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "b.yaml:1: top level must be a mapping"));
  BOOST_CHECK(starts_with(error_of("just text\n"), "b.yaml:1: top level must be a mapping"));
}

BOOST_AUTO_TEST_CASE(error_options_not_a_mapping) {
  std::string msg = error_of("gs://a/:\n  prefix: ''\ngs://b/: [1, 2]\n");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "b.yaml:3: bucket gs://b/: options must be a mapping"));
  BOOST_CHECK(starts_with(error_of("gs://b/: text\n"), "b.yaml:1: bucket gs://b/: options must be a mapping"));
}

BOOST_AUTO_TEST_CASE(error_malformed_yaml_has_line) {
  std::string msg = error_of("gs://a/:\n  prefix: ''\n  exclude_jobs: [unclosed\n\n", "m.yaml");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "m.yaml:"));
  BOOST_CHECK(contains(msg, "invalid YAML"));
  msg = error_of("gs://a/:\n  prefix: ''\n bad indent: 1\n", "m.yaml");
  BOOST_TEST_INFO(msg);
  BOOST_CHECK(starts_with(msg, "m.yaml:3: invalid YAML"));
}

BOOST_AUTO_TEST_CASE(load_reads_file_and_names_it_in_errors) {
  TempDir dir;
  auto good = dir.path / "buckets.yaml";
  std::ofstream(good) << "gs://x/logs:\n  prefix: 'x:'\n";
  auto b = Buckets::load(good);
  BOOST_REQUIRE_EQUAL(b.entries().size(), 1u);
  BOOST_CHECK_EQUAL(b.entries()[0].url, "gs://x/logs/");

  auto bad = dir.path / "bad.yaml";
  std::ofstream(bad) << "gs://x/:\n  exclude_jobs: 3\n";
  try {
    Buckets::load(bad);
    BOOST_FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    BOOST_CHECK(starts_with(e.what(), bad.string() + ":2: bucket gs://x/: exclude_jobs"));
  }
}

BOOST_AUTO_TEST_CASE(error_missing_or_unreadable_file) {
  TempDir dir;
  auto missing = dir.path / "nope.yaml";
  try {
    Buckets::load(missing);
    BOOST_FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    BOOST_TEST_INFO(msg);
    BOOST_CHECK(starts_with(msg, missing.string() + ": "));
    BOOST_CHECK(contains(msg, "No such file or directory"));
  }
  try {
    Buckets::load(dir.path);  // a directory: opens, then fails to read
    BOOST_FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    BOOST_TEST_INFO(msg);
    BOOST_CHECK(starts_with(msg, dir.path.string() + ": "));
    BOOST_CHECK(contains(msg, "Is a directory"));
  }
}

BOOST_AUTO_TEST_SUITE_END()
