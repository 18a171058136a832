// started.json / finished.json (SPEC §4, D4, D13) and the Python-JSON writer
// (§3.4) on any bytes. Invariants: the DB text of a build JSON is its own DB
// text; what the writer prints reads back to a value it prints the same way.
#include <boost/json/value.hpp>

#include "check.hpp"
#include "kettle/rows/build_json.hpp"
#include "kettle/rows/pyjson.hpp"

using namespace kettle;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = fuzz::as_text(data, size);

  if (const auto db_text = rows::normalize_build_json(bytes)) {
    FUZZ_CHECK(rows::normalize_build_json(*db_text) == db_text);
    const auto object = rows::parse_build_json(*db_text);
    FUZZ_CHECK(object && !object->empty());
    (void)rows::timestamp_seconds(object->if_contains("timestamp"));
    (void)rows::finished_time_of(*db_text);
  }

  if (const auto value = rows::parse_json(bytes)) {
    for (const bool sort_keys : {true, false}) {
      const std::string text = rows::pyjson::dumps(*value, sort_keys);
      const auto back = rows::parse_json(text);
      FUZZ_CHECK(back.has_value());
      FUZZ_CHECK(rows::pyjson::dumps(*back, sort_keys) == text);
    }
  }
  return 0;
}
