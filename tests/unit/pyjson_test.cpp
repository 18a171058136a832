// Python json.dumps compatibility (SPEC §3.4) and JSON reading (rows/build_json).
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "kettle/rows/build_json.hpp"
#include "kettle/rows/pyjson.hpp"
#include "support/files.hpp"

namespace json = boost::json;
using namespace kettle::rows;

using kettle::test_support::read_spec_file;

namespace {

std::string repr(double d) {
  std::string out;
  pyjson::append_double(out, d);
  return out;
}

std::string quoted(std::string_view s) {
  std::string out;
  pyjson::append_string(out, s);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pyjson_dumps)

BOOST_AUTO_TEST_CASE(spec_vectors_sorted_and_in_insertion_order) {
  const auto vectors = parse_json(read_spec_file("pyjson.json"));
  BOOST_REQUIRE(vectors && vectors->is_array());
  BOOST_REQUIRE_EQUAL(vectors->get_array().size(), 5u);
  for (const auto& v : vectors->get_array()) {
    const auto& c = v.get_object();
    const json::value& value = c.at("value");
    BOOST_TEST(pyjson::dumps(value, true) == c.at("sort_keys").get_string().c_str());
    BOOST_TEST(pyjson::dumps(value, false) == c.at("insertion_order").get_string().c_str());
  }
}

BOOST_AUTO_TEST_CASE(floats_in_python_repr_form) {
  BOOST_TEST(repr(0.1) == "0.1");
  BOOST_TEST(repr(1e22) == "1e+22");
  BOOST_TEST(repr(1e-7) == "1e-07");
  BOOST_TEST(repr(5e-324) == "5e-324");
  BOOST_TEST(repr(1.5e-323) == "1.5e-323");
  BOOST_TEST(repr(1.7976931348623157e+308) == "1.7976931348623157e+308");
  BOOST_TEST(repr(100.0) == "100.0");
  BOOST_TEST(repr(3900.0) == "3900.0");
  BOOST_TEST(repr(0.0) == "0.0");
  BOOST_TEST(repr(-0.0) == "-0.0");
  BOOST_TEST(repr(-1.5) == "-1.5");
  BOOST_TEST(repr(1.5e300) == "1.5e+300");
  BOOST_TEST(repr(2.065e-05) == "2.065e-05");
  BOOST_TEST(repr(0.00012) == "0.00012");
  BOOST_TEST(repr(0.3333333333333333) == "0.3333333333333333");
  BOOST_TEST(repr(100.10000000000001) == "100.10000000000001");
  BOOST_TEST(repr(1.2345678901234568e+16) == "1.2345678901234568e+16");
  BOOST_TEST(repr(12345678901234567890.0) == "1.2345678901234567e+19");
}

BOOST_AUTO_TEST_CASE(fixed_notation_boundaries) {
  // Fixed notation for decimal exponents -4..15, scientific outside.
  BOOST_TEST(repr(1e16) == "1e+16");
  BOOST_TEST(repr(9999999999999998.0) == "9999999999999998.0");
  BOOST_TEST(repr(1e15) == "1000000000000000.0");
  BOOST_TEST(repr(123456789012345.0) == "123456789012345.0");
  BOOST_TEST(repr(0.0001) == "0.0001");
  BOOST_TEST(repr(1e-05) == "1e-05");
  BOOST_TEST(repr(9007199254740993.0) == "9007199254740992.0");
}

BOOST_AUTO_TEST_CASE(non_finite_written_as_python_does) {
  BOOST_TEST(repr(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  BOOST_TEST(repr(std::numeric_limits<double>::infinity()) == "Infinity");
  BOOST_TEST(repr(-std::numeric_limits<double>::infinity()) == "-Infinity");
}

BOOST_AUTO_TEST_CASE(integers_and_literals) {
  json::array a{std::numeric_limits<int64_t>::min(), std::numeric_limits<uint64_t>::max(), nullptr, true, false,
                json::array{}, json::object{}};
  BOOST_TEST(pyjson::dumps(a, false) ==
             "[-9223372036854775808, 18446744073709551615, null, true, false, [], {}]");
}

BOOST_AUTO_TEST_CASE(string_escapes) {
  BOOST_TEST(quoted("\"\\/\n\r\t\b\f\x01\x1f\x7f ~") == R"("\"\\/\n\r\t\b\f\u0001\u001f\u007f ~")");
  BOOST_TEST(quoted(std::string_view("a\0b", 3)) == R"("a\u0000b")");
  BOOST_TEST(quoted("") == R"("")");
}

BOOST_AUTO_TEST_CASE(non_ascii_as_lowercase_u_escapes_with_surrogate_pairs) {
  BOOST_TEST(quoted("\u00e9\U0001F680\uffff\U00010000\u2028") ==
             R"("\u00e9\ud83d\ude80\uffff\ud800\udc00\u2028")");
  BOOST_TEST(quoted("\U0010FFFF") == R"("\udbff\udfff")");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_replaced_per_maximal_subpart) {
  // Same as Python's bytes.decode("utf-8", "replace").
  BOOST_TEST(quoted("\xff") == R"("\ufffd")");
  BOOST_TEST(quoted("a\xe2\x82") == R"("a\ufffd")");
  BOOST_TEST(quoted("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");
  BOOST_TEST(quoted("\xc0\xaf") == R"("\ufffd\ufffd")");
  BOOST_TEST(quoted("\xf4\x90\x80\x80") == R"("\ufffd\ufffd\ufffd\ufffd")");
  BOOST_TEST(quoted("\xf0\x9f\x9a!") == R"("\ufffd!")");
  BOOST_TEST(quoted("\xe0\x80\xaf") == R"("\ufffd\ufffd\ufffd")");
}

BOOST_AUTO_TEST_CASE(sort_keys_by_code_point_recursively) {
  json::object obj;
  obj["b"] = 1;
  obj["a"] = json::object{{"z", 1}, {"y", 2}};
  obj["\u00e9"] = 1;
  obj["Z"] = 1;
  obj["\U0001F680"] = 1;
  obj["\uffff"] = 1;
  obj[""] = 0;
  BOOST_TEST(pyjson::dumps(obj, true) ==
             R"({"": 0, "Z": 1, "a": {"y": 2, "z": 1}, "b": 1, "\u00e9": 1, "\uffff": 1, "\ud83d\ude80": 1})");
  BOOST_TEST(pyjson::dumps(obj, false) ==
             R"({"b": 1, "a": {"z": 1, "y": 2}, "\u00e9": 1, "Z": 1, "\ud83d\ude80": 1, "\uffff": 1, "": 0})");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json_reading)

BOOST_AUTO_TEST_CASE(doubles_are_correctly_rounded) {
  // Each text is the shortest repr of its double, so reading and writing back
  // must give the same text. The last two are read one ulp off by Boost 1.81.
  for (const char* text : {"0.1", "2.065e-05", "654.279097299", "0.3333333333333333", "100.10000000000001",
                           "1.2345678901234568e+16", "5e-324", "1.7976931348623157e+308", "6.342e-06",
                           "5.399023835", "2.2250738585072014e-308", "8.98846567431158e+307", "0.30000000000000004",
                           "1595284709.9", "5.409760742964738e+124", "1.3927926388013963e-143"}) {
    const auto v = parse_json(text);
    BOOST_REQUIRE(v && v->is_double());
    BOOST_TEST(pyjson::dumps(*v, false) == text);
  }
}

BOOST_AUTO_TEST_CASE(numbers_keep_their_kind) {
  BOOST_TEST(pyjson::dumps(*parse_json("[1, -2, 18446744073709551615, 1.0, 1E5, -0.0, -0]"), false) ==
             "[1, -2, 18446744073709551615, 1.0, 100000.0, -0.0, 0]");
}

BOOST_AUTO_TEST_CASE(last_duplicate_key_wins) {
  const auto v = parse_json(R"({"a": 1, "b": 2, "a": 3})");
  BOOST_REQUIRE(v && v->is_object());
  BOOST_TEST(pyjson::dumps(*v, true) == R"({"a": 3, "b": 2})");
}

BOOST_AUTO_TEST_CASE(escapes_and_invalid_utf8) {
  const auto v = parse_json("[\"\\ud83d\\ude80\\u00e9\", \"x\xffy\"]");
  BOOST_REQUIRE(v);
  BOOST_TEST(pyjson::dumps(*v, false) == R"(["\ud83d\ude80\u00e9", "x\ufffdy"])");
}

BOOST_AUTO_TEST_CASE(malformed_text_is_nullopt) {
  for (const char* text : {"", "{", "{\"a\": }", "[1,]", "{} x", "nul", "'a'", "{\"a\": 1} {}"})
    BOOST_TEST(!parse_json(text), "accepted: " << text);
  BOOST_TEST(parse_json(" {\"a\": 1}\n ").has_value());
}

// json.dumps writes a number beyond the double range as Infinity: reading
// such a DB text back must give the same text, not "malformed".
BOOST_AUTO_TEST_CASE(non_finite_literals_read_back_as_python_reads_them) {
  const auto overflow = parse_json(R"({"a": [1e400, -1e400], "b": "NaN"})");
  BOOST_REQUIRE(overflow);
  const std::string text = pyjson::dumps(*overflow, true);
  BOOST_TEST(text == R"({"a": [Infinity, -Infinity], "b": "NaN"})");
  const auto again = parse_json(text);
  BOOST_REQUIRE(again);
  BOOST_TEST(pyjson::dumps(*again, true) == text);
  BOOST_TEST(normalize_build_json(text).value_or("") == text);

  const auto all = parse_json(" [ NaN,Infinity , -Infinity, {\"k\":NaN}]");
  BOOST_REQUIRE(all);
  BOOST_TEST(std::isnan(all->at(0).as_double()));
  BOOST_TEST(pyjson::dumps(*all, true) == R"([NaN, Infinity, -Infinity, {"k": NaN}])");
  BOOST_TEST(parse_json("NaN").has_value());
  for (const char* text : {"[1NaN]", "[NaN1]", "[Infinity0]", "[nan]", "[inf]", "[-NaN]", "[- Infinity]",
                           "[Infinityx]", "{NaN: 1}", "[\"a\"NaN]", "[NaN NaN]"})
    BOOST_TEST(!parse_json(text), "accepted: " << text);
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_not_a_crash) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  BOOST_TEST(parse_json(deep).has_value());
  const std::string deeper = std::string(100000, '[') + std::string(100000, ']');
  BOOST_TEST(!parse_json(deeper).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
