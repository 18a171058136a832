#include <boost/test/unit_test.hpp>

#include "kettle/cli/args.hpp"

using kettle::cli::Parser;
using kettle::cli::UsageError;

namespace {
Parser sample_parser() {
  Parser p("kettle x", "test");
  p.option("days", "D", "days").flag("gzip", "gz").option("tables", "NAME:DAYS", "tables", true).option(
      "stop_at", "H", "hour");
  p.positionals("PATH", "paths");
  return p;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(cli_args)

BOOST_AUTO_TEST_CASE(values_flags_and_positionals) {
  auto args = sample_parser().parse({"--days", "1.5", "--gzip", "gs://a/1", "--stop_at=3", "gs://b/2"});
  BOOST_REQUIRE(args);
  BOOST_TEST(*args->get_double("days") == 1.5);
  BOOST_TEST(args->has("gzip"));
  BOOST_TEST(*args->get_int("stop_at") == 3);
  BOOST_TEST(args->positionals() == (std::vector<std::string>{"gs://a/1", "gs://b/2"}), boost::test_tools::per_element());
  BOOST_TEST(!args->has("tables"));
}

BOOST_AUTO_TEST_CASE(multi_value_flag_takes_words_until_next_flag) {
  auto args = sample_parser().parse({"--tables", "day:1", "week:7", "all:30", "--gzip"});
  BOOST_REQUIRE(args);
  BOOST_TEST(args->all("tables") == (std::vector<std::string>{"day:1", "week:7", "all:30"}),
             boost::test_tools::per_element());
  BOOST_TEST(args->positionals().empty());
}

BOOST_AUTO_TEST_CASE(usage_errors) {
  auto p = sample_parser();
  BOOST_CHECK_THROW(p.parse({"--nope"}), UsageError);
  BOOST_CHECK_THROW(p.parse({"--days"}), UsageError);
  BOOST_CHECK_THROW(p.parse({"--gzip=1"}), UsageError);
  BOOST_CHECK_THROW(p.parse({"--days", "abc"})->get_double("days"), UsageError);
  BOOST_CHECK_THROW(p.parse({"--stop_at", "1.5"})->get_int("stop_at"), UsageError);
}

BOOST_AUTO_TEST_CASE(help_returns_nothing_and_lists_flags) {
  auto p = sample_parser();
  BOOST_TEST(!p.parse({"--help"}).has_value());
  BOOST_TEST(p.help().find("--tables NAME:DAYS...") != std::string::npos);
  BOOST_TEST(p.help().find("--stop_at H") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(verbose_flag) {
  auto args = sample_parser().parse({"-v"});
  BOOST_REQUIRE(args);
  BOOST_TEST(args->has("v"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_durations)

BOOST_AUTO_TEST_CASE(go_style_durations) {
  using namespace std::chrono_literals;
  using kettle::cli::parse_duration;
  BOOST_TEST(parse_duration("20s")->count() == 20000);
  BOOST_TEST(*parse_duration("15m") == std::chrono::milliseconds(15min));
  BOOST_TEST(*parse_duration("1h30m") == std::chrono::milliseconds(90min));
  BOOST_TEST(*parse_duration("500ms") == 500ms);
  BOOST_TEST(*parse_duration("1.5s") == 1500ms);
  BOOST_TEST(*parse_duration("90") == 90s);
  for (const char* bad : {"", "s", "10x", "-5s", "5 s", "1h-3m", "abc", "-2", "inf", "nan", "1e300", "0x10s", "infs"})
    BOOST_TEST(!parse_duration(bad), bad);
}

BOOST_AUTO_TEST_CASE(days) {
  using namespace std::chrono_literals;
  using kettle::cli::parse_duration;
  BOOST_TEST(*parse_duration("45d") == std::chrono::milliseconds(45 * 24h));
  BOOST_TEST(*parse_duration("90d") == std::chrono::milliseconds(90 * 24h));
  BOOST_TEST(*parse_duration("1d12h") == std::chrono::milliseconds(36h));
  BOOST_TEST(*parse_duration("0.5d") == std::chrono::milliseconds(12h));
  BOOST_TEST(*parse_duration("72h") == *parse_duration("3d"));
  // 1e9 seconds (31 years) is the limit, days included.
  BOOST_TEST(parse_duration("11574d").has_value());
  for (const char* bad : {"d", "-1d", "1D", "1dd", "1 d", "20000d", "1day"}) BOOST_TEST(!parse_duration(bad), bad);
}

BOOST_AUTO_TEST_CASE(duration_flags) {
  Parser p("kettle x", "test");
  p.option("stall-timeout", "DURATION", "limit");
  BOOST_TEST(*p.parse({"--stall-timeout", "2m"})->get_duration("stall-timeout") == std::chrono::minutes(2));
  BOOST_CHECK_THROW(p.parse({"--stall-timeout", "soon"})->get_duration("stall-timeout"), UsageError);
  BOOST_TEST(!p.parse({})->get_duration("stall-timeout"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cli_sizes)

BOOST_AUTO_TEST_CASE(binary_and_decimal_units) {
  using kettle::cli::parse_size;
  BOOST_TEST(*parse_size("2GiB") == 2ULL << 30);
  BOOST_TEST(*parse_size("500MiB") == 500ULL << 20);
  BOOST_TEST(*parse_size("64KiB") == 64ULL << 10);
  BOOST_TEST(*parse_size("1.5TiB") == 3ULL << 39);
  BOOST_TEST(*parse_size("2Gi") == 2ULL << 30);
  BOOST_TEST(*parse_size("2GB") == 2'000'000'000ULL);
  BOOST_TEST(*parse_size("2G") == 2'000'000'000ULL);
  BOOST_TEST(*parse_size("500MB") == 500'000'000ULL);
  BOOST_TEST(*parse_size("10k") == 10'000ULL);
  BOOST_TEST(*parse_size("4096") == 4096ULL);
  BOOST_TEST(*parse_size("4096B") == 4096ULL);
  BOOST_TEST(*parse_size("0") == 0ULL);
  BOOST_TEST(*parse_size("0.5KiB") == 512ULL);
  for (const char* bad : {"", "GiB", "-1GiB", "+1GiB", "1 GiB", "1gib", "1GIB", "1.2.3MiB", ".", "1e9", "0x10",
                          "inf", "nan", "99999999999TiB", "2GiBs", "1Pi"})
    BOOST_TEST(!parse_size(bad), bad);
}

BOOST_AUTO_TEST_CASE(size_flags) {
  Parser p("kettle x", "test");
  p.option("min-free", "SIZE", "headroom");
  BOOST_TEST(*p.parse({"--min-free", "500MiB"})->get_size("min-free") == 500ULL << 20);
  BOOST_CHECK_THROW(p.parse({"--min-free", "lots"})->get_size("min-free"), UsageError);
  BOOST_TEST(!p.parse({})->get_size("min-free"));
}

BOOST_AUTO_TEST_SUITE_END()
