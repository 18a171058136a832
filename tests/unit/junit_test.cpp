// JUnit parsing (SPEC §3.1, D1, D2, D12) and output stripping (SPEC §3.3).
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "kettle/junit/parser.hpp"
#include "kettle/junit/strip.hpp"
#include "support/files.hpp"

namespace json = boost::json;
using kettle::junit::parse;
using kettle::junit::parse_time;
using kettle::junit::ParseResult;
using kettle::junit::sanitize_utf8;
using kettle::junit::strip_output;
using kettle::junit::TestCase;

using kettle::test_support::read_file;

namespace {

const std::filesystem::path kSpecDir = std::filesystem::path(KETTLE_TEST_DATA) / "spec";
const std::string kReplacement = "\xEF\xBF\xBD";

// Boost.JSON 1.81 may miss the nearest double by one bit (100.10000000000001
// reads as 100.09999999999999), so times are compared via their text, read
// with the correctly rounded from_chars.
std::string quote_times(const std::string& json_text) {
  static const std::regex time_number(R"(("time":\s*)(-?[0-9][0-9.eE+-]*))");
  return std::regex_replace(json_text, time_number, "$1\"$2\"");
}

double exact_time(const json::value& quoted) {
  const json::string& text = quoted.as_string();
  double value = std::nan("");
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

json::object expected_vectors() {
  return json::parse(quote_times(read_file(kSpecDir / "junit_expected.json"))).as_object();
}

std::string describe(const TestCase& test) {
  std::ostringstream out;
  out.precision(17);
  out << "{name=" << test.name << " time=" << test.time << " failed=" << test.failed
      << " failure_text=" << test.failure_text << "}";
  return out.str();
}

// Compares with one "tests" list of junit_expected.json.
void check_tests(const std::string& file, const std::vector<TestCase>& actual,
                 const json::array& expected) {
  BOOST_TEST_CONTEXT(file) {
    BOOST_TEST(actual.size() == expected.size());
    if (actual.size() != expected.size()) return;
    for (std::size_t i = 0; i < actual.size(); ++i) {
      const json::object& want = expected[i].as_object();
      BOOST_TEST_CONTEXT("test " << i << " " << describe(actual[i])) {
        BOOST_TEST(actual[i].name == json::value_to<std::string>(want.at("name")));
        // Exact: both sides come from the same decimal text.
        BOOST_TEST(actual[i].time == exact_time(want.at("time")));
        const bool failed = want.contains("failed") && want.at("failed").as_bool();
        BOOST_TEST(actual[i].failed == failed);
        if (failed) {
          BOOST_TEST(actual[i].failure_text ==
                     json::value_to<std::string>(want.at("failure_text")));
        }
      }
    }
  }
}

// D1 files are those the hardened reference rejects for their entities.
bool is_dtd_vector(const json::object& vector) {
  const json::object& hardened = vector.at("defusedxml").as_object();
  return hardened.contains("raises") && hardened.at("raises").as_string() == "EntitiesForbidden";
}

bool same_tests(const std::vector<TestCase>& a, const std::vector<TestCase>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].time != b[i].time || a[i].failed != b[i].failed ||
        a[i].failure_text != b[i].failure_text) {
      return false;
    }
  }
  return true;
}

// The time parsed from a one-testcase document.
double time_of(const std::string& attribute_text) {
  const ParseResult result =
      parse("<testsuite><testcase name=\"t\" time=\"" + attribute_text + "\"/></testsuite>");
  BOOST_REQUIRE(result.ok());
  BOOST_REQUIRE_EQUAL(result.tests.size(), 1u);
  return result.tests[0].time;
}

std::string erase_all(const std::string& text, const std::string& piece) {
  std::string out;
  out.reserve(text.size());
  std::size_t kept_from = 0;
  for (std::size_t at = text.find(piece); at != std::string::npos;
       at = text.find(piece, kept_from)) {
    out.append(text, kept_from, at - kept_from);
    kept_from = at + piece.size();
  }
  out.append(text, kept_from);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(junit_vectors)

BOOST_AUTO_TEST_CASE(every_vector_file_matches_the_reference) {
  const json::object vectors = expected_vectors();
  BOOST_REQUIRE_GE(vectors.size(), 20u);
  std::size_t dtd_files = 0;
  for (const auto& [file, value] : vectors) {
    const json::object& vector = value.as_object();
    const std::string name(file);
    const ParseResult result = parse(read_file(kSpecDir / "junit" / name));
    if (is_dtd_vector(vector)) {
      ++dtd_files;
      BOOST_TEST_CONTEXT(name) {
        BOOST_TEST(result.tests.empty());
        BOOST_TEST(!result.ok());
      }
      continue;
    }
    check_tests(name, result.tests, vector.at("elementtree").at("tests").as_array());
  }
  BOOST_TEST(dtd_files == 2u);
}

BOOST_AUTO_TEST_CASE(malformed_vectors_report_an_error) {
  for (const char* name : {"malformed.xml", "truncated.xml", "empty.xml"}) {
    const ParseResult result = parse(read_file(kSpecDir / "junit" / name));
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(!result.ok());
      BOOST_TEST(result.error.find("line ") != std::string::npos);
    }
  }
  BOOST_TEST(parse(read_file(kSpecDir / "junit" / "other_root.xml")).ok());
}

BOOST_AUTO_TEST_CASE(stripping_every_vector_keeps_its_tests) {
  const json::object vectors = expected_vectors();
  for (const auto& [file, value] : vectors) {
    const std::string name(file);
    const std::string original = read_file(kSpecDir / "junit" / name);
    const std::string stripped = strip_output(original);
    BOOST_TEST_CONTEXT(name) {
      const ParseResult before = parse(original);
      const ParseResult after = parse(stripped);
      BOOST_TEST(before.ok() == after.ok());
      BOOST_TEST(same_tests(before.tests, after.tests));
      BOOST_TEST(stripped.size() <= original.size());
      if (value.at("system_out_removed").as_bool()) {
        BOOST_TEST(stripped.find("<system-out") == std::string::npos);
        BOOST_TEST(stripped.size() < original.size());
      }
      if (!before.ok()) BOOST_TEST(stripped == original);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(junit_parse)

BOOST_AUTO_TEST_CASE(testsuites_children_of_any_tag_are_suites) {
  const ParseResult result = parse(
      "<testsuites><group name=\"g\"><testcase name=\"a\" time=\"2\"/></group>"
      "<testsuite><testcase/></testsuite><testsuite name=\"\"><testcase name=\"\"/></testsuite>"
      "</testsuites>");
  BOOST_REQUIRE(result.ok());
  BOOST_REQUIRE_EQUAL(result.tests.size(), 3u);
  BOOST_TEST(result.tests[0].name == "g a");
  BOOST_TEST(result.tests[0].time == 2.0);
  BOOST_TEST(result.tests[1].name == "<unspecified> <unspecified>");
  // An empty attribute is present: no default.
  BOOST_TEST(result.tests[2].name == " ");
}

BOOST_AUTO_TEST_CASE(failure_text_is_the_leading_text_only) {
  const ParseResult result = parse(
      "<testsuite><testcase name=\"a\"><failure message=\"m\">x<!-- note -->y<?pi z?>"
      "<![CDATA[<c>]]>&amp;<child>inner</child>tail</failure></testcase>"
      "<testcase name=\"b\"><failure>first</failure><failure message=\"last\"/></testcase>"
      "<testcase name=\"c\"><error message=\"not a failure\"/></testcase></testsuite>");
  BOOST_REQUIRE(result.ok());
  BOOST_REQUIRE_EQUAL(result.tests.size(), 3u);
  BOOST_TEST(result.tests[0].failure_text == "m\nxy<c>&");
  BOOST_TEST(result.tests[1].failed);
  BOOST_TEST(result.tests[1].failure_text == "last");
  BOOST_TEST(!result.tests[2].failed);
  BOOST_TEST(result.tests[2].failure_text.empty());
}

BOOST_AUTO_TEST_CASE(namespaced_elements_are_not_junit) {
  // ElementTree names them "{uri}testsuite": no tests, and no error.
  for (const char* xml :
       {"<testsuite xmlns=\"urn:x\"><testcase name=\"a\"/></testsuite>",
        "<j:testsuite xmlns:j=\"urn:x\"><j:testcase name=\"a\"/></j:testsuite>"}) {
    const ParseResult result = parse(xml);
    BOOST_TEST(result.ok());
    BOOST_TEST(result.tests.empty());
  }
  const ParseResult prefixed_attribute =
      parse("<testsuite xmlns:j=\"urn:x\"><testcase j:name=\"a\"/></testsuite>");
  BOOST_REQUIRE_EQUAL(prefixed_attribute.tests.size(), 1u);
  BOOST_TEST(prefixed_attribute.tests[0].name == "<unspecified>");
  BOOST_TEST(!parse("<testsuite><u:testcase/></testsuite>").ok());  // unbound prefix
}

BOOST_AUTO_TEST_CASE(error_names_line_and_column) {
  const ParseResult result =
      parse("<testsuite>\n<testcase name=\"a\"/>\n<testcase name=></testsuite>");
  BOOST_TEST(!result.ok());
  BOOST_TEST(result.tests.empty());
  BOOST_TEST(result.error.find("line 3, column ") == 0u, result.error);
}

BOOST_AUTO_TEST_CASE(truncated_document_gives_no_tests) {
  const std::string full = "<testsuite><testcase name=\"a\"/><testcase name=\"b\"/></testsuite>";
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    const ParseResult result = parse(full.substr(0, cut));
    BOOST_TEST(!result.ok(), "cut at " << cut);
    BOOST_TEST(result.tests.empty());
  }
  BOOST_TEST(parse(full).tests.size() == 2u);
}

BOOST_AUTO_TEST_CASE(characters_illegal_in_xml_are_malformed) {
  BOOST_TEST(!parse("<testsuite><testcase name=\"a&#1;\"/></testsuite>").ok());
  BOOST_TEST(!parse(std::string("<testsuite><testcase name=\"a\x01\"/></testsuite>")).ok());
  BOOST_TEST(!parse("<testsuite><testcase name=\"&undefined;\"/></testsuite>").ok());
}

BOOST_AUTO_TEST_CASE(predefined_entities_and_references_are_decoded) {
  const ParseResult result = parse(
      "<testsuite><testcase name=\"&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;\"/></testsuite>");
  BOOST_REQUIRE_EQUAL(result.tests.size(), 1u);
  BOOST_TEST(result.tests[0].name == "<>&\"'AB\xF0\x9F\x98\x80");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(junit_dtd)

BOOST_AUTO_TEST_CASE(billion_laughs_is_refused_without_expansion) {
  std::string dtd = "<?xml version=\"1.0\"?>\n<!DOCTYPE testsuite [\n<!ENTITY l0 \"ha\">\n";
  for (int level = 1; level <= 30; ++level) {
    dtd += "<!ENTITY l" + std::to_string(level) + " \"";
    for (int i = 0; i < 10; ++i) dtd += "&l" + std::to_string(level - 1) + ";";
    dtd += "\">\n";
  }
  dtd += "]>\n<testsuite><testcase name=\"&l30;\"/></testsuite>";
  const ParseResult result = parse(dtd);
  BOOST_TEST(result.tests.empty());
  BOOST_TEST(!result.ok());
  BOOST_TEST(result.error.find("line 2") == 0u, result.error);
  BOOST_TEST(result.error.find("DTD") != std::string::npos, result.error);
  BOOST_TEST(strip_output(dtd) == dtd);
}

BOOST_AUTO_TEST_CASE(any_doctype_is_refused) {
  for (const char* xml : {"<!DOCTYPE testsuite><testsuite><testcase name=\"a\"/></testsuite>",
                          "<!DOCTYPE testsuite SYSTEM \"http://127.0.0.1:1/x.dtd\">"
                          "<testsuite><testcase name=\"a\"/></testsuite>",
                          "<!DOCTYPE testsuite [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>"
                          "<testsuite><testcase name=\"a\"/></testsuite>"}) {
    const ParseResult result = parse(xml);
    BOOST_TEST(!result.ok(), xml);
    BOOST_TEST(result.tests.empty(), xml);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(junit_time)

BOOST_AUTO_TEST_CASE(python_float_syntax_is_accepted) {
  BOOST_TEST(time_of("3") == 3.0);
  BOOST_TEST(time_of("+1.5") == 1.5);
  BOOST_TEST(time_of("-1.25") == -1.25);
  BOOST_TEST(time_of("1e5") == 1e5);
  BOOST_TEST(time_of("1E+2") == 100.0);
  BOOST_TEST(time_of("1_000.2_5") == 1000.25);
  BOOST_TEST(time_of("1e1_0") == 1e10);
  BOOST_TEST(time_of(".5") == 0.5);
  BOOST_TEST(time_of("5.") == 5.0);
  BOOST_TEST(time_of("007") == 7.0);
  BOOST_TEST(time_of(" 4.5 ") == 4.5);
  BOOST_TEST(time_of("&#10;&#9;2.5&#13;") == 2.5);
  BOOST_TEST(time_of(std::string("\xC2\xA0") + "3\xE2\x80\x83") == 3.0);  // no-break and em spaces
  BOOST_TEST(time_of("\xD9\xA1\xD9\xA2") == 12.0);                        // Arabic-Indic digits
  BOOST_TEST(time_of("0.1") == 0.1);
  BOOST_TEST(time_of("12345678901234567") == 12345678901234568.0);
  BOOST_TEST(time_of("4e-320") == 4e-320);  // subnormal, still finite
}

BOOST_AUTO_TEST_CASE(unusable_times_are_zero) {
  for (const char* text :
       {"",      " ",    "abc",  "1,5", "nan",  "NaN",          "inf",  "-Infinity",
        "1e400", "0x10", "1__0", "_1",  "1_",   "1_.5",         "1._5", "1e",
        "e5",    ".",    "+",    "--1", "1.5s", "\xE2\x85\xA0", "1 2"}) {
    BOOST_TEST(time_of(text) == 0.0, "time=\"" << text << "\"");
    BOOST_TEST(!std::signbit(time_of(text)), "time=\"" << text << "\"");
  }
}

BOOST_AUTO_TEST_CASE(underflow_keeps_the_sign_like_python) {
  BOOST_TEST(time_of("1e-400") == 0.0);
  BOOST_TEST(!std::signbit(time_of("1e-400")));
  BOOST_TEST(std::signbit(time_of("-1e-400")));
  BOOST_TEST(std::signbit(time_of("-0")));
  BOOST_TEST(parse_time("1" + std::string(400, '0')) == 0.0);  // overflow: inf -> 0.0
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(junit_encoding)

BOOST_AUTO_TEST_CASE(sanitize_replaces_maximal_subparts) {
  // The example of the Unicode standard, section 3.9 (U+FFFD substitution).
  const std::string input = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
  const std::string r = kReplacement;
  BOOST_TEST(sanitize_utf8(input) == "a" + r + r + r + "b" + r + "c" + r + r + "d");
  BOOST_TEST(sanitize_utf8("\xED\xA0\x80") == r + r + r);          // surrogate
  BOOST_TEST(sanitize_utf8("\xC0\xAF") == r + r);                  // overlong
  BOOST_TEST(sanitize_utf8("\xE0\x80\xAF") == r + r + r);          // overlong
  BOOST_TEST(sanitize_utf8("\xF4\x90\x80\x80") == r + r + r + r);  // above U+10FFFF
  BOOST_TEST(sanitize_utf8("ok\xE2\x82") == "ok" + r);             // truncated at the end
  BOOST_TEST(sanitize_utf8("\xFF\xFE") == r + r);
  const std::string valid = "plain ascii, caf\xC3\xA9, \xE2\x9C\x93, \xF0\x9F\x9A\x80 and more";
  BOOST_TEST(sanitize_utf8(valid) == valid);
  BOOST_TEST(sanitize_utf8("").empty());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_becomes_replacement_and_still_parses) {
  const std::string xml =
      "<testsuite><testcase name=\"bad\xFF name\" time=\"1\"><failure>x\xC3(</failure></testcase>"
      "</testsuite>";
  const ParseResult result = parse(xml);
  BOOST_REQUIRE(result.ok());
  BOOST_REQUIRE_EQUAL(result.tests.size(), 1u);
  BOOST_TEST(result.tests[0].name == "bad" + kReplacement + " name");
  BOOST_TEST(result.tests[0].failure_text == "x" + kReplacement + "(");
  const ParseResult declared = parse("<?xml version='1.0' encoding='utf8'?>" + xml);
  BOOST_REQUIRE_EQUAL(declared.tests.size(), 1u);
  BOOST_TEST(declared.tests[0].name == "bad" + kReplacement + " name");
}

BOOST_AUTO_TEST_CASE(declared_single_byte_encodings_are_decoded) {
  const std::string body = "<testsuite><testcase name=\"caf\xE9 \x80\"/></testsuite>";
  const ParseResult latin1 = parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + body);
  BOOST_REQUIRE_EQUAL(latin1.tests.size(), 1u);
  BOOST_TEST(latin1.tests[0].name == "caf\xC3\xA9 \xC2\x80");
  const ParseResult windows = parse("<?xml version=\"1.0\" encoding=\"windows-1252\"?>" + body);
  BOOST_REQUIRE_EQUAL(windows.tests.size(), 1u);
  BOOST_TEST(windows.tests[0].name == "caf\xC3\xA9 \xE2\x82\xAC");
  BOOST_TEST(!parse("<?xml version=\"1.0\" encoding=\"no-such-codec\"?>" + body).ok());
}

BOOST_AUTO_TEST_CASE(utf16_documents_are_read) {
  const std::string ascii = "<testsuite><testcase name=\"u16\" time=\"2\"/></testsuite>";
  std::string utf16 = "\xFF\xFE";  // little-endian BOM
  for (char c : ascii) {
    utf16 += c;
    utf16 += '\0';
  }
  const ParseResult result = parse(utf16);
  BOOST_REQUIRE(result.ok());
  BOOST_REQUIRE_EQUAL(result.tests.size(), 1u);
  BOOST_TEST(result.tests[0].name == "u16");
  BOOST_TEST(result.tests[0].time == 2.0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(junit_large)

BOOST_AUTO_TEST_CASE(hundred_thousand_testcases_across_chunks) {
  constexpr int kCases = 100000;
  std::string xml = "<testsuites><testsuite name=\"big\">";
  for (int i = 0; i < kCases; ++i) {
    xml += "<testcase name=\"case \xE2\x9C\x93 " + std::to_string(i) + "\" time=\"" +
           std::to_string(i) + ".25\">";
    if (i % 7 == 0)
      xml += "<failure message=\"m" + std::to_string(i) + "\">text &amp; more</failure>";
    if (i % 11 == 0) xml += "<skipped/>";
    xml += "<system-out>output line\n</system-out></testcase>";
  }
  xml += "</testsuite></testsuites>";
  BOOST_REQUIRE_GT(xml.size(), 2 * kettle::junit::detail::kFeedChunkBytes);

  std::vector<TestCase> expected;
  for (int i = 0; i < kCases; ++i) {
    if (i % 11 == 0) continue;
    TestCase test{"big case \xE2\x9C\x93 " + std::to_string(i), i + 0.25, i % 7 == 0, ""};
    if (test.failed) test.failure_text = "m" + std::to_string(i) + "\ntext & more";
    expected.push_back(std::move(test));
  }
  const ParseResult result = parse(xml);
  BOOST_REQUIRE(result.ok());
  BOOST_REQUIRE_EQUAL(result.tests.size(), expected.size());
  BOOST_TEST(same_tests(result.tests, expected));

  const std::string stripped = strip_output(xml);
  BOOST_TEST(stripped == erase_all(xml, "<system-out>output line\n</system-out>"));
}

BOOST_AUTO_TEST_CASE(text_longer_than_a_chunk_is_kept_whole) {
  std::string text;
  while (text.size() < 3 * kettle::junit::detail::kFeedChunkBytes)
    text += "\xE2\x82\xAC line of output\n";
  const ParseResult result = parse("<testsuite><testcase name=\"t\"><failure>" + text +
                                   "</failure></testcase></testsuite>");
  BOOST_REQUIRE_EQUAL(result.tests.size(), 1u);
  BOOST_TEST(result.tests[0].failure_text == text);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(junit_strip)

BOOST_AUTO_TEST_CASE(only_output_elements_are_cut_and_the_rest_is_byte_identical) {
  const std::string out1 =
      "<system-out>a &amp; <b>nested</b> <system-out>x</system-out></system-out>";
  const std::string out2 = "<system-err\n  attr='1' />";
  const std::string out3 = "<system-out><![CDATA[<testcase name=\"fake\"/>]]></system-out >";
  const std::string xml = "<?xml version=\"1.0\"?>\r\n<!-- c -->\n<testsuite  name='s'>\n  " +
                          out1 + "\n  <testcase name='a' time = '1'>" + out2 +
                          "<failure>f</failure>" + out3 +
                          "</testcase>\t\n</testsuite>\n<!-- after -->\n";
  const std::string expected = erase_all(erase_all(erase_all(xml, out1), out2), out3);
  BOOST_REQUIRE_EQUAL(expected.size() + out1.size() + out2.size() + out3.size(), xml.size());
  BOOST_TEST(strip_output(xml) == expected);
  BOOST_TEST(same_tests(parse(xml).tests, parse(expected).tests));
}

BOOST_AUTO_TEST_CASE(elements_that_could_change_a_row_are_kept) {
  // Under <failure> the cut would join "a" and "b" into its leading text.
  const std::string in_failure =
      "<testsuite><testcase name='t'><failure>a<system-out>x</system-out>b</failure></testcase>"
      "</testsuite>";
  BOOST_TEST(strip_output(in_failure) == in_failure);
  // A direct child of <testsuites> is a suite: its testcases count.
  const std::string as_suite =
      "<testsuites><system-out name='s'><testcase name='t'/><system-err>e</system-err>"
      "</system-out></testsuites>";
  const std::string stripped = strip_output(as_suite);
  BOOST_TEST(stripped == erase_all(as_suite, "<system-err>e</system-err>"));
  BOOST_REQUIRE_EQUAL(parse(stripped).tests.size(), 1u);
  BOOST_TEST(parse(stripped).tests[0].name == "s t");
  // The root itself stays.
  const std::string root = "<system-out><testcase/></system-out>";
  BOOST_TEST(strip_output(root) == root);
}

BOOST_AUTO_TEST_CASE(malformed_input_is_returned_unchanged) {
  const std::string truncated = "<testsuite><testcase><system-out>partial";
  BOOST_TEST(strip_output(truncated) == truncated);
  const std::string doctype = "<!DOCTYPE t><testsuite><system-out>x</system-out></testsuite>";
  BOOST_TEST(strip_output(doctype) == doctype);
  BOOST_TEST(strip_output("").empty());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_cut_from_the_repaired_text) {
  const std::string xml =
      "<testsuite><testcase name='\xFF'><system-out>\xC3 x</system-out></testcase></testsuite>";
  BOOST_TEST(strip_output(xml) ==
             "<testsuite><testcase name='" + kReplacement + "'></testcase></testsuite>");
}

BOOST_AUTO_TEST_SUITE_END()
