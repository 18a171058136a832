// Command-line flags in the reference's style: --name VALUE, --name=VALUE,
// boolean --name, repeatable flags, flags taking several values, positionals.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kettle::cli {

// Bad command line: exit code 2 with the message and a pointer to --help.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  // The last value given for a flag.
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  // Every value given for a flag (repeats and multi-value flags).
  std::vector<std::string> all(const std::string& name) const;
  std::optional<double> get_double(const std::string& name) const;    // UsageError when not a number
  std::optional<long long> get_int(const std::string& name) const;    // UsageError when not an integer
  std::optional<std::chrono::milliseconds> get_duration(const std::string& name) const;  // see parse_duration
  std::optional<uint64_t> get_size(const std::string& name) const;                       // see parse_size
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  friend class Parser;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
};

// A duration as Go and Prow write them: "20s", "15m", "1h30m", "500ms", plus
// days ("90d", "1d12h"), as retention periods are counted; a bare number is
// seconds. Nullopt when malformed, negative or over 1e9 seconds (31 years).
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

// A size in bytes: "2GiB", "500MiB", "64KiB", "1.5TiB" (powers of 1024; also
// Kubernetes' "Gi"), "2GB", "500MB" (powers of 1000; also "G", "M", "k"), or
// bare bytes ("4096", "4096B"). Nullopt when malformed, negative or over 2^62.
std::optional<uint64_t> parse_size(const std::string& text);

class Parser {
 public:
  Parser(std::string usage_line, std::string description);
  // A boolean flag (no value).
  Parser& flag(const std::string& name, const std::string& help);
  // A flag with a value; `multi` takes every following word up to the next flag.
  Parser& option(const std::string& name, const std::string& metavar, const std::string& help, bool multi = false);
  Parser& positionals(const std::string& metavar, const std::string& help);

  // Parses args (without the program and command names). Throws UsageError.
  // Returns nullopt when --help/-h was given (help already printed to stdout).
  std::optional<Args> parse(const std::vector<std::string>& args) const;
  std::string help() const;

 private:
  struct Spec {
    std::string name, metavar, help;
    bool takes_value = false;
    bool multi = false;
  };
  const Spec* find(const std::string& name) const;

  std::string usage_, description_;
  std::vector<Spec> specs_;
  std::string positional_metavar_, positional_help_;
};

}  // namespace kettle::cli
