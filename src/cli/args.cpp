#include "kettle/cli/args.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>

namespace kettle::cli {

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  auto v = get(name);
  return v ? *v : fallback;
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::optional<double> Args::get_double(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno != 0 || !std::isfinite(d))
    throw UsageError("--" + name + ": '" + *v + "' is not a number");
  return d;
}

std::optional<long long> Args::get_int(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0) throw UsageError("--" + name + ": '" + *v + "' is not an integer");
  return n;
}

std::optional<std::chrono::milliseconds> Args::get_duration(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  auto d = parse_duration(*v);
  if (!d) throw UsageError("--" + name + ": '" + *v + "' is not a duration (e.g. 20s, 15m, 1h30m, 90d)");
  return d;
}

std::optional<uint64_t> Args::get_size(const std::string& name) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  auto n = parse_size(*v);
  if (!n) throw UsageError("--" + name + ": '" + *v + "' is not a size (e.g. 2GiB, 500MiB, 0)");
  return n;
}

std::optional<std::chrono::milliseconds> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const char* p = text.c_str();
  char* end = nullptr;
  constexpr double kMaxSeconds = 1e9;  // ~31 years; also keeps the cast below defined
  if (text.find_first_of("xXnN") != std::string::npos) return std::nullopt;  // no hex, inf or nan
  double seconds = std::strtod(p, &end);
  if (*end == '\0') {  // a bare number: seconds
    if (end == p || !(seconds >= 0 && seconds <= kMaxSeconds)) return std::nullopt;
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000 + 0.5));
  }
  double total = 0;
  while (*p != '\0') {
    if (*p == '-' || *p == '+') return std::nullopt;
    double amount = std::strtod(p, &end);
    if (end == p || !(amount >= 0)) return std::nullopt;
    p = end;
    std::string unit;
    while (*p >= 'a' && *p <= 'z') unit += *p++;
    double scale = unit == "ms"  ? 0.001
                   : unit == "s" ? 1
                   : unit == "m" ? 60
                   : unit == "h" ? 3600
                   : unit == "d" ? 86400
                                 : -1;
    if (scale < 0) return std::nullopt;
    total += amount * scale;
  }
  if (!(total <= kMaxSeconds)) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(total * 1000 + 0.5));
}

std::optional<uint64_t> parse_size(const std::string& text) {
  // Digits with an optional fraction, then an optional unit: nothing else
  // (no sign, exponent, hex or spaces).
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number = text.substr(0, i), unit = text.substr(i);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) return std::nullopt;
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1.0},          {"B", 1.0},          {"k", 1e3},           {"K", 1e3},           {"KB", 1e3},
      {"M", 1e6},         {"MB", 1e6},         {"G", 1e9},           {"GB", 1e9},          {"T", 1e12},
      {"TB", 1e12},       {"Ki", 1024.0},      {"KiB", 1024.0},      {"Mi", 1048576.0},    {"MiB", 1048576.0},
      {"Gi", 1073741824.0}, {"GiB", 1073741824.0}, {"Ti", 1099511627776.0}, {"TiB", 1099511627776.0}};
  double scale = -1;
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) scale = factor;
  }
  if (scale < 0) return std::nullopt;
  const double bytes = std::strtod(number.c_str(), nullptr) * scale;
  constexpr double kMaxBytes = 4611686018427387904.0;  // 2^62: far beyond any disk, and a defined cast
  if (!(bytes >= 0 && bytes <= kMaxBytes)) return std::nullopt;
  return static_cast<uint64_t>(bytes + 0.5);
}

Parser::Parser(std::string usage_line, std::string description)
    : usage_(std::move(usage_line)), description_(std::move(description)) {}

Parser& Parser::flag(const std::string& name, const std::string& help) {
  specs_.push_back({name, "", help, false, false});
  return *this;
}

Parser& Parser::option(const std::string& name, const std::string& metavar, const std::string& help, bool multi) {
  specs_.push_back({name, metavar, help, true, multi});
  return *this;
}

Parser& Parser::positionals(const std::string& metavar, const std::string& help) {
  positional_metavar_ = metavar;
  positional_help_ = help;
  return *this;
}

const Parser::Spec* Parser::find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

std::optional<Args> Parser::parse(const std::vector<std::string>& args) const {
  Args out;
  bool only_positionals = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (only_positionals || word.size() < 2 || word[0] != '-') {
      if (positional_metavar_.empty()) throw UsageError("unexpected argument '" + word + "'");
      out.positionals_.push_back(word);
      continue;
    }
    if (word == "--") {
      only_positionals = true;
      continue;
    }
    if (word == "-h" || word == "--help") {
      std::cout << help();
      return std::nullopt;
    }
    if (word == "-v") {
      out.values_["v"].push_back("");
      continue;
    }
    if (word.rfind("--", 0) != 0) throw UsageError("unknown flag '" + word + "'");
    std::string name = word.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const Spec* spec = find(name);
    if (spec == nullptr) throw UsageError("unknown flag '--" + name + "'");
    auto& slot = out.values_[name];
    if (!spec->takes_value) {
      if (inline_value) throw UsageError("--" + name + " takes no value");
      slot.push_back("");
      continue;
    }
    if (inline_value) {
      slot.push_back(*inline_value);
    } else if (i + 1 < args.size() && (args[i + 1].rfind("--", 0) != 0 || args[i + 1] == "--")) {
      slot.push_back(args[++i]);
    } else {
      throw UsageError("--" + name + " needs a value (" + spec->metavar + ")");
    }
    if (spec->multi) {
      while (i + 1 < args.size() && args[i + 1].rfind("-", 0) != 0) slot.push_back(args[++i]);
    }
  }
  return out;
}

std::string Parser::help() const {
  std::string text = "usage: " + usage_ + "\n\n" + description_ + "\n\n";
  if (!positional_metavar_.empty()) text += "  " + positional_metavar_ + "\n      " + positional_help_ + "\n";
  for (const auto& s : specs_) {
    text += "  --" + s.name;
    if (s.takes_value) text += " " + s.metavar + (s.multi ? "..." : "");
    text += "\n      " + s.help + "\n";
  }
  text += "  -v\n      verbose (debug) logging\n  -h, --help\n      show this help\n";
  return text;
}

}  // namespace kettle::cli
