// Stream decisions without I/O (SPEC §5, D8, D15): which notifications name a
// finished build, table specs, and the stop hour.
#pragma once

#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "kettle/config/buckets.hpp"
#include "kettle/pubsub/message.hpp"

namespace kettle::stream {

struct Classified {
  bool relevant = false;
  std::string build_path;  // gs://bucket/.../build when relevant
  std::string reason;      // why not, for debug logs
};

// Relevant: an OBJECT_FINALIZE of `<build>/finished.json` whose job (the
// segment before the build) is not excluded by the buckets.yaml entry the
// build lies under (regexes, D8).
Classified classify(const pubsub::Message& message, const config::Buckets& buckets);

// "NAME:DAYS" from --tables.
struct TableSpec {
  std::string name;
  double days = 0;
};
std::optional<TableSpec> parse_table_spec(std::string_view text);

// True once, on the first call after local hour `target` begins (as the
// reference's StopWhen); `hour_now` gives the current local hour.
class StopAtHour {
 public:
  StopAtHour(int target, std::function<int()> hour_now);
  bool operator()();

 private:
  int target_;
  std::function<int()> hour_now_;
  int last_;
};

int local_hour();

}  // namespace kettle::stream
