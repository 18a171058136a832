#include "bigquery_schema.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <map>

#include "base64url.hpp"

namespace fakegcp {
namespace json = boost::json;

namespace {

using Type = FieldSchema::Type;
using Mode = FieldSchema::Mode;

// 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z: BigQuery's TIMESTAMP range.
constexpr double kMinTimestamp = -62135596800.0;
constexpr double kEndTimestamp = 253402300800.0;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<Type> type_named(std::string_view name) {
  static const std::map<std::string, Type, std::less<>> kTypes = {
      {"STRING", Type::string},   {"BYTES", Type::bytes},         {"INTEGER", Type::integer},
      {"INT64", Type::integer},   {"FLOAT", Type::floating},      {"FLOAT64", Type::floating},
      {"NUMERIC", Type::numeric}, {"BIGNUMERIC", Type::numeric},  {"BOOLEAN", Type::boolean},
      {"BOOL", Type::boolean},    {"TIMESTAMP", Type::timestamp}, {"DATE", Type::date},
      {"TIME", Type::time},       {"DATETIME", Type::datetime},   {"RECORD", Type::record},
      {"STRUCT", Type::record},   {"GEOGRAPHY", Type::other},     {"JSON", Type::other},
      {"INTERVAL", Type::other}};
  auto it = kTypes.find(upper(name));
  if (it == kTypes.end()) return std::nullopt;
  return it->second;
}

std::string_view type_word(Type t) {
  switch (t) {
    case Type::string:
      return "string";
    case Type::bytes:
      return "bytes";
    case Type::integer:
      return "integer";
    case Type::floating:
      return "floating point";
    case Type::numeric:
      return "numeric";
    case Type::boolean:
      return "boolean";
    case Type::timestamp:
      return "timestamp";
    case Type::date:
      return "date";
    case Type::time:
      return "time";
    case Type::datetime:
      return "datetime";
    case Type::record:
      return "record";
    case Type::other:
      return "value";
  }
  return "value";
}

// Letters, digits and underscores, not starting with a digit, at most 300 bytes.
bool valid_field_name(std::string_view name) {
  if (name.empty() || name.size() > 300) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::optional<Schema> parse_fields(const json::array& list, const std::string& parent,
                                   std::string& error) {
  Schema out;
  std::map<std::string, int> seen;  // upper-cased: BigQuery names are case-insensitive
  for (const auto& item : list) {
    if (!item.is_object()) {
      error = "Invalid schema: a field is not an object.";
      return std::nullopt;
    }
    const json::object& f = item.as_object();
    FieldSchema field;
    const json::value* name = f.if_contains("name");
    field.name = name && name->is_string() ? std::string(name->as_string()) : "";
    std::string path = parent.empty() ? field.name : parent + "." + field.name;
    if (!valid_field_name(field.name)) {
      error = "Invalid field name \"" + path +
              "\". Fields must contain only letters, numbers, and underscores, start with a "
              "letter or underscore, and be at most 300 characters long.";
      return std::nullopt;
    }
    if (seen[upper(field.name)]++ > 0) {
      error = "Field " + path + " already exists in schema";
      return std::nullopt;
    }
    const json::value* type = f.if_contains("type");
    auto parsed = type && type->is_string() ? type_named(type->as_string()) : std::nullopt;
    if (!parsed) {
      error = "Invalid value for type: " +
              (type && type->is_string() ? std::string(type->as_string()) : std::string()) +
              " is not a valid value (field " + path + ")";
      return std::nullopt;
    }
    field.type = *parsed;
    if (const json::value* mode = f.if_contains("mode"); mode && !mode->is_null()) {
      std::string m = mode->is_string() ? upper(mode->as_string()) : "";
      if (m == "NULLABLE")
        field.mode = Mode::nullable;
      else if (m == "REQUIRED")
        field.mode = Mode::required;
      else if (m == "REPEATED")
        field.mode = Mode::repeated;
      else {
        error = "Invalid value for mode: " + m + " is not a valid value (field " + path + ")";
        return std::nullopt;
      }
    }
    if (field.type == Type::record) {
      const json::value* sub = f.if_contains("fields");
      if (!sub || !sub->is_array() || sub->as_array().empty()) {
        error = "Field " + path + " is type RECORD but has no schema";
        return std::nullopt;
      }
      auto nested = parse_fields(sub->as_array(), path, error);
      if (!nested) return std::nullopt;
      field.fields = std::move(*nested);
    }
    out.push_back(std::move(field));
  }
  return out;
}

// A small reader for date and time text.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return i_ == s_.size(); }
  std::string_view rest() const { return s_.substr(i_); }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void skip_spaces() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }
  // Between min and max decimal digits.
  bool number(std::size_t min, std::size_t max, int& out) {
    std::size_t start = i_;
    out = 0;
    while (i_ < s_.size() && i_ - start < max && std::isdigit(static_cast<unsigned char>(s_[i_])))
      out = out * 10 + (s_[i_++] - '0');
    return i_ - start >= min;
  }
  // ".123456": up to nine digits of a second.
  bool fraction(double& out) {
    std::size_t start = i_;
    double scale = 0.1;
    out = 0;
    while (i_ < s_.size() && i_ - start < 9 && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      out += (s_[i_++] - '0') * scale;
      scale /= 10;
    }
    return i_ > start;
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

struct CivilTime {
  int year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  double fraction = 0;
};

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool read_date(Cursor& c, CivilTime& t) {
  if (!c.number(4, 4, t.year) || !c.eat('-') || !c.number(1, 2, t.month) || !c.eat('-') ||
      !c.number(1, 2, t.day))
    return false;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (t.year < 1 || t.month < 1 || t.month > 12 || t.day < 1) return false;
  int days = kDays[t.month - 1] + (t.month == 2 && leap(t.year) ? 1 : 0);
  return t.day <= days;
}

bool read_time(Cursor& c, CivilTime& t) {
  if (!c.number(1, 2, t.hour) || !c.eat(':') || !c.number(2, 2, t.minute)) return false;
  if (c.eat(':')) {
    if (!c.number(2, 2, t.second)) return false;
    if (c.eat('.') && !c.fraction(t.fraction)) return false;
  }
  return t.hour < 24 && t.minute < 60 && t.second < 60;
}

// "Z", "UTC", "+hh[:mm]" or "-hh[:mm]" (or nothing): seconds east of UTC.
std::optional<int> read_zone(Cursor& c) {
  c.skip_spaces();
  if (c.done() || c.rest() == "UTC" || c.rest() == "Z" || c.rest() == "z") return 0;
  int sign = c.eat('+') ? 1 : c.eat('-') ? -1 : 0;
  int hours = 0, minutes = 0;
  if (sign == 0 || !c.number(1, 2, hours)) return std::nullopt;
  c.eat(':');
  if (!c.done() && !c.number(2, 2, minutes)) return std::nullopt;
  if (!c.done() || hours > 14 || minutes > 59) return std::nullopt;
  return sign * (hours * 3600 + minutes * 60);
}

double to_epoch(const CivilTime& t, int zone_offset) {
  std::tm tm{};
  tm.tm_year = t.year - 1900;
  tm.tm_mon = t.month - 1;
  tm.tm_mday = t.day;
  tm.tm_hour = t.hour;
  tm.tm_min = t.minute;
  tm.tm_sec = t.second;
  return static_cast<double>(timegm(&tm)) - zone_offset + t.fraction;
}

std::optional<double> parse_double(std::string_view s) {
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return d;
}

std::optional<double> timestamp_text_seconds(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (auto n = parse_double(s)) return n;
  Cursor c(s);
  CivilTime t;
  if (!read_date(c, t)) return std::nullopt;
  if ((c.eat('T') || c.eat('t') || c.eat(' ')) && !read_time(c, t)) return std::nullopt;
  auto zone = read_zone(c);
  if (!zone) return std::nullopt;
  return to_epoch(t, *zone);
}

bool is_integer_text(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

bool is_integer_value(const json::value& v) {
  if (v.is_int64()) return true;
  if (v.is_uint64()) return v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX);
  if (v.is_double()) {
    double d = v.as_double();
    return std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18;
  }
  return v.is_string() && is_integer_text(v.as_string());
}

bool is_bool_text(std::string_view s) {
  std::string u = upper(s);
  return u == "TRUE" || u == "FALSE" || u == "1" || u == "0";
}

bool is_date_text(std::string_view s) {
  Cursor c(s);
  CivilTime t;
  return read_date(c, t) && c.done();
}

bool is_time_text(std::string_view s) {
  Cursor c(s);
  CivilTime t;
  return read_time(c, t) && c.done();
}

bool is_datetime_text(std::string_view s) {
  Cursor c(s);
  CivilTime t;
  if (!read_date(c, t)) return false;
  if (c.done()) return true;
  return (c.eat('T') || c.eat(' ')) && read_time(c, t) && c.done();
}

std::string value_text(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

RowError conversion_error(const FieldSchema& f, const std::string& path, const json::value& v) {
  return {path, "Cannot convert value to " + std::string(type_word(f.type)) +
                    " (bad value): " + value_text(v)};
}

std::optional<RowError> check_fields(const Schema& schema, const json::object& row,
                                     const std::string& parent, bool ignore_unknown);

// One non-null, non-array value of a field.
std::optional<RowError> check_scalar(const FieldSchema& f, const std::string& path,
                                     const json::value& v, bool ignore_unknown) {
  if (f.type == Type::record) {
    if (!v.is_object()) return RowError{path, "This field: " + path + " is not a record."};
    return check_fields(f.fields, v.as_object(), path, ignore_unknown);
  }
  if (v.is_object() || v.is_array()) {
    if (f.type == Type::other) return std::nullopt;  // JSON columns take anything
    return RowError{path, "This field: " + path + " is not a record."};
  }
  bool ok = true;
  switch (f.type) {
    case Type::string:
    case Type::other:
    case Type::record:
      break;
    case Type::bytes:
      ok = v.is_string() && base64_decode(v.as_string()).has_value();
      break;
    case Type::integer:
      ok = is_integer_value(v);
      break;
    case Type::floating:
    case Type::numeric:
      ok = v.is_number() || (v.is_string() && parse_double(v.as_string()).has_value());
      break;
    case Type::boolean:
      ok = v.is_bool() || (v.is_string() && is_bool_text(v.as_string()));
      break;
    case Type::timestamp: {
      if (!v.is_number() && !v.is_string()) {
        ok = false;
        break;
      }
      auto secs = timestamp_seconds(v);
      if (!secs && v.is_number())
        return RowError{path,
                        "Cannot return an invalid timestamp value of " + value_text(v) +
                            " seconds relative to the Unix epoch. The range of valid timestamp "
                            "values is [0001-01-01 00:00:00, 9999-12-31 23:59:59.999999]; error "
                            "in writing field " +
                            path};
      ok = secs.has_value();
      break;
    }
    case Type::date:
      ok = v.is_string() && is_date_text(v.as_string());
      break;
    case Type::time:
      ok = v.is_string() && is_time_text(v.as_string());
      break;
    case Type::datetime:
      ok = v.is_string() && is_datetime_text(v.as_string());
      break;
  }
  if (!ok) return conversion_error(f, path, v);
  return std::nullopt;
}

std::optional<RowError> check_field(const FieldSchema& f, const std::string& path,
                                    const json::value* v, bool ignore_unknown) {
  if (!v || v->is_null()) {
    if (f.mode == Mode::required) return RowError{path, "Missing required field: " + path + "."};
    return std::nullopt;  // a null REPEATED field is an empty list
  }
  if (f.mode != Mode::repeated) {
    if (v->is_array() && f.type != Type::other)
      return RowError{path, "Array specified for non-repeated field: " + path + "."};
    return check_scalar(f, path, *v, ignore_unknown);
  }
  if (!v->is_array()) return RowError{path, "Expected an array for repeated field: " + path + "."};
  const json::array& items = v->as_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::string item_path = path + "[" + std::to_string(i) + "]";
    if (items[i].is_null())
      return RowError{item_path,
                      "Only optional fields can be set to NULL. Field: " + path + "; Value: NULL"};
    if (auto e = check_scalar(f, item_path, items[i], ignore_unknown)) return e;
  }
  return std::nullopt;
}

std::optional<RowError> check_fields(const Schema& schema, const json::object& row,
                                     const std::string& parent, bool ignore_unknown) {
  for (const FieldSchema& f : schema) {
    std::string path = parent.empty() ? f.name : parent + "." + f.name;
    if (auto e = check_field(f, path, row.if_contains(f.name), ignore_unknown)) return e;
  }
  if (ignore_unknown) return std::nullopt;
  for (const auto& kv : row) {
    bool known = std::any_of(schema.begin(), schema.end(),
                             [&](const FieldSchema& f) { return f.name == kv.key(); });
    if (!known) {
      std::string key(kv.key());
      std::string path = parent.empty() ? key : parent + "." + key;
      return RowError{path, "no such field: " + path + "."};
    }
  }
  return std::nullopt;
}

std::string shortest_text(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, end) : "0";
}

json::value cell_value(const FieldSchema& f, const json::value& v);

json::object record_cells(const Schema& schema, const json::object& row) {
  json::array cells;
  for (const FieldSchema& f : schema) {
    const json::value* v = row.if_contains(f.name);
    json::value cell;
    if (f.mode == Mode::repeated) {
      json::array items;
      if (v && v->is_array())
        for (const auto& item : v->as_array())
          items.push_back(json::object{{"v", cell_value(f, item)}});
      cell = std::move(items);
    } else if (v && !v->is_null()) {
      cell = cell_value(f, *v);
    }
    cells.push_back(json::object{{"v", std::move(cell)}});
  }
  return json::object{{"f", std::move(cells)}};
}

json::value cell_value(const FieldSchema& f, const json::value& v) {
  switch (f.type) {
    case Type::record:
      return v.is_object() ? json::value(record_cells(f.fields, v.as_object())) : json::value();
    case Type::integer:
      if (v.is_double() && std::fabs(v.as_double()) < 9.2e18)
        return json::value(std::to_string(static_cast<std::int64_t>(v.as_double())));
      return json::value(value_text(v));
    case Type::floating:
    case Type::numeric:
      return json::value(v.is_number() ? shortest_text(v.to_number<double>()) : value_text(v));
    case Type::boolean:
      if (v.is_bool()) return json::value(v.as_bool() ? "true" : "false");
      return json::value(upper(value_text(v)) == "TRUE" || value_text(v) == "1" ? "true" : "false");
    case Type::timestamp: {
      auto secs = timestamp_seconds(v);
      return secs ? json::value(java_double_text(*secs)) : json::value();
    }
    default:
      return json::value(value_text(v));
  }
}

}  // namespace

std::optional<Schema> parse_schema(const json::value& schema, std::string& error) {
  if (schema.is_null()) return Schema{};
  if (!schema.is_object()) {
    error = "Invalid schema: expected an object with \"fields\".";
    return std::nullopt;
  }
  const json::value* fields = schema.as_object().if_contains("fields");
  if (!fields || fields->is_null()) return Schema{};
  if (!fields->is_array()) {
    error = "Invalid schema: \"fields\" is not a list.";
    return std::nullopt;
  }
  return parse_fields(fields->as_array(), "", error);
}

bool same_schema(const Schema& a, const Schema& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (upper(a[i].name) != upper(b[i].name) || a[i].type != b[i].type || a[i].mode != b[i].mode ||
        !same_schema(a[i].fields, b[i].fields))
      return false;
  }
  return true;
}

std::optional<RowError> check_row(const Schema& schema, const json::object& row,
                                  bool ignore_unknown) {
  return check_fields(schema, row, "", ignore_unknown);
}

json::object to_table_row(const Schema& schema, const json::object& row) {
  return record_cells(schema, row);
}

std::optional<double> timestamp_seconds(const json::value& v) {
  std::optional<double> secs;
  if (v.is_number())
    secs = v.to_number<double>();
  else if (v.is_string())
    secs = timestamp_text_seconds(v.as_string());
  if (!secs || !std::isfinite(*secs) || *secs < kMinTimestamp || *secs >= kEndTimestamp)
    return std::nullopt;
  return secs;
}

std::string java_double_text(double d) {
  if (d == 0) return "0.0";
  double magnitude = std::fabs(d);
  char buf[64];
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
    std::string out(buf, ec == std::errc() ? end : buf);
    if (out.find('.') == std::string::npos) out += ".0";
    return out;
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string text(buf, ec == std::errc() ? end : buf);
  auto e = text.find('e');
  if (e == std::string::npos) return text;
  std::string mantissa = text.substr(0, e);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  int exponent = std::stoi(text.substr(e + 1));
  return mantissa + "E" + std::to_string(exponent);
}

}  // namespace fakegcp
