// URLs (RFC 3986 through Boost.URL) and our encoding of GCS object names,
// from any bytes. Invariants: what parses prints a URL that parses to the same
// parts; an object name survives encoding into a request URL; a gs:// path
// prints back to itself.
#include "check.hpp"
#include "kettle/gcs/client.hpp"
#include "kettle/net/url.hpp"

using namespace kettle;

namespace {

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Only unreserved characters and %XX escapes: one path segment or query value.
bool only_unreserved_or_escapes(std::string_view encoded) {
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%') {
      if (i + 2 >= encoded.size()) return false;
      i += 2;
    } else if (!is_unreserved(encoded[i])) {
      return false;
    }
  }
  return true;
}

void check_url(std::string_view text) {
  const auto url = net::Url::parse(text);
  if (!url) return;
  FUZZ_CHECK(url->scheme == "http" || url->scheme == "https");
  FUZZ_CHECK(!url->host.empty() && url->port != 0);
  FUZZ_CHECK(url->target.starts_with('/'));
  FUZZ_CHECK(url->target.find_first_of(" \r\n#") == std::string::npos);
  const auto again = net::Url::parse(url->str());
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == *url);
  FUZZ_CHECK(again->str() == url->str());
}

// The object-read URL gcs::Client builds, on the default and an emulator base.
void check_object_name(std::string_view name) {
  const std::string encoded = net::encode_path_segment(name);
  FUZZ_CHECK(only_unreserved_or_escapes(encoded));
  FUZZ_CHECK(net::percent_decode(encoded) == name);
  FUZZ_CHECK(net::encode_query_value(name) == encoded);
  for (const std::string_view base : {"https://storage.googleapis.com", "http://127.0.0.1:4443/"}) {
    const std::string target = "/storage/v1/b/bucket/o/" + encoded + "?alt=media";
    const auto url = net::Url::parse(net::join_url(base, target));
    FUZZ_CHECK(url.has_value());
    FUZZ_CHECK(url->target == target);
    check_url(url->str());
  }
  const std::string query = net::Query().add("prefix", name).add_if("pageToken", name).str();
  FUZZ_CHECK(net::Url::parse("https://h/o" + query).has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  check_url(text);
  check_object_name(text);

  if (const auto decoded = net::percent_decode(text))
    FUZZ_CHECK(net::percent_decode(net::encode_path_segment(*decoded)) == decoded);

  if (const auto base = net::emulator_base_url(text)) {
    FUZZ_CHECK(net::Url::parse(*base).has_value());
    FUZZ_CHECK(net::emulator_base_url(*base) == base);
  }

  if (const auto path = gcs::GsPath::parse(text)) {
    FUZZ_CHECK(!path->bucket.empty());
    const auto again = gcs::GsPath::parse(path->url());
    FUZZ_CHECK(again && again->bucket == path->bucket && again->name == path->name);
  }
  return 0;
}
