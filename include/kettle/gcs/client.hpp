// The GCS JSON API: object listings (paged) and object downloads.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kettle/auth/credentials.hpp"
#include "kettle/net/error.hpp"
#include "kettle/net/http_client.hpp"
#include "kettle/net/url.hpp"

namespace kettle::gcs {

// gs://bucket/name split in two; name may be empty or end in '/'.
struct GsPath {
  std::string bucket;
  std::string name;
  static std::optional<GsPath> parse(std::string_view url);
  std::string url() const { return "gs://" + bucket + "/" + name; }
};

struct ListPage {
  std::vector<std::string> prefixes;  // "directories" when listing with a delimiter
  std::vector<std::string> names;     // object names
};

// One listing page as the JSON API answers it: what Client::list reads from
// each answer, without I/O.
struct ParsedListPage {
  ListPage page;                           // names (and prefixes) that are valid UTF-8, in order
  std::string next_page_token;             // empty on the last page
  std::vector<std::string> invalid_names;  // names left out for not being UTF-8, raw
};
// nullopt when `body` is not a JSON object. A name that is not valid UTF-8
// (raw bytes, or an escaped lone surrogate such as "\ud800", which Boost.JSON
// would refuse the whole page for) is left out of `page`, not the page. Fields
// of other types are ignored. Takes the body by value: it is rewritten in place.
std::optional<ParsedListPage> parse_list_page(std::string body);

struct ClientConfig {
  std::string base_url = "https://storage.googleapis.com";
  size_t page_size = 1000;                          // maxResults per listing page
  size_t listing_body_limit = size_t{64} << 20;     // one listing page
  size_t object_body_limit = size_t{512} << 20;     // one object (JUnit files can be large)

  // The server steers a listing with nextPageToken, and the buckets are
  // written by anyone's CI: these end a listing that would never end (an
  // Error, kind protocol). They sit far above real sizes: the PR pointers
  // under pr-logs/directory/ number 500,000+ (500+ full pages).
  size_t max_listing_pages = 20'000;                // pages per listing
  size_t max_listing_names = 5'000'000;             // object names plus prefixes per listing
  size_t max_page_token_bytes = size_t{16} << 10;   // one nextPageToken: it is sent back in a URL
  // Names that are not valid UTF-8 are skipped; this many are named in a
  // warning each, the rest are counted in one line when the listing ends.
  size_t max_logged_invalid_names = 10;             // per listing
};

// The endpoint from the environment: STORAGE_EMULATOR_HOST or
// CLOUD_STORAGE_EMULATOR_ENDPOINT (plain HTTP, no credentials), else
// KETTLE_GCS_ENDPOINT, else Google's. `emulator` tells whether to skip auth.
using Endpoint = net::Endpoint;
Endpoint endpoint_from_env();

class Client {
 public:
  // `credentials` may be null (anonymous).
  Client(net::HttpClient& http, std::shared_ptr<auth::Credentials> credentials, ClientConfig config = {});

  // Lists bucket/prefix, page by page; `on_page` returns false to stop early.
  // A listing that fails (after the HTTP layer's retries) is an Error, and so
  // is one whose server repeats a nextPageToken of the same listing or passes
  // max_listing_pages, max_listing_names or max_page_token_bytes. A name
  // (object or prefix) that is not valid UTF-8 is skipped with a warning; the
  // rest of its page is kept.
  boost::asio::awaitable<net::Result<void>> list(const std::string& bucket, const std::string& prefix,
                                                 const std::string& delimiter,
                                                 std::function<bool(ListPage&&)> on_page);
  // The same from the first name >= start_offset (GCS startOffset; "" = all):
  // with a delimiter, the prefixes of those names.
  boost::asio::awaitable<net::Result<void>> list(const std::string& bucket, const std::string& prefix,
                                                 const std::string& delimiter, const std::string& start_offset,
                                                 std::function<bool(ListPage&&)> on_page);
  // All prefixes directly under bucket/prefix (delimiter '/').
  boost::asio::awaitable<net::Result<std::vector<std::string>>> list_dirs(const std::string& bucket,
                                                                          const std::string& prefix);
  // Those of them at or after start_offset (GCS startOffset; "" = all).
  boost::asio::awaitable<net::Result<std::vector<std::string>>> list_dirs(const std::string& bucket,
                                                                          const std::string& prefix,
                                                                          const std::string& start_offset);

  // An object's bytes; nullopt when GCS says it is absent (404, or another
  // final 4xx such as 403). Transient failures that outlast retries are Errors.
  boost::asio::awaitable<net::Result<std::optional<std::string>>> read(const std::string& bucket,
                                                                       const std::string& name);
  // The same with a body limit of its own (bytes, after gzip decoding) in
  // place of object_body_limit: a bigger object is an Error of kind
  // too_large, never retried, so the caller can tell it from a failed read.
  boost::asio::awaitable<net::Result<std::optional<std::string>>> read(std::string bucket, std::string name,
                                                                       size_t body_limit);

 private:
  boost::asio::awaitable<net::Result<net::Response>> send(net::Request request);

  net::HttpClient& http_;
  std::shared_ptr<auth::Credentials> credentials_;
  ClientConfig config_;
};

}  // namespace kettle::gcs
