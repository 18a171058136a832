// buckets.yaml (SPEC §1) from any bytes: a ConfigError or entries whose
// exclude_jobs patterns (RE2) match in bounded time; nothing else escapes.
#include "check.hpp"
#include "kettle/config/buckets.hpp"

using namespace kettle;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  config::Buckets buckets;
  try {
    buckets = config::Buckets::parse(text, "buckets.yaml");
  } catch (const config::ConfigError&) {
    return 0;
  }
  for (const auto& bucket : buckets.entries()) {
    FUZZ_CHECK(bucket.url.ends_with('/'));
    FUZZ_CHECK(bucket.exclude_regexes.size() == bucket.exclude_patterns.size());
    FUZZ_CHECK(buckets.match_path(bucket.url + "job/1") != nullptr);
    // Job names from the file itself, so that patterns meet text they may match.
    (void)bucket.excludes("ci-kubernetes-e2e-gce");
    (void)bucket.excludes(bucket.prefix);
    for (const auto& pattern : bucket.exclude_patterns) (void)bucket.excludes(pattern);
  }
  (void)buckets.match_path(text);
  return 0;
}
