#include "kettle/stream/classify.hpp"

#include <charconv>
#include <cmath>

namespace kettle::stream {
namespace {
constexpr std::string_view kFinished = "/finished.json";

std::string_view parent_segment(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return {};
  path = path.substr(0, slash);
  slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}
}  // namespace

Classified classify(const pubsub::Message& message, const config::Buckets& buckets) {
  Classified out;
  auto n = pubsub::GcsNotification::from(message);
  if (!n.is_finalize()) {
    out.reason = "event " + (n.event_type.empty() ? std::string("(none)") : n.event_type);
    return out;
  }
  std::string_view object = n.object_id;
  if (n.bucket_id.empty() || object.size() <= kFinished.size() ||
      object.substr(object.size() - kFinished.size()) != kFinished) {
    out.reason = "not a finished.json";
    return out;
  }
  std::string path = "gs://" + n.bucket_id + "/" + std::string(object.substr(0, object.size() - kFinished.size()));
  if (const config::Bucket* bucket = buckets.match_path(path)) {
    std::string job(parent_segment(path));
    if (bucket->excludes(job)) {
      out.reason = "job " + job + " excluded";
      return out;
    }
  }
  out.relevant = true;
  out.build_path = std::move(path);
  return out;
}

std::optional<TableSpec> parse_table_spec(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  TableSpec spec;
  spec.name = std::string(text.substr(0, colon));
  std::string days(text.substr(colon + 1));
  char* end = nullptr;
  spec.days = std::strtod(days.c_str(), &end);
  if (days.empty() || *end != '\0' || !std::isfinite(spec.days) || spec.days < 0) return std::nullopt;
  return spec;
}

StopAtHour::StopAtHour(int target, std::function<int()> hour_now)
    : target_(target), hour_now_(std::move(hour_now)), last_(hour_now_()) {}

bool StopAtHour::operator()() {
  int now = hour_now_();
  int last = last_;
  last_ = now;
  return now == target_ && last != now;
}

int local_hour() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm.tm_hour;
}

}  // namespace kettle::stream
