// Whole files for assertions: test vectors under tests/data and outputs.
#pragma once

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace kettle::test_support {

// The bytes of `path`; fails the test when it cannot be opened.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// A file of the spec vectors (tests/data/spec/NAME).
inline std::string read_spec_file(const std::string& name) {
  return read_file(std::filesystem::path(KETTLE_TEST_DATA) / "spec" / name);
}

}  // namespace kettle::test_support
