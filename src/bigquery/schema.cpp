#include "kettle/bigquery/schema.hpp"

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace kettle::bigquery {

extern const char kSchemaText[];  // generated from schema.json (embed_text.py)

namespace {

boost::json::array parse_schema(const std::string& text, const std::string& where) {
  boost::json::error_code ec;
  auto doc = boost::json::parse(text, ec);
  if (ec) throw std::runtime_error("schema " + where + " is not JSON: " + ec.message());
  if (doc.is_array()) return doc.get_array();
  if (doc.is_object()) {
    if (auto* fields = doc.get_object().if_contains("fields"); fields && fields->is_array()) return fields->get_array();
  }
  throw std::runtime_error("schema " + where + " is not a list of fields");
}

}  // namespace

const boost::json::array& builtin_schema() {
  static const boost::json::array schema = parse_schema(kSchemaText, "built into kettle");
  return schema;
}

boost::json::array read_schema(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read schema file " + path + " (--schema); leave the flag out to use "
                                    "the schema built into kettle");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_schema(text.str(), "file " + path);
}

}  // namespace kettle::bigquery
