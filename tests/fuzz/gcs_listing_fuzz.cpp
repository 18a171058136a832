// GCS listing pages (the JSON API's objects.list answer) from any bytes.
// Invariants: every kept name is valid UTF-8 (a strict JSON parser takes it
// back, and refuses every name left out), and a page holds no more names than its bytes allow.
#include <boost/json.hpp>

#include "check.hpp"
#include "kettle/gcs/client.hpp"

using namespace kettle;

namespace {

bool strict_utf8(const std::vector<std::string>& names) {
  boost::json::array array;
  for (const auto& name : names) array.emplace_back(name);
  boost::json::error_code ec;
  (void)boost::json::parse(boost::json::serialize(array), ec);
  return !ec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parsed = gcs::parse_list_page(std::string(fuzz::as_text(data, size)));
  if (!parsed) return 0;
  const auto& page = parsed->page;
  FUZZ_CHECK(strict_utf8(page.names));
  FUZZ_CHECK(strict_utf8(page.prefixes));
  for (const auto& name : parsed->invalid_names) FUZZ_CHECK(!strict_utf8({name}));
  // Each name costs at least its two quotes and a separator in the body.
  FUZZ_CHECK(3 * (page.names.size() + page.prefixes.size() + parsed->invalid_names.size()) <= size);
  FUZZ_CHECK(parsed->next_page_token.size() <= size);
  return 0;
}
