// JUnit parsing (SPEC §3.1, D1, D2, D12) and output stripping (SPEC §3.3).
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>

#include "kettle/junit/parser.hpp"
#include "kettle/junit/strip.hpp"
#include "support/files.hpp"
#include "support/peak_memory.hpp"

namespace json = boost::json;
using kettle::junit::kMaxElementDepth;
using kettle::junit::kMaxParserBytes;
using kettle::junit::kMaxTestsBytes;
using kettle::junit::parse;
using kettle::junit::parse_time;
using kettle::junit::ParseResult;
using kettle::junit::sanitize_utf8;
using kettle::junit::strip_output;
using kettle::junit::TestCase;

using kettle::test_support::peak_memory_in_child;
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

std::string repeat(const std::string& piece, std::size_t times) {
  std::string out;
  out.reserve(piece.size() * times);
  for (std::size_t i = 0; i < times; ++i) out += piece;
  return out;
}

// `levels` nested <a> elements around `inner`.
std::string nested(int levels, const std::string& inner = "") {
  const auto n = static_cast<std::size_t>(levels);
  return repeat("<a>", n) + inner + repeat("</a>", n);
}

const std::string kDepthError =
    "elements nested deeper than the limit of " + std::to_string(kMaxElementDepth) + " levels";

constexpr std::size_t kMiB = std::size_t{1} << 20;

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
  BOOST_REQUIRE_GT(xml.size(), 2 * kettle::junit::kFeedChunkBytes);

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
  while (text.size() < 3 * kettle::junit::kFeedChunkBytes) text += "\xE2\x82\xAC line of output\n";
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

BOOST_AUTO_TEST_CASE(cuts_of_any_length_and_distance) {
  const std::string large_output = "<system-out>" + std::string(3 * kMiB, 'o') + "</system-out>";
  const std::string far(5 * kMiB, 'g');  // kept text between the cuts
  const std::string xml = "<testsuite><testcase name='a'>" + large_output + "</testcase>" + far +
                          "<testcase name='b'><system-err>e</system-err></testcase>" + far +
                          "<system-out/></testsuite>";
  const std::string expected = "<testsuite><testcase name='a'></testcase>" + far +
                               "<testcase name='b'></testcase>" + far + "</testsuite>";
  BOOST_TEST(strip_output(xml) == expected);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_cut_from_the_repaired_text) {
  const std::string xml =
      "<testsuite><testcase name='\xFF'><system-out>\xC3 x</system-out></testcase></testsuite>";
  BOOST_TEST(strip_output(xml) ==
             "<testsuite><testcase name='" + kReplacement + "'></testcase></testsuite>");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(junit_limits)

BOOST_AUTO_TEST_CASE(depth_at_the_limit_is_well_formed_one_more_is_not) {
  const std::string at_limit = nested(kMaxElementDepth);
  BOOST_TEST(parse(at_limit).ok());
  BOOST_TEST(strip_output(at_limit) == at_limit);

  const std::string over = nested(kMaxElementDepth + 1);
  const ParseResult result = parse(over);
  BOOST_TEST(!result.ok());
  BOOST_TEST(result.tests.empty());
  // Where the first element over the limit starts (expat counts columns from 0).
  BOOST_TEST(result.error ==
             "line 1, column " + std::to_string(3 * kMaxElementDepth) + ": " + kDepthError);
  BOOST_TEST(strip_output(over) == over);

  // An empty element over the limit too (expat still reports its end).
  const std::string empty_over = nested(kMaxElementDepth, "<a/>");
  BOOST_TEST(parse(empty_over).error.find(kDepthError) != std::string::npos);
  BOOST_TEST(strip_output(empty_over) == empty_over);
}

BOOST_AUTO_TEST_CASE(the_error_names_the_line_of_the_element_over_the_limit) {
  const auto levels = static_cast<std::size_t>(kMaxElementDepth) + 10;
  const std::string xml = repeat("<a>\n", levels) + repeat("</a>\n", levels);
  BOOST_TEST(parse(xml).error ==
             "line " + std::to_string(kMaxElementDepth + 1) + ", column 0: " + kDepthError);
}

BOOST_AUTO_TEST_CASE(a_testcase_in_a_document_at_the_limit_counts) {
  // testsuites, testsuite, testcase and system-out are four of the levels.
  const auto document = [](int levels_in_output) {
    return "<testsuites><testsuite name='s'><testcase name='t' time='1'><system-out>" +
           nested(levels_in_output) +
           "</system-out><failure message='m'>deep</failure></testcase></testsuite></testsuites>";
  };
  const std::string at_limit = document(kMaxElementDepth - 4);
  const ParseResult result = parse(at_limit);
  BOOST_REQUIRE(result.ok());
  BOOST_REQUIRE_EQUAL(result.tests.size(), 1u);
  BOOST_TEST(result.tests[0].name == "s t");
  BOOST_TEST(result.tests[0].time == 1.0);
  BOOST_TEST(result.tests[0].failure_text == "m\ndeep");
  BOOST_TEST(strip_output(at_limit) ==
             erase_all(at_limit, "<system-out>" + nested(kMaxElementDepth - 4) + "</system-out>"));

  const std::string over = document(kMaxElementDepth - 3);
  BOOST_TEST(!parse(over).ok());
  BOOST_TEST(parse(over).tests.empty());
  BOOST_TEST(strip_output(over) == over);
}

BOOST_AUTO_TEST_CASE(tests_before_the_deep_part_are_not_kept) {
  const std::string xml =
      "<testsuite><testcase name='a'/><testcase name='b'><system-out>x</system-out></testcase>" +
      nested(kMaxElementDepth) + "</testsuite>";
  const ParseResult result = parse(xml);
  BOOST_TEST(!result.ok());
  BOOST_TEST(result.tests.empty());
  BOOST_TEST(result.error.find(kDepthError) != std::string::npos, result.error);
  BOOST_TEST(strip_output(xml) == xml);
}

BOOST_AUTO_TEST_CASE(a_suite_name_repeated_in_every_test_is_bounded) {
  // Each test name is the suite name, a space and "<unspecified>".
  const std::size_t suite_name_bytes = kMaxTestsBytes / 10;
  const std::size_t test_bytes = sizeof(TestCase) + suite_name_bytes + 1 + 13;
  const std::size_t fitting = kMaxTestsBytes / test_bytes;
  const std::string head = "<testsuites><s name='" + std::string(suite_name_bytes, 'n') + "'>";
  const std::string tail = "</s></testsuites>";

  const ParseResult within = parse(head + repeat("<testcase/>", fitting) + tail);
  BOOST_TEST(within.ok(), within.error);
  BOOST_TEST(within.tests.size() == fitting);

  const std::string limit_error =
      "the tests take more than the limit of " + std::to_string(kMaxTestsBytes) + " bytes";
  // A document of 10 MB that would otherwise produce a gigabyte of names.
  const ParseResult over = parse(head + repeat("<testcase/>", 100) + tail);
  BOOST_TEST(!over.ok());
  BOOST_TEST(over.tests.empty());
  BOOST_TEST(over.error.find(limit_error) != std::string::npos, over.error);

  // Failure messages and texts count as well.
  const std::string rest = repeat("<testcase/>", fitting - 1);
  const std::string big(suite_name_bytes, 'm');
  for (const std::string& failure :
       {"<failure message='" + big + "'/>", "<failure>" + big + "</failure>"}) {
    const ParseResult result = parse(head + rest + "<testcase>" + failure + "</testcase>" + tail);
    BOOST_TEST(result.error.find(limit_error) != std::string::npos, result.error);
  }
}

BOOST_AUTO_TEST_CASE(a_million_empty_testcases_are_over_the_limit) {
  const std::size_t fitting = kMaxTestsBytes / (sizeof(TestCase) + 13);
  const std::string xml = "<testsuite>" + repeat("<testcase/>", fitting + 1) + "</testsuite>";
  const ParseResult result = parse(xml);
  BOOST_TEST(!result.ok());
  BOOST_TEST(result.tests.empty());
  // Stripping builds no tests: the document is cut as usual.
  BOOST_TEST(strip_output(xml) == xml);
}

BOOST_AUTO_TEST_CASE(what_expat_holds_is_bounded) {
  // expat keeps every distinct element name, and a start tag whole.
  const std::string names = [] {
    std::string xml = "<testsuite>";
    for (std::size_t i = 0; xml.size() < kMaxParserBytes / 4; ++i) {
      xml += "<e" + std::to_string(i) + "/>";
    }
    return xml + "<system-out/></testsuite>";
  }();
  const std::string attribute =
      "<testsuite><testcase name='" + std::string(kMaxParserBytes / 2, 'x') + "'/></testsuite>";
  const std::string limit_error =
      "the XML parser needs more than the limit of " + std::to_string(kMaxParserBytes) + " bytes";
  for (const std::string* xml : {&names, &attribute}) {
    const ParseResult result = parse(*xml);
    BOOST_TEST(!result.ok());
    BOOST_TEST(result.tests.empty());
    BOOST_TEST(result.error.find(limit_error) != std::string::npos, result.error);
    BOOST_TEST(strip_output(*xml) == *xml);
  }
  // A start tag of some megabytes is fine.
  const ParseResult large = parse("<testsuite><testcase name='" +
                                  std::string(kMaxParserBytes / 8, 'x') + "'/></testsuite>");
  BOOST_REQUIRE_EQUAL(large.tests.size(), 1u);
  BOOST_TEST(large.tests[0].name.size() == kMaxParserBytes / 8);
}

BOOST_AUTO_TEST_SUITE_END()

// Peak memory, measured in a child process (support/peak_memory.hpp). Each
// bound counts the generated document itself, once.
BOOST_AUTO_TEST_SUITE(junit_memory)

BOOST_AUTO_TEST_CASE(a_deeply_nested_document_costs_less_than_three_times_its_size) {
  constexpr std::size_t kDocumentBytes = 60 * kMiB;
  const auto work = []() -> std::string {
    std::string xml;
    xml.reserve(kDocumentBytes);
    xml = "<testsuites><testsuite><testcase name='t'/>";
    while (xml.size() + 3 <= kDocumentBytes) xml += "<a>";
    const ParseResult parsed = parse(xml);
    if (parsed.ok() || !parsed.tests.empty()) return "parse took the document as well-formed";
    if (parsed.error.find(kDepthError) == std::string::npos) return "parse: " + parsed.error;
    // strip_output gets a copy: with the document, two of the three.
    if (strip_output(xml) != xml) return "strip_output changed the document";
    return "";
  };
  const auto peak = peak_memory_in_child(work, 8 * kDocumentBytes);
  BOOST_REQUIRE_MESSAGE(peak.ran, "the measuring child did not report");
  BOOST_TEST(peak.failure.empty(), peak.failure);
  BOOST_TEST_MESSAGE("deep document: peak growth " << peak.growth() / kMiB << " MiB for "
                                                   << kDocumentBytes / kMiB << " MiB");
  BOOST_TEST(peak.growth() < 3 * kDocumentBytes,
             "peak growth " << peak.growth() << " bytes for a document of " << kDocumentBytes);
}

BOOST_AUTO_TEST_CASE(flat_documents_cost_their_size_and_a_bounded_amount) {
  constexpr std::size_t kDocumentBytes = (KETTLE_SANITIZED ? 8 : 60) * kMiB;
  struct Shape {
    const char* name;
    std::string head;
    std::function<std::string(std::size_t)> piece;  // the i-th repeated piece
    std::string tail;
  };
  const std::string block(4096, 'x');
  const std::vector<Shape> shapes = {
      {"empty testcases", "<testsuite>", [](std::size_t) { return "<testcase/>"; }, "</testsuite>"},
      {"testcases with output", "<testsuite>",
       [](std::size_t) { return "<testcase name='t'><system-out>x</system-out></testcase>"; },
       "</testsuite>"},
      {"output elements", "<testsuite>", [](std::size_t) { return "<system-out/> "; },
       "</testsuite>"},
      {"distinct element names", "<testsuite>",
       [](std::size_t i) { return "<e" + std::to_string(i) + "/>"; }, "</testsuite>"},
      {"distinct attribute names", "<testsuite><testcase ",
       [](std::size_t i) { return "a" + std::to_string(i) + "='' "; }, "/></testsuite>"},
      {"one huge attribute", "<testsuite><testcase name='", [&](std::size_t) { return block; },
       "'/></testsuite>"},
      {"one huge failure text", "<testsuite><testcase><failure>",
       [&](std::size_t) { return block; }, "</failure></testcase></testsuite>"},
  };
  // Beyond the document: expat, and the tests, up to three times their limit
  // while their vector grows (meson's MALLOC_PERTURB_ makes all of it resident).
  constexpr std::size_t kBound = kDocumentBytes + kMaxParserBytes + 3 * kMaxTestsBytes + 16 * kMiB;
  for (const Shape& shape : shapes) {
    const auto work = [&]() -> std::string {
      std::string xml;
      xml.reserve(kDocumentBytes + 4096);
      xml = shape.head;
      for (std::size_t i = 0; xml.size() + 4096 + shape.tail.size() <= kDocumentBytes; ++i) {
        xml += shape.piece(i);
      }
      xml += shape.tail;
      parse(xml);
      strip_output(std::move(xml));
      return "";
    };
    const auto peak = peak_memory_in_child(work, 8 * 60 * kMiB);
    BOOST_TEST_MESSAGE(shape.name << ": peak growth " << peak.growth() / kMiB << " MiB for "
                                  << kDocumentBytes / kMiB << " MiB");
    BOOST_TEST_CONTEXT(shape.name) {
      BOOST_REQUIRE_MESSAGE(peak.ran, "the measuring child did not report");
      BOOST_TEST(peak.failure.empty(), peak.failure);
      BOOST_TEST(peak.growth() < kBound, "peak growth " << peak.growth() << " bytes");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- the plain reader against expat

namespace {

// The events of a run as text: character data merged between markup events
// (readers may cut it differently).
class Recorder final : public kettle::junit::detail::XmlEvents {
 public:
  void start_element(std::string_view name, const char** attributes, std::uint64_t) override {
    flush();
    log_.append("S ").append(name);
    for (const char** at = attributes; at && at[0]; at += 2) log_.append(" ").append(at[0]).append("=[").append(at[1]).append("]");
    log_ += '\n';
  }
  void end_element(std::uint64_t) override {
    flush();
    log_ += "E\n";
  }
  void character_data(std::string_view text) override { text_.append(text); }
  std::string log() {
    flush();
    return log_;
  }

 private:
  void flush() {
    if (!text_.empty()) log_ += "T[" + text_ + "]\n";
    text_.clear();
  }
  std::string log_;
  std::string text_;
};

// Where the plain reader accepts a document, expat must find it well-formed
// and give the same events. Returns whether the plain reader accepted it.
bool plain_agrees_with_expat(const std::string& doc) {
  using namespace kettle::junit::detail;
  const XmlInput input = prepare_input(doc);
  if (input.encoding == nullptr) return false;  // not UTF-8: never read plainly
  Recorder plain;
  if (!run_plain_xml(input.text(), plain)) return false;
  Recorder expat;
  const std::string error = run_expat(input, expat);
  BOOST_TEST(error.empty(), "plain reader accepted what expat refuses (" << error << "): " << doc);
  BOOST_TEST(plain.log() == expat.log(), "events differ for: " << doc);
  return true;
}

// Documents with every construct the plain reader reads, and some it leaves to expat.
const std::vector<std::string>& seed_documents() {
  static const std::vector<std::string> seeds = {
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"s\" tests=\"2\">\n"
      "  <testcase name=\"a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;\" time=\"1.5\"/>\n"
      "  <testcase name='x\ty\r\nz' classname=\"k\" time=\"2\"><failure message=\"m&#10;n&#x41;\">line1\r\nline2\rline3"
      "<![CDATA[raw <b> & ]] \r\n]]>tail &#233;&#x1F600;</failure></testcase>\n"
      "  <!-- a comment - with dashes -->\n"
      "  <testcase name=\"sk\"><skipped/></testcase>\n</testsuite>\n<!-- after -->\n",
      "<?xml version='1.0' standalone='yes' ?><testsuites><testsuite name=\"\xC3\xBC\xE6\x97\xA5\">"
      "<testcase name=\"t\" time=\" 3 \"><failure>x<b>inner</b>after</failure><failure message=\"second\"/></testcase>"
      "</testsuite><other name=\"o\"><testcase name=\"deep\"/></other></testsuites>",
      "<testsuite><testcase name=\"\xEF\xBF\xBD\xEF\xBB\xBF\" time=\"1e3\"/></testsuite>",
      "<?xml version=\"1.0\" encoding=\"utf8\"?><testsuite><testcase/></testsuite>",
      "<a xmlns=\"urn:x\"><testcase name=\"n\"/></a>",
      "<testsuite><x:testcase xmlns:x=\"u\" name=\"n\"/></testsuite>",
      "<?xml version=\"1.0\"?><!DOCTYPE testsuite><testsuite/>",
      "<testsuite><?pi data?><testcase name=\"p\"/></testsuite>",
  };
  return seeds;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(junit_plain_reader)

BOOST_AUTO_TEST_CASE(spec_vectors_and_seeds_read_as_expat_reads_them) {
  int accepted = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kSpecDir / "junit"))
    accepted += plain_agrees_with_expat(read_file(entry.path()));
  for (const auto& doc : seed_documents()) accepted += plain_agrees_with_expat(doc);
  BOOST_TEST(accepted >= 20);  // most real JUnit takes the plain path
  // Each of these is left to expat.
  for (const char* doc : {"<a xmlns=\"urn:x\"/>", "<a><?pi?></a>", "<!DOCTYPE a><a/>", "\xEF\xBB\xBF<a/>",
                          "<a:b xmlns:a=\"u\"/>", "<a b=\"1\" b=\"2\"/>", "<a>&unknown;</a>", "<a>]]></a>",
                          "<a>\x01</a>", "<a>\xEF\xBF\xBE</a>", "<a/><b/>", "<a/>text", "text<a/>", "<a>",
                          "<a></b>", "", "<a>&#0;</a>", "<a b=\"<\"/>", "<?xml version=\"1.1\"?><a/>",
                          "<a><!-- x -- y --></a>", "<\xC3\xA9/>"}) {
    kettle::junit::detail::XmlInput input = kettle::junit::detail::prepare_input(doc);
    Recorder events;
    BOOST_TEST(!kettle::junit::detail::run_plain_xml(input.text(), events), "plain reader accepted: " << doc);
  }
}

BOOST_AUTO_TEST_CASE(mutated_documents_read_as_expat_reads_them) {
  // Random edits of the seeds: bytes that matter to XML inserted, bytes
  // deleted, ranges repeated. Deterministic (fixed seed).
  const std::string alphabet = "<>/=\"'&;#x!-?[]:\r\n\t \x01\x7F\xC3\xA9\xEF\xBF\xBE" "abtestcaseuifl1.0";
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  auto next = [&state](std::uint64_t bound) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<std::size_t>(state % bound);
  };
  const auto& seeds = seed_documents();
  int accepted = 0;
  constexpr int kRounds = 30'000;
  for (int round = 0; round < kRounds; ++round) {
    std::string doc = seeds[next(3)];  // the well-formed ones
    for (int edits = 1 + static_cast<int>(next(3)); edits > 0; --edits) {
      const std::size_t at = next(doc.size() + 1);
      switch (next(3)) {
        case 0: doc.insert(at, 1, alphabet[next(alphabet.size())]); break;
        case 1:
          if (at < doc.size()) doc.erase(at, 1 + next(3));
          break;
        default: {
          const std::size_t from = next(doc.size() + 1);
          doc.insert(at, doc.substr(from, next(12)));
        }
      }
    }
    accepted += plain_agrees_with_expat(doc);
  }
  BOOST_TEST_MESSAGE("plain reader accepted " << accepted << " of " << kRounds << " mutated documents");
  BOOST_TEST(accepted > kRounds / 20);  // the comparison did run on many
}

BOOST_AUTO_TEST_SUITE_END()
