// gcs/: the client against a scripted server on 127.0.0.1 that answers as a
// hostile bucket could: listings that never end, names that are not UTF-8,
// objects over a body limit.

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kettle/gcs/client.hpp"
#include "support/scripted_server.hpp"
#include "support/stderr_capture.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
using namespace kettle;
using namespace kettle::gcs;
using namespace kettle::test_support;

namespace {

struct Fixture : ClientFixture<Client, ClientConfig> {
  explicit Fixture(Script script, ClientConfig config = {})
      : ClientFixture(std::move(script), std::move(config), quick_net_config(), nullptr) {}

  // Listing requests the server saw (every request here is one).
  size_t requests() const { return server.seen.size(); }
};

// What a listing handed to its callback.
struct Listed {
  std::vector<std::string> names;
  std::vector<std::string> prefixes;
  size_t pages = 0;
};

// Lists gs://bucket/PREFIX into `out`; the result says how it ended.
asio::awaitable<net::Result<void>> list_into(Client& client, Listed& out) {
  const std::string bucket = "bucket";
  const std::string prefix = "pr-logs/directory/";
  const std::string delimiter;  // recursive, as the PR pointers are listed
  std::function<bool(ListPage &&)> on_page = [&out](ListPage&& page) {
    ++out.pages;
    for (auto& n : page.names) out.names.push_back(std::move(n));
    for (auto& p : page.prefixes) out.prefixes.push_back(std::move(p));
    return true;
  };
  co_return co_await client.list(bucket, prefix, delimiter, on_page);
}

// A listing page: `count` names starting at `first`, and a nextPageToken unless empty.
std::string page_body(int first, int count, const std::string& token) {
  json::array items;
  for (int i = first; i < first + count; ++i) {
    std::string name = "o";
    name += std::to_string(i);
    items.push_back(json::object{{"name", name}});
  }
  json::object page{{"items", std::move(items)}};
  if (!token.empty()) page["nextPageToken"] = token;
  return json::serialize(page);
}

// A token of its own for page `index`.
std::string token_for(int index) {
  std::string token = "t";
  token += std::to_string(index);
  return token;
}

// The pageToken a listing request carried ("" for the first page).
std::string token_of(const Seen& seen) {
  auto at = seen.target.find("pageToken=");
  if (at == std::string::npos) return "";
  auto end = seen.target.find('&', at);
  return seen.target.substr(at + 10, end == std::string::npos ? std::string::npos : end - at - 10);
}

// Scripted listings end after this many pages, well past every cap here: a
// cap that does not hold shows as a listing that succeeds, not a hung test.
constexpr int kEndlessPages = 300;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

// Tests await into named values before checking them: g++ 12 mishandles
// co_await inside the temporaries of the Boost.Test macros.

BOOST_AUTO_TEST_SUITE(gcs_listing_limits)

BOOST_AUTO_TEST_CASE(a_token_answered_again_ends_the_listing_at_once) {
  Fixture f([](const Seen&, int index) {
    return Reply{.body = page_body(index, 1, index < kEndlessPages ? "same-token" : "")};
  });
  Listed listed;
  std::optional<net::Result<void>> result;
  f.run([&]() -> asio::awaitable<void> { result = co_await list_into(f.client, listed); });
  BOOST_REQUIRE(!*result);
  const net::Error& e = result->error();
  BOOST_TEST((e.kind == net::ErrorKind::protocol));
  BOOST_TEST(e.message.find("already seen") != std::string::npos, e.message);
  BOOST_TEST(e.message.find("gs://bucket/pr-logs/directory/") != std::string::npos, e.message);
  BOOST_TEST(e.message.find("stopped after 2 pages") != std::string::npos, e.message);
  // The first page's URL: later ones carry the server's token.
  BOOST_TEST(e.url.find("pageToken") == std::string::npos, e.url);
  // The first page, then the one that repeated its token.
  BOOST_TEST(f.requests() == 2u);
  BOOST_TEST(listed.pages == 1u);
}

BOOST_AUTO_TEST_CASE(a_cycle_of_tokens_ends_the_listing) {
  // A -> B -> A: each token differs from the last one, not from all.
  Fixture f([](const Seen&, int index) {
    const std::string token = index >= kEndlessPages ? "" : (index % 2 ? "A" : "B");
    return Reply{.body = page_body(index, 1, token)};
  });
  Listed listed;
  std::optional<net::Result<void>> result;
  f.run([&]() -> asio::awaitable<void> { result = co_await list_into(f.client, listed); });
  BOOST_REQUIRE(!*result);
  BOOST_TEST(result->error().message.find("already seen") != std::string::npos,
             result->error().message);
  BOOST_TEST(f.requests() == 3u);
  BOOST_TEST(token_of(f.server.seen[1]) == "A");
  BOOST_TEST(token_of(f.server.seen[2]) == "B");
}

BOOST_AUTO_TEST_CASE(new_tokens_forever_stop_at_the_page_cap) {
  Fixture f(
      [](const Seen&, int index) {
        return Reply{.body = page_body(index, 0, index < kEndlessPages ? token_for(index) : "")};
      },
      ClientConfig{.max_listing_pages = 5});
  Listed listed;
  std::optional<net::Result<void>> result;
  f.run([&]() -> asio::awaitable<void> { result = co_await list_into(f.client, listed); });
  BOOST_REQUIRE(!*result);
  const net::Error& e = result->error();
  BOOST_TEST((e.kind == net::ErrorKind::protocol));
  BOOST_TEST(e.message.find("more than 5 pages") != std::string::npos, e.message);
  BOOST_TEST(e.message.find("stopped after 5 pages") != std::string::npos, e.message);
  BOOST_TEST(f.requests() == 5u);
  BOOST_TEST(listed.pages == 4u);  // the fifth page would have needed a sixth
}

BOOST_AUTO_TEST_CASE(a_listing_of_exactly_the_page_cap_succeeds) {
  Fixture f(
      [](const Seen&, int index) {
        return Reply{.body = page_body(index, 1, index < 5 ? token_for(index) : "")};
      },
      ClientConfig{.max_listing_pages = 5});
  Listed listed;
  std::optional<net::Result<void>> result;
  f.run([&]() -> asio::awaitable<void> { result = co_await list_into(f.client, listed); });
  BOOST_REQUIRE_MESSAGE(*result, result->error().what());
  BOOST_TEST(listed.names.size() == 5u);
  BOOST_TEST(f.requests() == 5u);
}

BOOST_AUTO_TEST_CASE(names_past_the_name_cap_end_the_listing) {
  Fixture f(
      [](const Seen&, int index) {
        return Reply{
            .body = page_body(index * 1000, 1000, index < kEndlessPages ? token_for(index) : "")};
      },
      ClientConfig{.max_listing_names = 2500});
  Listed listed;
  std::optional<net::Result<void>> result;
  f.run([&]() -> asio::awaitable<void> { result = co_await list_into(f.client, listed); });
  BOOST_REQUIRE(!*result);
  const net::Error& e = result->error();
  BOOST_TEST((e.kind == net::ErrorKind::protocol));
  BOOST_TEST(e.message.find("more than 2500 names") != std::string::npos, e.message);
  BOOST_TEST(e.message.find("stopped after 3 pages and 3000 names") != std::string::npos,
             e.message);
  BOOST_TEST(f.requests() == 3u);
  BOOST_TEST(listed.names.size() == 2000u);  // the page past the cap is not handed on
}

BOOST_AUTO_TEST_CASE(directory_listings_count_prefixes_against_the_name_cap) {
  Fixture f(
      [](const Seen&, int index) {
        json::array prefixes;
        for (int i = 0; i < 100; ++i)
          prefixes.push_back(json::value("job-" + std::to_string(index * 100 + i) + "/"));
        json::object page{{"prefixes", std::move(prefixes)}};
        if (index < kEndlessPages) page["nextPageToken"] = token_for(index);
        return Reply{.body = json::serialize(page)};
      },
      ClientConfig{.max_listing_names = 250});
  std::optional<net::Result<std::vector<std::string>>> result;
  f.run([&]() -> asio::awaitable<void> {
    const std::string bucket = "bucket";
    const std::string prefix = "logs/";
    result = co_await f.client.list_dirs(bucket, prefix);
  });
  BOOST_REQUIRE(!*result);
  BOOST_TEST(result->error().message.find("more than 250 names") != std::string::npos,
             result->error().message);
  BOOST_TEST(f.requests() == 3u);
}

BOOST_AUTO_TEST_CASE(a_listing_from_an_offset_sends_it_on_every_page) {
  Fixture f([](const Seen&, int index) {
    json::object page{{"prefixes", json::array{json::value("logs/job/" + std::to_string(index) + "/")}}};
    if (index < 2) page["nextPageToken"] = token_for(index);  // the first request is 1
    return Reply{.body = json::serialize(page)};
  });
  std::optional<net::Result<std::vector<std::string>>> result;
  f.run([&]() -> asio::awaitable<void> {
    const std::string bucket = "bucket";
    const std::string prefix = "logs/job/";
    const std::string start = "logs/job/1318681111894691840";
    result = co_await f.client.list_dirs(bucket, prefix, start);
  });
  BOOST_REQUIRE(*result);
  BOOST_TEST((*result)->size() == 2u);
  BOOST_REQUIRE(f.requests() == 2u);
  for (const auto& seen : f.server.seen)
    BOOST_TEST(count(seen.target, "startOffset=logs%2Fjob%2F1318681111894691840") == 1u, seen.target);
  BOOST_TEST(token_of(f.server.seen[1]) == "t1");
}

BOOST_AUTO_TEST_CASE(an_oversized_page_token_ends_the_listing) {
  Fixture f(
      [](const Seen&, int index) {
        return Reply{.body = page_body(index, 1,
                                       index < kEndlessPages
                                           ? std::string(200, 'x') + std::to_string(index)
                                           : "")};
      },
      ClientConfig{.max_page_token_bytes = 100});
  Listed listed;
  std::optional<net::Result<void>> result;
  f.run([&]() -> asio::awaitable<void> { result = co_await list_into(f.client, listed); });
  BOOST_REQUIRE(!*result);
  BOOST_TEST(result->error().message.find("nextPageToken of 201 bytes") != std::string::npos,
             result->error().message);
  BOOST_TEST(f.requests() == 1u);
}

BOOST_AUTO_TEST_CASE(the_defaults_sit_far_above_real_listings) {
  // pr-logs/directory/ holds 500,000+ pointers: 500+ pages of 1000.
  ClientConfig defaults;
  BOOST_TEST(defaults.max_listing_pages == 20'000u);
  BOOST_TEST(defaults.max_listing_names == 5'000'000u);
  BOOST_TEST(defaults.max_listing_pages * defaults.page_size >= defaults.max_listing_names);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gcs_listing_names)

// Parsed strictly, each bad name below makes Boost.JSON refuse the whole
// page, and so the whole listing: raw bytes that are not UTF-8 unless
// allow_invalid_utf8 is set, escaped lone surrogates whatever the options.
BOOST_AUTO_TEST_CASE(a_name_that_is_not_utf8_is_skipped_with_a_warning) {
  const std::string body =
      "{\"items\":["
      "{\"name\":\"a\"},"
      "{\"name\":\"bad-\xff\"},"            // not a UTF-8 byte
      "{\"name\":\"bad-\xc0\x80\"},"        // overlong NUL
      "{\"name\":\"bad-\xed\xa0\x80\"},"    // a surrogate encoded as UTF-8
      "{\"name\":\"bad-\xc3\"},"            // cut short
      "{\"name\":\"bad-\\ud800\"},"         // escaped lone high surrogate
      "{\"name\":\"bad-\\uDC00-x\"},"       // escaped lone low surrogate
      "{\"name\":\"bad-\\ud800\\u0041\"},"  // high surrogate without its low half
      "{\"name\":\"caf\xc3\xa9\"},"
      "{\"name\":\"smile-\\ud83d\\ude00\"},"     // a proper pair
      "{\"name\":\"not-an-escape-\\\\ud800\"},"  // an escaped backslash, then text
      "{\"name\":\"ctl-\\u0001\"}"
      "],\"prefixes\":[\"dir/\",\"bad-\\udfff/\",\"other/\"]}";
  Fixture f([&body](const Seen&, int) { return Reply{.body = body}; });
  Listed listed;
  std::optional<net::Result<void>> result;
  StderrCapture capture;
  f.run([&]() -> asio::awaitable<void> { result = co_await list_into(f.client, listed); });
  const std::string log = capture.stop();
  BOOST_REQUIRE_MESSAGE(*result, result->error().what());
  const std::vector<std::string> names{"a", "caf\xc3\xa9", "smile-\xf0\x9f\x98\x80",
                                       "not-an-escape-\\ud800", std::string("ctl-\x01")};
  BOOST_TEST(listed.names == names, boost::test_tools::per_element());
  const std::vector<std::string> prefixes{"dir/", "other/"};
  BOOST_TEST(listed.prefixes == prefixes, boost::test_tools::per_element());
  BOOST_TEST(count(log, "not valid UTF-8") == 8u, log);
  BOOST_TEST(log.find("gs://bucket/pr-logs/directory/") != std::string::npos, log);
  BOOST_TEST(log.find("bad-\xff") != std::string::npos, log);
}

BOOST_AUTO_TEST_CASE(warnings_for_bad_names_are_bounded_per_listing) {
  Fixture f(
      [](const Seen&, int index) {
        std::string body = "{\"items\":[{\"name\":\"ok-" + std::to_string(index) + "\"}";
        for (int i = 0; i < 4; ++i) body += ",{\"name\":\"bad-\xff\\n\"}";
        body += index < 3 ? "],\"nextPageToken\":\"" + token_for(index) + "\"}" : "]}";
        return Reply{.body = body};
      },
      ClientConfig{.max_logged_invalid_names = 2});
  Listed listed;
  std::optional<net::Result<void>> result;
  StderrCapture capture;
  f.run([&]() -> asio::awaitable<void> { result = co_await list_into(f.client, listed); });
  const std::string log = capture.stop();
  BOOST_REQUIRE_MESSAGE(*result, result->error().what());
  BOOST_TEST(listed.names.size() == 3u);
  BOOST_TEST(count(log, "skipped a name that is not valid UTF-8") == 2u, log);
  BOOST_TEST(count(log, "skipped 12 names in all that are not valid UTF-8") == 1u, log);
  // The newline is escaped: one line per warning.
  BOOST_TEST(log.find("bad-\xff\\n") != std::string::npos, log);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gcs_list_page)

BOOST_AUTO_TEST_CASE(a_page_gives_names_prefixes_token_and_the_names_left_out) {
  const auto parsed = parse_list_page(
      "{\"items\":[{\"name\":\"a/1\"},{\"size\":\"3\"},\"x\",{\"name\":7},{\"name\":\"b-\xff\"}],"
      "\"prefixes\":[\"a/\",null,\"c-\\udc00/\"],\"nextPageToken\":\"tok\"}");
  BOOST_REQUIRE(parsed);
  BOOST_TEST(parsed->page.names == std::vector<std::string>{"a/1"}, boost::test_tools::per_element());
  BOOST_TEST(parsed->page.prefixes == std::vector<std::string>{"a/"}, boost::test_tools::per_element());
  BOOST_TEST(parsed->next_page_token == "tok");
  const std::vector<std::string> invalid{"c-\xed\xb0\x80/", "b-\xff"};
  BOOST_TEST(parsed->invalid_names == invalid, boost::test_tools::per_element());

  const auto last = parse_list_page("{\"kind\":\"storage#objects\",\"nextPageToken\":5}");
  BOOST_REQUIRE(last);
  BOOST_TEST(last->next_page_token.empty());
  BOOST_TEST(last->page.names.empty());
  for (const char* bad : {"", "[]", "null", "{\"items\":[}", "{} {}"})
    BOOST_TEST(!parse_list_page(bad).has_value(), "accepted: " << bad);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gcs_read)

BOOST_AUTO_TEST_CASE(an_object_over_its_own_limit_is_too_large_and_not_retried) {
  const std::string big(2 << 20, 'x');
  Fixture f([&big](const Seen&, int) { return Reply{.body = big}; });
  std::optional<net::Result<std::optional<std::string>>> limited, unlimited;
  f.run([&]() -> asio::awaitable<void> {
    const std::string bucket = "bucket";
    const std::string name = "logs/job/1/started.json";
    const size_t limit = size_t{1} << 20;
    limited = co_await f.client.read(bucket, name, limit);
    unlimited = co_await f.client.read(bucket, name);
  });
  BOOST_REQUIRE(!*limited);
  BOOST_TEST((limited->error().kind == net::ErrorKind::too_large));
  BOOST_TEST(limited->error().message.find("Content-Length 2097152") != std::string::npos,
             limited->error().message);
  BOOST_REQUIRE(*unlimited);  // object_body_limit is far larger
  BOOST_TEST((**unlimited)->size() == big.size());
  BOOST_TEST(f.requests() == 2u);  // one each: too large is not retried
}

BOOST_AUTO_TEST_SUITE_END()
