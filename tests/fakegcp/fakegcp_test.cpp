// Tests of the fake itself (GCS, OAuth, metadata, faults; cloud_test.cpp has
// Pub/Sub and BigQuery): the server runs in-process on an ephemeral port and
// the raw client of test_support.hpp talks to it.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <mutex>

#include "base64url.hpp"
#include "faults.hpp"
#include "field_mask.hpp"
#include "gcs_service.hpp"
#include "http_message.hpp"
#include "server.hpp"
#include "test_support.hpp"

using namespace fakegcp_test;

namespace {

std::vector<std::string> strings_of(const json::value& v) {
  std::vector<std::string> out;
  if (v.is_array())
    for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

std::vector<std::string> item_names(const json::object& listing) {
  std::vector<std::string> out;
  if (auto* items = listing.if_contains("items"))
    for (const auto& item : items->as_array()) out.emplace_back(item.at("name").as_string());
  return out;
}

std::vector<std::string> prefixes_of(const json::object& listing) {
  auto* p = listing.if_contains("prefixes");
  return p ? strings_of(*p) : std::vector<std::string>{};
}

std::vector<std::string> keys_of(const json::object& o) {
  std::vector<std::string> out;
  for (const auto& kv : o) out.emplace_back(kv.key());
  return out;
}

// A Prow-like tree with names that stress ordering ("a-b" sorts before "a/").
void put_tree(Fake& fake) {
  fake.put("logs/job1/1/started.json", "{\"timestamp\": 1}");
  fake.put("logs/job1/2/finished.json", "{}");
  fake.put("logs/job1/latest-build.txt", "2");
  fake.put("logs/job2/3/started.json", "{}");
  fake.put("logs/jobx", "x");
  fake.put("logs/a-b", "ab");
  fake.put("logs/a/x", "ax");
  fake.put("other/z", "z");
  fs::create_directories(fake.dir.path / "bkt/logs/empty/deeper");  // no objects: no prefix
}

const std::vector<std::string> kAllLogs = {"logs/a-b",
                                           "logs/a/x",
                                           "logs/job1/1/started.json",
                                           "logs/job1/2/finished.json",
                                           "logs/job1/latest-build.txt",
                                           "logs/job2/3/started.json",
                                           "logs/jobx"};

// Lists every page; returns items and prefixes in order and the page count.
struct Paged {
  std::vector<std::string> items, prefixes;
  int pages = 0;
};
Paged list_all(Fake& fake, const std::string& query) {
  Paged out;
  std::string token;
  do {
    std::string target =
        "/storage/v1/b/bkt/o?" + query + (token.empty() ? "" : "&pageToken=" + escape(token));
    auto reply = fake.get(target);
    BOOST_REQUIRE_EQUAL(reply.status, 200);
    auto listing = reply.json().as_object();
    for (auto& n : item_names(listing)) out.items.push_back(n);
    for (auto& p : prefixes_of(listing)) out.prefixes.push_back(p);
    ++out.pages;
    auto* next = listing.if_contains("nextPageToken");
    token = next ? std::string(next->as_string()) : "";
    BOOST_REQUIRE(out.pages < 100);
  } while (!token.empty());
  return out;
}

// RSA keys made at test time, and JWT assertions signed with them.
struct RsaKey {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  ~RsaKey() { EVP_PKEY_free(key); }

  void write_public_pem(const fs::path& path) const {
    BIO* bio = BIO_new_file(path.c_str(), "w");
    BOOST_REQUIRE(bio && PEM_write_bio_PUBKEY(bio, key) == 1);
    BIO_free(bio);
  }

  std::string sign(std::string_view data) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    BOOST_REQUIRE(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1);
    BOOST_REQUIRE(EVP_DigestSign(ctx, nullptr, &len,
                                 reinterpret_cast<const unsigned char*>(data.data()),
                                 data.size()) == 1);
    std::string sig(len, '\0');
    BOOST_REQUIRE(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                                 reinterpret_cast<const unsigned char*>(data.data()),
                                 data.size()) == 1);
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return sig;
  }

  std::string assertion(const std::string& aud, std::int64_t iat, std::int64_t exp) const {
    std::string header = fakegcp::base64url_encode(R"({"alg":"RS256","typ":"JWT"})");
    std::string claims = fakegcp::base64url_encode(json::serialize(
        json::object{{"iss", "kettle@fake-project.iam.gserviceaccount.com"},
                     {"scope", "https://www.googleapis.com/auth/devstorage.read_only"},
                     {"aud", aud},
                     {"iat", iat},
                     {"exp", exp}}));
    std::string signed_part = header + "." + claims;
    return signed_part + "." + fakegcp::base64url_encode(sign(signed_part));
  }
};

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string grant_body(const std::string& assertion) {
  return "grant_type=" + escape("urn:ietf:params:oauth:grant-type:jwt-bearer") +
         "&assertion=" + assertion;
}

const std::vector<std::pair<std::string, std::string>> kForm = {
    {"Content-Type", "application/x-www-form-urlencoded"}};

}  // namespace

// ---------------------------------------------------------------- pure parts

BOOST_AUTO_TEST_SUITE(pure)

BOOST_AUTO_TEST_CASE(base64url_round_trips_every_length) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    auto decoded = fakegcp::base64url_decode(fakegcp::base64url_encode(bytes));
    BOOST_REQUIRE(decoded);
    BOOST_CHECK(*decoded == bytes);
    bytes.push_back(static_cast<char>(i * 37 + 200));
  }
  BOOST_CHECK_EQUAL(fakegcp::base64url_encode("\xfb\xff"), "-_8");
  BOOST_CHECK(!fakegcp::base64url_decode("ab+c"));   // '+' is standard base64, not url
  BOOST_CHECK(!fakegcp::base64url_decode("abcde"));  // impossible length
}

BOOST_AUTO_TEST_CASE(percent_decoding_and_params) {
  BOOST_CHECK_EQUAL(*fakegcp::percent_decode("a%2Fb+c%C3%A9", false), "a/b+cé");
  BOOST_CHECK_EQUAL(*fakegcp::percent_decode("a+b", true), "a b");
  BOOST_CHECK(!fakegcp::percent_decode("bad%2", false));
  BOOST_CHECK(!fakegcp::percent_decode("bad%zz", false));
  auto params = fakegcp::parse_params("prefix=logs%2F&delimiter=%2F&empty=&flag");
  BOOST_CHECK_EQUAL(*fakegcp::find_param(params, "prefix"), "logs/");
  BOOST_CHECK_EQUAL(*fakegcp::find_param(params, "empty"), "");
  BOOST_CHECK(fakegcp::find_param(params, "flag"));
  BOOST_CHECK(!fakegcp::find_param(params, "missing"));
}

BOOST_AUTO_TEST_CASE(accept_encoding_gzip) {
  BOOST_CHECK(fakegcp::accepts_gzip("gzip"));
  BOOST_CHECK(fakegcp::accepts_gzip("deflate, gzip;q=0.5"));
  BOOST_CHECK(!fakegcp::accepts_gzip("gzip;q=0"));
  BOOST_CHECK(!fakegcp::accepts_gzip("identity"));
  BOOST_CHECK(!fakegcp::accepts_gzip(""));
}

BOOST_AUTO_TEST_CASE(field_mask_selects_nested_fields) {
  auto mask = fakegcp::FieldMask::parse("nextPageToken,items(name,size)");
  BOOST_REQUIRE(mask);
  json::value v =
      json::parse(R"({"kind":"k","nextPageToken":"t","items":[{"name":"a","size":"1","x":2}]})");
  mask->apply(v);
  BOOST_CHECK_EQUAL(json::serialize(v),
                    R"({"nextPageToken":"t","items":[{"name":"a","size":"1"}]})");
  BOOST_CHECK(mask->child("items")->selects_only({"name", "size"}));
  BOOST_CHECK(!mask->child("kind"));

  auto slash = fakegcp::FieldMask::parse("items/name");
  BOOST_REQUIRE(slash);
  json::value w = json::parse(R"({"items":[{"name":"a","size":"1"}],"prefixes":["p/"]})");
  slash->apply(w);
  BOOST_CHECK_EQUAL(json::serialize(w), R"({"items":[{"name":"a"}]})");

  BOOST_CHECK(!fakegcp::FieldMask::parse("items(name"));
  BOOST_CHECK(!fakegcp::FieldMask::parse(",,"));
}

BOOST_AUTO_TEST_CASE(fault_rules_parse_and_decide) {
  std::string error;
  BOOST_CHECK(!fakegcp::parse_fault_rules("[{\"kind\":\"explode\"}]", error));
  BOOST_CHECK(error.find("kind") != std::string::npos);
  error.clear();
  BOOST_CHECK(!fakegcp::parse_fault_rules("[{\"kind\":\"status\",\"match\":\"(\"}]", error));
  error.clear();
  BOOST_CHECK(!fakegcp::parse_fault_rules("[{\"kind\":\"status\",\"probability\":2}]", error));
  error.clear();
  BOOST_CHECK(!fakegcp::parse_fault_rules("{\"kind\":\"status\"}", error));

  auto rules = fakegcp::parse_fault_rules(R"({"rules":[
      {"match":"/o/a","kind":"latency","ms":5},
      {"match":"/o/","method":"GET","kind":"status","status":429,"retry_after":2,"times":1},
      {"match":"/o/","kind":"reset","probability":0}]})",
                                          error);
  BOOST_REQUIRE_MESSAGE(rules, error);
  fakegcp::FaultSet set(7);
  set.replace(std::move(*rules));
  auto first = set.decide("GET", "/storage/v1/b/x/o/a");
  BOOST_CHECK(first.action == fakegcp::FaultKind::status);
  BOOST_CHECK_EQUAL(first.status, 429u);
  BOOST_CHECK_EQUAL(*first.retry_after, 2u);
  BOOST_CHECK_EQUAL(first.delay.count(), 5);  // latency adds up with the action
  auto second = set.decide("GET", "/storage/v1/b/x/o/a");
  BOOST_CHECK(!second.action);  // times: 1 used up; probability 0 never fires
  BOOST_CHECK(!set.decide("POST", "/storage/v1/b/x/o/b").action);
  BOOST_CHECK(set.decide("GET", "/elsewhere").fired.empty());
}

BOOST_AUTO_TEST_CASE(probability_is_reproducible_with_a_seed) {
  auto run = [](std::uint64_t seed) {
    std::string error;
    auto rules = fakegcp::parse_fault_rules(R"([{"kind":"status","probability":0.3}])", error);
    fakegcp::FaultSet set(seed);
    set.replace(std::move(*rules));
    std::string pattern;
    for (int i = 0; i < 200; ++i) pattern += set.decide("GET", "/x").action ? '1' : '0';
    return pattern;
  };
  std::string a = run(42);
  BOOST_CHECK_EQUAL(a, run(42));
  auto hits = std::count(a.begin(), a.end(), '1');
  BOOST_CHECK(hits > 20 && hits < 120);  // neither never nor always
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- GCS

BOOST_AUTO_TEST_SUITE(gcs)

BOOST_AUTO_TEST_CASE(listing_with_delimiter_rolls_up_directories) {
  Fake fake;
  put_tree(fake);
  auto listing = fake.get("/storage/v1/b/bkt/o?prefix=logs%2F&delimiter=%2F").json().as_object();
  BOOST_CHECK_EQUAL(listing.at("kind").as_string(), "storage#objects");
  std::vector<std::string> prefixes = {"logs/a/", "logs/job1/", "logs/job2/"};
  std::vector<std::string> items = {"logs/a-b", "logs/jobx"};
  BOOST_CHECK(prefixes_of(listing) == prefixes);
  BOOST_CHECK(item_names(listing) == items);
  BOOST_CHECK(!listing.contains("nextPageToken"));

  auto item = listing.at("items").as_array()[0].as_object();
  BOOST_CHECK_EQUAL(item.at("kind").as_string(), "storage#object");
  BOOST_CHECK_EQUAL(item.at("bucket").as_string(), "bkt");
  BOOST_CHECK_EQUAL(item.at("size").as_string(), "2");  // a string, as GCS sends int64
  BOOST_CHECK(item.contains("updated") && item.contains("generation") &&
              item.contains("contentType"));

  // A prefix that ends inside a name segment.
  auto partial = fake.get("/storage/v1/b/bkt/o?prefix=logs/job&delimiter=/").json().as_object();
  BOOST_CHECK((prefixes_of(partial) == std::vector<std::string>{"logs/job1/", "logs/job2/"}));
  BOOST_CHECK((item_names(partial) == std::vector<std::string>{"logs/jobx"}));

  // Without a delimiter: every object below, in byte order.
  auto flat = fake.get("/storage/v1/b/bkt/o?prefix=logs/").json().as_object();
  BOOST_CHECK(item_names(flat) == kAllLogs);
  BOOST_CHECK(!flat.contains("prefixes"));

  // A prefix matching nothing: only "kind", as GCS answers.
  auto none = fake.get("/storage/v1/b/bkt/o?prefix=nothing/here/").json().as_object();
  BOOST_CHECK((keys_of(none) == std::vector<std::string>{"kind"}));
}

BOOST_AUTO_TEST_CASE(listing_pages_count_prefixes_and_items) {
  Fake fake;
  put_tree(fake);
  auto flat = list_all(fake, "prefix=logs/&maxResults=2");
  BOOST_CHECK(flat.items == kAllLogs);
  BOOST_CHECK_EQUAL(flat.pages, 4);

  auto rolled = list_all(fake, "prefix=logs/&delimiter=/&maxResults=1");
  BOOST_CHECK((rolled.prefixes == std::vector<std::string>{"logs/a/", "logs/job1/", "logs/job2/"}));
  BOOST_CHECK((rolled.items == std::vector<std::string>{"logs/a-b", "logs/jobx"}));
  BOOST_CHECK_EQUAL(rolled.pages, 5);

  // A delimiter other than '/' rolls up on names, not directories.
  auto dash = fake.get("/storage/v1/b/bkt/o?prefix=logs/&delimiter=-").json().as_object();
  BOOST_CHECK((prefixes_of(dash) == std::vector<std::string>{"logs/a-", "logs/job1/latest-"}));
  BOOST_CHECK_EQUAL(item_names(dash).size(), kAllLogs.size() - 2);

  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o?pageToken=***").status, 400);
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o?maxResults=ten").status, 400);
}

BOOST_AUTO_TEST_CASE(listing_fields_partial_response) {
  Fake fake;
  put_tree(fake);
  auto names = fake.get("/storage/v1/b/bkt/o?prefix=logs/&maxResults=3&fields=" +
                        escape("nextPageToken,prefixes,items(name)"))
                   .json()
                   .as_object();
  BOOST_CHECK((keys_of(names) == std::vector<std::string>{"nextPageToken", "items"}));
  for (const auto& item : names.at("items").as_array())
    BOOST_CHECK((keys_of(item.as_object()) == std::vector<std::string>{"name"}));

  auto sized =
      fake.get("/storage/v1/b/bkt/o?prefix=logs/a&fields=items(name,size)").json().as_object();
  BOOST_CHECK((keys_of(sized) == std::vector<std::string>{"items"}));
  auto first = sized.at("items").as_array()[0].as_object();
  BOOST_CHECK((keys_of(first) == std::vector<std::string>{"name", "size"}));
  BOOST_CHECK_EQUAL(first.at("size").as_string(), "2");

  // Unparseable fields: the full resource.
  auto full = fake.get("/storage/v1/b/bkt/o?prefix=logs/a&fields=items(name").json().as_object();
  BOOST_CHECK(full.contains("kind"));
  BOOST_CHECK(full.at("items").as_array()[0].as_object().contains("updated"));
}

BOOST_AUTO_TEST_CASE(download_of_an_escaped_name) {
  Fake fake;
  const std::string name = "dir/we ird #1?x=%41+é.txt";
  fake.put(name, "payload bytes");
  auto media = fake.get("/storage/v1/b/bkt/o/" + escape(name) + "?alt=media");
  BOOST_CHECK_EQUAL(media.status, 200);
  BOOST_CHECK_EQUAL(media.body, "payload bytes");
  BOOST_CHECK_EQUAL(media.header("content-type"), "text/plain");

  auto download = fake.get("/download/storage/v1/b/bkt/o/" + escape(name) + "?alt=media");
  BOOST_CHECK_EQUAL(download.body, "payload bytes");

  auto resource = fake.get("/storage/v1/b/bkt/o/" + escape(name));
  BOOST_CHECK_EQUAL(resource.status, 200);
  auto o = resource.json().as_object();
  BOOST_CHECK_EQUAL(o.at("name").as_string(), name);
  BOOST_CHECK_EQUAL(o.at("size").as_string(), "13");
  // The media link the fake hands out leads back to the same bytes.
  std::string link(o.at("mediaLink").as_string());
  BOOST_CHECK_EQUAL(fake.get(link.substr(link.find("/download"))).body, "payload bytes");
}

BOOST_AUTO_TEST_CASE(gzip_objects_are_transcoded_unless_gzip_is_accepted) {
  Fake fake;
  const std::string plain = R"({"timestamp": 1700000000, "result": "SUCCESS"})";
  fake.put("b/finished.json", gzip(plain));
  fake.put_meta("b/finished.json",
                R"({"contentEncoding":"gzip","contentType":"application/json"})");

  auto decoded = fake.get("/storage/v1/b/bkt/o/b%2Ffinished.json?alt=media");
  BOOST_CHECK_EQUAL(decoded.status, 200);
  BOOST_CHECK_EQUAL(decoded.body, plain);
  BOOST_CHECK(decoded.header("content-encoding").empty());
  BOOST_CHECK_EQUAL(decoded.header("content-type"), "application/json");

  auto raw =
      fake.get("/storage/v1/b/bkt/o/b%2Ffinished.json?alt=media", {{"Accept-Encoding", "gzip"}});
  BOOST_CHECK_EQUAL(raw.header("content-encoding"), "gzip");
  BOOST_CHECK(raw.body == gzip(plain));

  auto listing = fake.get("/storage/v1/b/bkt/o?prefix=b/").json().as_object();
  auto item = listing.at("items").as_array()[0].as_object();
  BOOST_CHECK_EQUAL(item.at("contentEncoding").as_string(), "gzip");
  BOOST_CHECK_EQUAL(item.at("size").as_string(),
                    std::to_string(gzip(plain).size()));  // stored size
}

BOOST_AUTO_TEST_CASE(missing_things_get_gcs_error_bodies) {
  Fake fake;
  auto bucket = fake.get("/storage/v1/b/no-such-bucket/o");
  BOOST_CHECK_EQUAL(bucket.status, 404);
  auto error = bucket.json().at("error").as_object();
  BOOST_CHECK_EQUAL(error.at("code").as_int64(), 404);
  BOOST_CHECK_EQUAL(error.at("message").as_string(), "The specified bucket does not exist.");
  BOOST_CHECK_EQUAL(error.at("errors").as_array()[0].at("reason").as_string(), "notFound");

  auto object = fake.get("/storage/v1/b/bkt/o/missing.txt?alt=media");
  BOOST_CHECK_EQUAL(object.status, 404);
  BOOST_CHECK_EQUAL(object.json().at("error").at("message").as_string(),
                    "No such object: bkt/missing.txt");
  // Names that could escape the root are simply absent.
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o/..%2F..%2Fetc%2Fpasswd?alt=media").status, 404);
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o?prefix=../").status, 200);
  BOOST_CHECK_EQUAL(fake.get("/nowhere").status, 404);
}

BOOST_AUTO_TEST_CASE(upload_then_list_on_one_keep_alive_connection) {
  Fake fake;
  std::vector<fakegcp::FinalizedObject> finalized;
  std::mutex m;
  fake.server->gcs().on_finalize([&](const fakegcp::FinalizedObject& o) {
    std::lock_guard lock(m);
    finalized.push_back(o);
  });
  Client client(fake.port());
  auto up = client.call(
      "POST", "/upload/storage/v1/b/bkt/o?uploadType=media&name=" + escape("new/x y.json"),
      {{"Content-Type", "application/json"}}, "{\"k\": 1}");
  BOOST_CHECK_EQUAL(up.status, 200);
  BOOST_CHECK_EQUAL(up.json().at("name").as_string(), "new/x y.json");
  BOOST_CHECK_EQUAL(up.json().at("size").as_string(), "8");

  auto listing = client.call("GET", "/storage/v1/b/bkt/o?prefix=new/").json().as_object();
  BOOST_CHECK((item_names(listing) == std::vector<std::string>{"new/x y.json"}));
  BOOST_CHECK_EQUAL(client.call("GET", "/storage/v1/b/bkt/o/new%2Fx%20y.json?alt=media").body,
                    "{\"k\": 1}");

  auto bad =
      client.call("POST", "/upload/storage/v1/b/bkt/o?uploadType=media&name=a/../b", {}, "x");
  BOOST_CHECK_EQUAL(bad.status, 400);
  BOOST_CHECK_EQUAL(
      client.call("POST", "/upload/storage/v1/b/bkt/o?uploadType=media", {}, "x").status, 400);

  auto stats = fake.stats();
  BOOST_CHECK_EQUAL(stats.at("connections_accepted").to_number<std::uint64_t>(),
                    2u);  // the client's one + the stats call
  BOOST_CHECK_EQUAL(count_at(stats, "requests_by_kind", "gcs.upload"), 3u);
  std::lock_guard lock(m);
  BOOST_REQUIRE_EQUAL(finalized.size(), 1u);
  BOOST_CHECK_EQUAL(finalized[0].name, "new/x y.json");
  BOOST_CHECK(!fs::exists(fake.dir.path / ".tmp" / "x"));
}

BOOST_AUTO_TEST_CASE(files_added_while_running_are_seen) {
  Fake fake;
  BOOST_CHECK(!fake.get("/storage/v1/b/bkt/o?prefix=late/").json().as_object().contains("items"));
  fake.put("late/1.txt", "1");
  BOOST_CHECK_EQUAL(
      item_names(fake.get("/storage/v1/b/bkt/o?prefix=late/").json().as_object()).size(), 1u);
}

BOOST_AUTO_TEST_CASE(hundreds_of_concurrent_connections) {
  Fake fake;
  fake.put("small.txt", "s");
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 300; ++i) {
    clients.push_back(std::make_unique<Client>(fake.port()));
    clients.back()->send("GET", "/storage/v1/b/bkt/o/small.txt?alt=media");
  }
  for (int round = 0; round < 2; ++round) {
    for (auto& c : clients) BOOST_REQUIRE_EQUAL(c->receive().body, "s");
    if (round == 0)
      for (auto& c : clients) c->send("GET", "/storage/v1/b/bkt/o/small.txt?alt=media");
  }
  auto stats = fake.stats();
  BOOST_CHECK_EQUAL(count_at(stats, "requests_by_status", "200"), 600u);
  BOOST_CHECK_EQUAL(stats.at("connections_accepted").to_number<std::uint64_t>(), 301u);
  BOOST_CHECK(stats.at("max_concurrent_requests").as_int64() >= 1);
}

BOOST_AUTO_TEST_CASE(malformed_requests_get_400_and_the_server_lives_on) {
  Fake fake;
  Client bad(fake.port());
  bad.send_raw("NOT HTTP AT ALL\r\n\r\n");
  BOOST_CHECK_EQUAL(bad.receive().status, 400);
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o").status, 200);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- auth

BOOST_AUTO_TEST_SUITE(auth)

struct AuthFake {
  TempDir keys;
  RsaKey key;
  std::unique_ptr<Fake> fake;
  explicit AuthFake(unsigned ttl = 3600) {
    key.write_public_pem(keys.path / "sa.pub.pem");
    fake = std::make_unique<Fake>([&](fakegcp::ServerConfig& c) {
      c.sa_public_key = (keys.path / "sa.pub.pem").string();
      c.require_auth = true;
      c.token_ttl_seconds = ttl;
    });
  }
  std::string token_url() const { return fake->server->base_url() + "/token"; }
  HttpReply grant(const std::string& assertion) {
    return fake->post("/token", grant_body(assertion), kForm);
  }
  std::string token() {
    auto reply = grant(key.assertion(token_url(), now_seconds(), now_seconds() + 600));
    BOOST_REQUIRE_EQUAL(reply.status, 200);
    return std::string(reply.json().at("access_token").as_string());
  }
};

BOOST_AUTO_TEST_CASE(jwt_bearer_grant) {
  AuthFake a;
  auto good = a.grant(a.key.assertion(a.token_url(), now_seconds(), now_seconds() + 3600));
  BOOST_CHECK_EQUAL(good.status, 200);
  auto body = good.json().as_object();
  BOOST_CHECK(!body.at("access_token").as_string().empty());
  BOOST_CHECK_EQUAL(body.at("expires_in").as_int64(), 3600);
  BOOST_CHECK_EQUAL(body.at("token_type").as_string(), "Bearer");

  auto refused = [&](const HttpReply& r) {
    return r.status == 400 && r.json().at("error").as_string() == "invalid_grant" &&
           !r.json().at("error_description").as_string().empty();
  };
  RsaKey other;
  BOOST_CHECK(refused(a.grant(other.assertion(a.token_url(), now_seconds(), now_seconds() + 600))));
  BOOST_CHECK(
      refused(a.grant(a.key.assertion(a.token_url(), now_seconds() - 7200, now_seconds() - 3600))));
  BOOST_CHECK(refused(a.grant(
      a.key.assertion("https://oauth2.googleapis.com/token", now_seconds(), now_seconds() + 600))));
  BOOST_CHECK(
      refused(a.grant(a.key.assertion(a.token_url(), now_seconds(), now_seconds() + 7200))));
  std::string tampered = a.key.assertion(a.token_url(), now_seconds(), now_seconds() + 600);
  tampered[tampered.find('.') + 5] ^= 1;
  BOOST_CHECK(refused(a.grant(tampered)));
  BOOST_CHECK(refused(a.grant("not-a-jwt")));
  BOOST_CHECK_EQUAL(a.fake->post("/token", "grant_type=password", kForm).status, 400);
}

BOOST_AUTO_TEST_CASE(refresh_token_grant) {
  Fake configured([](fakegcp::ServerConfig& c) {
    c.oauth_client_id = "client.apps";
    c.oauth_client_secret = "client-secret";
    c.refresh_token = "1//refresh";
  });
  auto grant = [&](Fake& fake, const std::string& id, const std::string& secret,
                   const std::string& token) {
    return fake.post("/token",
                     "grant_type=refresh_token&client_id=" + id + "&client_secret=" + secret +
                         "&refresh_token=" + token,
                     kForm);
  };
  auto error_of = [](const HttpReply& r) { return std::string(r.json().at("error").as_string()); };

  auto good = grant(configured, "client.apps", "client-secret", "1%2F%2Frefresh");
  BOOST_CHECK_EQUAL(good.status, 200);
  BOOST_CHECK(!good.json().at("access_token").as_string().empty());
  BOOST_CHECK_EQUAL(good.json().at("token_type").as_string(), "Bearer");

  auto revoked = grant(configured, "client.apps", "client-secret", "1%2F%2Fother");
  BOOST_CHECK_EQUAL(revoked.status, 400);
  BOOST_CHECK_EQUAL(error_of(revoked), "invalid_grant");
  BOOST_CHECK(revoked.body.find("other") == std::string::npos);  // nothing sent is echoed
  auto wrong_secret = grant(configured, "client.apps", "guess", "1%2F%2Frefresh");
  BOOST_CHECK_EQUAL(wrong_secret.status, 401);
  BOOST_CHECK_EQUAL(error_of(wrong_secret), "invalid_client");
  auto wrong_client = grant(configured, "other.apps", "client-secret", "1%2F%2Frefresh");
  BOOST_CHECK_EQUAL(wrong_client.status, 401);
  auto missing = grant(configured, "client.apps", "client-secret", "");
  BOOST_CHECK_EQUAL(missing.status, 400);
  BOOST_CHECK_EQUAL(error_of(missing), "invalid_request");

  // Unconfigured: any non-empty values pass.
  Fake unconfigured;
  BOOST_CHECK_EQUAL(grant(unconfigured, "a", "b", "c").status, 200);
  BOOST_CHECK_EQUAL(grant(unconfigured, "a", "", "c").status, 400);
}

BOOST_AUTO_TEST_CASE(metadata_server_needs_its_header) {
  AuthFake a;
  const std::string path = "/computeMetadata/v1/instance/service-accounts/default/token";
  BOOST_CHECK_EQUAL(a.fake->get(path).status, 403);
  auto token = a.fake->get(path, {{"Metadata-Flavor", "Google"}});
  BOOST_CHECK_EQUAL(token.status, 200);
  BOOST_CHECK_EQUAL(token.header("metadata-flavor"), "Google");
  std::string access(token.json().at("access_token").as_string());
  BOOST_CHECK_EQUAL(
      a.fake->get("/storage/v1/b/bkt/o", {{"Authorization", "Bearer " + access}}).status, 200);

  auto project =
      a.fake->get("/computeMetadata/v1/project/project-id", {{"Metadata-Flavor", "Google"}});
  BOOST_CHECK_EQUAL(project.status, 200);
  BOOST_CHECK_EQUAL(project.body, "fake-project");
}

BOOST_AUTO_TEST_CASE(require_auth_refuses_missing_revoked_and_expired_tokens) {
  AuthFake a(1);
  auto anonymous = a.fake->get("/storage/v1/b/bkt/o");
  BOOST_CHECK_EQUAL(anonymous.status, 401);
  BOOST_CHECK_EQUAL(anonymous.json().at("error").at("code").as_int64(), 401);
  BOOST_CHECK_EQUAL(
      a.fake->get("/storage/v1/b/bkt/o", {{"Authorization", "Bearer made-up"}}).status, 401);

  std::string token = a.token();
  BOOST_CHECK_EQUAL(
      a.fake->get("/storage/v1/b/bkt/o", {{"Authorization", "Bearer " + token}}).status, 200);
  BOOST_CHECK_EQUAL(a.fake->post("/_fake/revoke-tokens", "").status, 200);
  BOOST_CHECK_EQUAL(
      a.fake->get("/storage/v1/b/bkt/o", {{"Authorization", "Bearer " + token}}).status, 401);

  std::string fresh = a.token();
  BOOST_CHECK_EQUAL(
      a.fake->get("/storage/v1/b/bkt/o", {{"Authorization", "Bearer " + fresh}}).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the 1 s TTL
  BOOST_CHECK_EQUAL(
      a.fake->get("/storage/v1/b/bkt/o", {{"Authorization", "Bearer " + fresh}}).status, 401);
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- faults

BOOST_AUTO_TEST_SUITE(faults)

BOOST_AUTO_TEST_CASE(status_fault_with_retry_after_honours_times) {
  Fake fake;
  fake.put("f.txt", "content");
  fake.set_faults(
      R"([{"match":"f\\.txt","method":"GET","kind":"status","status":503,"retry_after":1,"times":2}])");
  for (int i = 0; i < 2; ++i) {
    auto r = fake.get("/storage/v1/b/bkt/o/f.txt?alt=media");
    BOOST_CHECK_EQUAL(r.status, 503);
    BOOST_CHECK_EQUAL(r.header("retry-after"), "1");
    BOOST_CHECK_EQUAL(r.json().at("error").at("code").as_int64(), 503);
  }
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o/f.txt?alt=media").body, "content");
  auto stats = fake.stats();
  BOOST_CHECK_EQUAL(stats.at("faults_injected").to_number<std::uint64_t>(), 2u);
  BOOST_CHECK_EQUAL(count_at(stats, "requests_by_status", "503"), 2u);
  auto rules = fake.get("/_fake/faults").json().as_array();
  BOOST_CHECK_EQUAL(rules[0].at("fired").to_number<std::uint64_t>(), 2u);
}

BOOST_AUTO_TEST_CASE(reset_fault_drops_the_connection) {
  Fake fake;
  fake.set_faults(R"([{"match":"/o/","kind":"reset"}])");
  Client c(fake.port());
  c.send("GET", "/storage/v1/b/bkt/o/x?alt=media");
  auto r = c.receive();
  BOOST_CHECK(r.error);
  BOOST_CHECK_EQUAL(r.status, 0);
  BOOST_CHECK_EQUAL(count_at(fake.stats(), "faults_by_kind", "reset"), 1u);
}

BOOST_AUTO_TEST_CASE(truncate_fault_sends_half_the_body) {
  Fake fake;
  const std::string body(1000, 'b');
  fake.put("big.txt", body);
  fake.set_faults(R"([{"match":"big","kind":"truncate"}])");
  Client c(fake.port());
  auto r = c.call("GET", "/storage/v1/b/bkt/o/big.txt?alt=media");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.content_length, 1000u);
  BOOST_CHECK_EQUAL(r.body.size(), 500u);
  BOOST_CHECK(r.error);  // EOF before Content-Length bytes
}

BOOST_AUTO_TEST_CASE(hang_fault_never_answers) {
  Fake fake;
  fake.set_faults(R"([{"match":"hang-me","kind":"hang","times":1}])");
  {
    Client c(fake.port());
    c.send("GET", "/storage/v1/b/bkt/o/hang-me?alt=media");
    BOOST_CHECK(!c.readable_within(std::chrono::milliseconds(300)));
    BOOST_CHECK(poll_until([&] { return fake.stats().at("requests_in_flight").as_int64() == 1; }));
    c.close();
  }
  // Only the first request hangs; the server is unharmed.
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o/hang-me?alt=media").status, 404);
}

BOOST_AUTO_TEST_CASE(latency_and_method_filters) {
  Fake fake;
  fake.put("l.txt", "late");
  fake.set_faults(R"([{"match":"l\\.txt","kind":"latency","ms":20},
                      {"match":"l\\.txt","method":"POST","kind":"status","status":500}])");
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o/l.txt?alt=media").body, "late");
  auto stats = fake.stats();
  BOOST_CHECK_EQUAL(count_at(stats, "faults_by_kind", "latency"), 1u);
  BOOST_CHECK_EQUAL(count_at(stats, "faults_by_kind", "status"), 0u);

  // Bad rules are refused whole; the old ones stay.
  BOOST_CHECK_EQUAL(fake.post("/_fake/faults", R"([{"kind":"status"},{"kind":"nope"}])").status,
                    400);
  BOOST_CHECK_EQUAL(fake.get("/_fake/faults").json().as_array().size(), 2u);
  fake.set_faults("[]");
  BOOST_CHECK(fake.get("/_fake/faults").json().as_array().empty());
  BOOST_CHECK_EQUAL(fake.post("/_fake/reset-stats", "").status, 200);
  BOOST_CHECK_EQUAL(fake.stats().at("requests_total").to_number<std::uint64_t>(), 0u);
}

BOOST_AUTO_TEST_CASE(faults_file_applies_from_the_start) {
  TempDir rules;
  write_file(rules.path / "faults.json",
             R"([{"match":"^/storage/v1/b/bkt/o\\?","kind":"status","status":429}])");
  Fake fake(
      [&](fakegcp::ServerConfig& c) { c.faults_file = (rules.path / "faults.json").string(); });
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o?prefix=x").status, 429);
  BOOST_CHECK_EQUAL(fake.get("/storage/v1/b/bkt/o").status, 200);  // the regex wants a query

  write_file(rules.path / "bad.json", "[{");
  BOOST_CHECK_THROW(fakegcp::Server([&] {
                      fakegcp::ServerConfig c;
                      c.root = rules.path;
                      c.faults_file = (rules.path / "bad.json").string();
                      return c;
                    }()),
                    std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
