// Credentials against the fakegcp binary (env FAKEGCP): key-file JWT flow,
// authorized_user refresh-token grant, gcloud's well-known file, metadata
// server, anonymous fall-through and the order between them, refresh on
// expiry and on 401, malformed credentials files and token answers, and no
// secrets in the log or in error messages.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kettle/auth/authorized_user.hpp"
#include "kettle/auth/credentials.hpp"
#include "kettle/auth/credentials_file.hpp"
#include "kettle/auth/default_credentials.hpp"
#include "kettle/auth/jwt.hpp"
#include "kettle/auth/metadata.hpp"
#include "kettle/auth/service_account.hpp"
#include "kettle/auth/token_cache.hpp"
#include "kettle/auth/token_response.hpp"
#include "kettle/net/http_client.hpp"
#include "kettle/obs/log.hpp"
#include "support/files.hpp"
#include "support/scripted_server.hpp"
#include "support/stderr_capture.hpp"

extern char** environ;

using kettle::test_support::read_file;
using kettle::test_support::StderrCapture;

namespace {

namespace asio = boost::asio;
namespace auth = kettle::auth;
namespace fs = std::filesystem;
namespace json = boost::json;
namespace net = kettle::net;
namespace test_support = kettle::test_support;
using namespace std::chrono_literals;

// ---------------------------------------------------------------- helpers

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "kettle-auth-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// An RSA key pair made at test time, as PEM text.
struct KeyPair {
  std::string private_pem;  // PKCS#8, as in Google's key files
  std::string public_pem;

  static KeyPair generate() {
    EVP_PKEY* key = EVP_RSA_gen(2048);
    BOOST_REQUIRE(key != nullptr);
    BIO* priv = BIO_new(BIO_s_mem());
    BIO* pub = BIO_new(BIO_s_mem());
    BOOST_REQUIRE(PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
    BOOST_REQUIRE(PEM_write_bio_PUBKEY(pub, key) == 1);
    KeyPair pair{bio_text(priv), bio_text(pub)};
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(key);
    return pair;
  }
  static const KeyPair& shared() {
    static const KeyPair pair = generate();
    return pair;
  }
};

std::string service_account_json(const std::string& token_uri, const std::string& private_pem,
                                 std::string type = "service_account") {
  json::object key{{"type", type},
                   {"project_id", "kettle-test"},
                   {"private_key_id", "key-id-123"},
                   {"private_key", private_pem},
                   {"client_email", "kettle@kettle-test.iam.gserviceaccount.com"},
                   {"client_id", "1234567890"},
                   {"token_uri", token_uri}};
  return json::serialize(key);
}

// The user credentials the fake is started with (user_grant_args) and the
// files below hold. The secrets are long enough that finding one in a text
// cannot be chance.
constexpr const char* kClientId = "764086051850-kettle-test.apps.googleusercontent.com";
constexpr const char* kClientSecret = "d-FL95Q19q7MQmFpd7hHD0Ty-kettle-client-secret";
constexpr const char* kRefreshToken = "1//0gKettleTestRefreshToken-Lz8WnXo3pQrStUvWxYz";
constexpr const char* kWellKnownName = "application_default_credentials.json";

std::string authorized_user_json(const std::string& token_uri,
                                 const std::string& refresh_token = kRefreshToken,
                                 std::string type = "authorized_user") {
  // As `gcloud auth application-default login` writes it, plus token_uri.
  json::object user{{"type", type},
                    {"client_id", kClientId},
                    {"client_secret", kClientSecret},
                    {"refresh_token", refresh_token},
                    {"quota_project_id", "kettle-test"},
                    {"token_uri", token_uri}};
  return json::serialize(user);
}

// Flags making the fake accept exactly the user credentials above.
std::vector<std::string> user_grant_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--client-id", kClientId,         "--client-secret",
                                kClientSecret, "--refresh-token", kRefreshToken};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// Whether `text` holds any of the user credentials' secrets.
bool holds_user_secret(const std::string& text) {
  return text.find(kClientSecret) != std::string::npos ||
         text.find(kRefreshToken) != std::string::npos;
}

// A port on 127.0.0.1 that nothing listens on: bound, then closed.
unsigned short closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The fakegcp binary on port 0 with a temporary root holding bucket/object.txt
// and our public key; stopped with SIGTERM at the end.
class FakeGcp {
 public:
  static constexpr const char* kBucket = "bucket";
  static constexpr const char* kObject = "object.txt";
  static constexpr const char* kContent = "private data\n";

  explicit FakeGcp(std::vector<std::string> extra_args = {}) {
    const char* binary = std::getenv("FAKEGCP");
    BOOST_REQUIRE_MESSAGE(binary != nullptr, "set FAKEGCP to the fakegcp binary (meson test does)");
    write_file(root_.path() / "data" / kBucket / kObject, kContent);
    write_file(root_.path() / "sa.pub.pem", KeyPair::shared().public_pem);
    std::vector<std::string> args{
        binary, "--root",          (root_.path() / "data").string(),      "--port",
        "0",    "--sa-public-key", (root_.path() / "sa.pub.pem").string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    spawn(args);
  }
  ~FakeGcp() { stop(); }
  // Ends the server: its port then refuses connections.
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }
  FakeGcp(const FakeGcp&) = delete;
  FakeGcp& operator=(const FakeGcp&) = delete;

  const std::string& base_url() const { return base_url_; }
  std::string host_port() const { return base_url_.substr(std::string("http://").size()); }
  std::string token_uri() const { return base_url_ + "/token"; }
  std::string object_url() const {
    return base_url_ + "/storage/v1/b/" + kBucket + "/o/" + kObject + "?alt=media";
  }
  fs::path dir() const { return root_.path(); }

  // Writes an authorized_user file whose token_uri is this fake's; returns its path.
  fs::path write_user_file(const fs::path& path,
                           const std::string& refresh_token = kRefreshToken) const {
    write_file(path, authorized_user_json(token_uri(), refresh_token));
    return path;
  }

  // Writes a key file whose token_uri is this fake's; returns its path.
  fs::path write_key_file(const std::string& private_pem = KeyPair::shared().private_pem) const {
    fs::path path = root_.path() / "key.json";
    write_file(path, service_account_json(token_uri(), private_pem));
    return path;
  }

 private:
  void spawn(const std::vector<std::string>& args) {
    int out[2];
    BOOST_REQUIRE(::pipe(out) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    BOOST_REQUIRE_MESSAGE(rc == 0, "cannot start " << args[0]);
    // The fake prints one line once it listens; EOF means it failed to start.
    std::FILE* lines = ::fdopen(out[0], "r");
    char line[256] = {};
    bool got = std::fgets(line, sizeof line, lines) != nullptr;
    std::fclose(lines);
    std::string text = line;
    constexpr std::string_view kPrefix = "listening on ";
    BOOST_REQUIRE_MESSAGE(got && text.starts_with(kPrefix),
                          "fakegcp did not start: '" << text << "'");
    base_url_ = text.substr(kPrefix.size());
    while (!base_url_.empty() && (base_url_.back() == '\n' || base_url_.back() == '\r'))
      base_url_.pop_back();
  }

  TempDir root_;
  pid_t pid_ = -1;
  std::string base_url_;
};

// Runs `body` on `ioc`, stopping `client` after it so the context runs dry;
// a watchdog fails the test instead of hanging.
void run(asio::io_context& ioc, net::HttpClient& client,
         std::function<asio::awaitable<void>()> body) {
  bool finished = false;
  std::exception_ptr failure;
  asio::co_spawn(ioc, body(), [&](std::exception_ptr e) {
    finished = true;
    failure = e;
    client.stop();
  });
  ioc.run_for(60s);
  ioc.restart();
  BOOST_REQUIRE_MESSAGE(finished, "the test did not finish before its watchdog");
  if (failure) std::rethrow_exception(failure);
}

net::Config quick_config() {
  net::Config config;
  config.retry = net::RetryConfig{
      .max_attempts = 3, .initial_backoff = 5ms, .max_backoff = 20ms, .max_total = 10s};
  return config;
}

// The environment a test sets, nothing else.
auth::Environment environment(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    auto it = variables.find(std::string(name));
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

// Config whose default metadata host refuses connections at once, so tests
// never probe the real metadata.google.internal.
auth::Config test_config() {
  auth::Config config;
  config.default_metadata_host = "127.0.0.1:" + std::to_string(closed_port());
  return config;
}

// Service-account credentials from a key file the fake trusts.
std::shared_ptr<auth::Credentials> key_credentials(net::HttpClient& client, FakeGcp& fake,
                                                   const auth::Config& config) {
  auto key = auth::load_service_account_key(fake.write_key_file().string());
  BOOST_REQUIRE(key.has_value());
  return auth::make_service_account_credentials(client, std::move(*key), config);
}

// A wall clock tests move forward by hand.
struct ManualClock {
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
  auth::Clock function() {
    return [this] { return now; };
  }
};

asio::awaitable<net::Result<net::Response>> get_with(net::HttpClient& client,
                                                     std::shared_ptr<auth::Credentials> credentials,
                                                     std::string url) {
  net::Request request(std::move(url));
  auto applied = co_await auth::apply_credentials(std::move(credentials), request);
  if (!applied) co_return applied.error();
  co_return co_await client.request(std::move(request));
}

asio::awaitable<std::string> bearer_of(auth::Credentials& credentials) {
  auto header = co_await credentials.authorization();
  BOOST_REQUIRE_MESSAGE(header.has_value(), (header ? "" : header.error().what()));
  BOOST_REQUIRE(header->has_value());
  BOOST_TEST(header->value().starts_with("Bearer "));
  co_return header->value();
}

// How many requests of `kind` (e.g. "oauth.token") the fake has served.
asio::awaitable<std::uint64_t> served(net::HttpClient& client, const FakeGcp& fake,
                                      std::string kind) {
  net::Request request(fake.base_url() + "/_fake/stats");
  auto response = co_await client.request(std::move(request));
  BOOST_REQUIRE(response.has_value());
  json::value stats = json::parse(response->body);
  const json::value* count = stats.at("requests_by_kind").as_object().if_contains(kind);
  co_return count ? count->to_number<std::uint64_t>() : 0;
}

asio::awaitable<void> revoke_tokens(net::HttpClient& client, const FakeGcp& fake) {
  net::Request request("POST", fake.base_url() + "/_fake/revoke-tokens");
  auto response = co_await client.request(std::move(request));
  BOOST_REQUIRE(response.has_value());
  BOOST_REQUIRE_EQUAL(response->status, 200);
}

// Base64url without padding back to bytes, for checking JWTs.
std::string base64url_decode(std::string_view text) {
  std::string standard(text);
  for (char& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (standard.size() % 4 != 0) standard += '=';
  std::string out(standard.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(standard.data()),
                          static_cast<int>(standard.size()));
  BOOST_REQUIRE(n >= 0);
  std::size_t padding = standard.size() - text.size();
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

bool verify_rs256(const std::string& public_pem, std::string_view signed_part,
                  std::string_view signature) {
  BIO* bio = BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                       signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace

// Tests await into named values before checking them: g++ 12 mishandles
// co_await inside the temporaries of the Boost.Test macros.

// ---------------------------------------------------------------- pure parts

BOOST_AUTO_TEST_SUITE(auth_pure)

BOOST_AUTO_TEST_CASE(base64url_without_padding) {
  BOOST_TEST(auth::base64url_encode("") == "");
  BOOST_TEST(auth::base64url_encode("f") == "Zg");
  BOOST_TEST(auth::base64url_encode("fo") == "Zm8");
  BOOST_TEST(auth::base64url_encode("foo") == "Zm9v");
  BOOST_TEST(auth::base64url_encode("foob") == "Zm9vYg");
  BOOST_TEST(auth::base64url_encode(std::string("\xfb\xff\xbf", 3)) == "-_-_");
}

BOOST_AUTO_TEST_CASE(refresh_five_minutes_early_or_halfway_for_short_tokens) {
  auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  auth::AccessToken hour{.value = "t", .obtained = t0, .lifetime = 3600s};
  BOOST_TEST((auth::refresh_time(hour, 300s) == t0 + 3300s));
  auth::AccessToken brief{.value = "t", .obtained = t0, .lifetime = 2s};
  BOOST_TEST((auth::refresh_time(brief, 300s) == t0 + 1s));
  auth::AccessToken ten_minutes{.value = "t", .obtained = t0, .lifetime = 600s};
  BOOST_TEST((auth::refresh_time(ten_minutes, 300s) == t0 + 300s));
}

BOOST_AUTO_TEST_CASE(jwt_has_the_claims_google_expects_and_a_valid_signature) {
  auto key = auth::parse_service_account_key(
      service_account_json("http://127.0.0.1:1/token", KeyPair::shared().private_pem), "key.json");
  BOOST_REQUIRE(key.has_value());
  auth::Config config;
  auto issued = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  config.clock = [issued] { return issued; };
  auto assertion = auth::make_service_account_assertion(*key, config);
  BOOST_REQUIRE(assertion.has_value());

  auto dot1 = assertion->find('.');
  auto dot2 = assertion->find('.', dot1 + 1);
  BOOST_REQUIRE(dot1 != std::string::npos && dot2 != std::string::npos);
  BOOST_TEST(assertion->find_first_of("=+/") == std::string::npos);  // base64url, unpadded

  json::object header = json::parse(base64url_decode(assertion->substr(0, dot1))).as_object();
  BOOST_TEST(header.at("alg").as_string() == "RS256");
  BOOST_TEST(header.at("typ").as_string() == "JWT");
  BOOST_TEST(header.at("kid").as_string() == "key-id-123");

  json::object claims =
      json::parse(base64url_decode(assertion->substr(dot1 + 1, dot2 - dot1 - 1))).as_object();
  BOOST_TEST(claims.at("iss").as_string() == "kettle@kettle-test.iam.gserviceaccount.com");
  BOOST_TEST(claims.at("scope").as_string() == "https://www.googleapis.com/auth/cloud-platform");
  BOOST_TEST(claims.at("aud").as_string() == "http://127.0.0.1:1/token");
  BOOST_TEST(claims.at("iat").to_number<std::int64_t>() == 1'700'000'000);
  BOOST_TEST(claims.at("exp").to_number<std::int64_t>() == 1'700'003'600);

  std::string signature = base64url_decode(assertion->substr(dot2 + 1));
  BOOST_TEST(signature.size() == 256u);  // RSA-2048
  BOOST_TEST(verify_rs256(KeyPair::shared().public_pem, assertion->substr(0, dot2), signature));
  // A changed claim no longer matches the signature.
  std::string tampered = assertion->substr(0, dot2);
  tampered[dot1 + 2] = tampered[dot1 + 2] == 'A' ? 'B' : 'A';
  BOOST_TEST(!verify_rs256(KeyPair::shared().public_pem, tampered, signature));
}

BOOST_AUTO_TEST_CASE(scope_is_configurable) {
  auto key = auth::parse_service_account_key(
      service_account_json("http://127.0.0.1:1/token", KeyPair::shared().private_pem), "key.json");
  BOOST_REQUIRE(key.has_value());
  auth::Config config;
  config.scope = "https://www.googleapis.com/auth/devstorage.read_only";
  auto assertion = auth::make_service_account_assertion(*key, config);
  BOOST_REQUIRE(assertion.has_value());
  auto dot1 = assertion->find('.');
  auto dot2 = assertion->find('.', dot1 + 1);
  json::object claims =
      json::parse(base64url_decode(assertion->substr(dot1 + 1, dot2 - dot1 - 1))).as_object();
  BOOST_TEST(claims.at("scope").as_string() == config.scope);
}

BOOST_AUTO_TEST_CASE(token_answers_are_read_and_refusals_explained) {
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  const std::string url = "https://oauth2.example/token";
  auto answer = [](int status, std::string body) {
    net::Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
  };

  auto ok = auth::parse_token_response(
      answer(200, R"({"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"})"), url, now,
      300s);
  BOOST_REQUIRE(ok.has_value());
  BOOST_TEST(ok->value == "ya29.x");
  BOOST_TEST(ok->lifetime.count() == 3599);
  BOOST_TEST((ok->obtained == now));

  auto no_expiry =
      auth::parse_token_response(answer(200, R"({"access_token":"ya29.y"})"), url, now, 300s);
  BOOST_REQUIRE(no_expiry.has_value());
  BOOST_TEST(no_expiry->lifetime.count() == 300);

  auto refused = auth::parse_token_response(
      answer(400, R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})"), url,
      now, 300s);
  BOOST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().status == 400);
  BOOST_TEST(refused.error().url == url);
  BOOST_TEST(refused.error().what().find("invalid_grant: Invalid JWT Signature.") !=
             std::string::npos);

  std::string html = "<!DOCTYPE html>\n<html><body><h1>502 Bad Gateway</h1>" +
                     std::string(500, 'x') + "</body></html>";
  auto page = auth::parse_token_response(answer(502, html), url, now, 300s);
  BOOST_REQUIRE(!page.has_value());
  BOOST_TEST(page.error().status == 502);
  BOOST_TEST(page.error().message.find("502 Bad Gateway") != std::string::npos);
  BOOST_TEST(page.error().message.size() < 400u);  // an excerpt, not the page

  auto html_ok = auth::parse_token_response(answer(200, html), url, now, 300s);
  BOOST_REQUIRE(!html_ok.has_value());
  BOOST_TEST((html_ok.error().kind == net::ErrorKind::protocol));

  for (std::string body :
       {"", "[]", "null", R"({"access_token":""})", R"({"access_token":7})",
        R"({"expires_in":3600})", R"({"access_token":"a\r\nX-Evil: 1"})", "{\"access_token\":"}) {
    auto bad = auth::parse_token_response(answer(200, body), url, now, 300s);
    BOOST_TEST(!bad.has_value(), "accepted: " << body);
  }
  // Odd expires_in values fall back to the default rather than failing.
  for (std::string expires : {"-5", "0", "\"abc\"", "1e300", "null"}) {
    auto odd = auth::parse_token_response(
        answer(200, R"({"access_token":"z","expires_in":)" + expires + "}"), url, now, 300s);
    BOOST_REQUIRE(odd.has_value());
    BOOST_TEST(odd->lifetime.count() == 300);
  }
}

BOOST_AUTO_TEST_CASE(malformed_key_files_are_errors_naming_the_file) {
  const std::string origin = "/etc/keys/sa.json";
  const std::string pem = KeyPair::shared().private_pem;
  struct Case {
    std::string json;
    std::string expect;  // a phrase of the error
  };
  json::object no_email = json::parse(service_account_json("https://o/token", pem)).as_object();
  no_email.erase("client_email");
  json::object bad_uri = json::parse(service_account_json("ftp://o/token", pem)).as_object();
  std::vector<Case> cases{
      {"", "not valid JSON"},
      {"{\"type\": \"service_account\",", "not valid JSON"},
      {"<html>Not Found</html>", "not valid JSON"},
      {"[1, 2]", "not a JSON object"},
      {"{}", "\"type\""},
      {service_account_json("https://o/token", pem, "authorized_user"), "authorized_user"},
      {json::serialize(no_email), "client_email"},
      {service_account_json("https://o/token", ""), "private_key"},
      {service_account_json(
           "https://o/token",
           "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"),
       "not a PEM RSA private key"},
      {service_account_json("https://o/token", KeyPair::shared().public_pem),
       "not a PEM RSA private key"},
      {json::serialize(bad_uri), "token_uri"},
  };
  for (const auto& c : cases) {
    auto key = auth::parse_service_account_key(c.json, origin);
    BOOST_REQUIRE_MESSAGE(!key.has_value(), "accepted: " << c.json.substr(0, 60));
    const std::string& message = key.error().message;
    BOOST_TEST(message.find(origin) != std::string::npos, message);
    BOOST_TEST(message.find(c.expect) != std::string::npos, message);
    BOOST_TEST(message.find("BEGIN") == std::string::npos, "key material in: " << message);
  }

  auto good = auth::parse_service_account_key(service_account_json("https://o/token", pem), origin);
  BOOST_REQUIRE(good.has_value());
  BOOST_TEST(good->client_email == "kettle@kettle-test.iam.gserviceaccount.com");
  BOOST_TEST(good->token_uri == "https://o/token");
  BOOST_TEST(good->private_key_id == "key-id-123");

  json::object no_uri = json::parse(service_account_json("x", pem)).as_object();
  no_uri.erase("token_uri");
  auto defaulted = auth::parse_service_account_key(json::serialize(no_uri), origin);
  BOOST_REQUIRE(defaulted.has_value());
  BOOST_TEST(defaulted->token_uri == "https://oauth2.googleapis.com/token");
}

BOOST_AUTO_TEST_CASE(unreadable_key_files_are_errors_naming_the_file) {
  TempDir dir;
  for (fs::path path : {dir.path() / "missing.json", dir.path()}) {
    auto key = auth::load_service_account_key(path.string());
    BOOST_REQUIRE(!key.has_value());
    BOOST_TEST(key.error().message.find(path.string()) != std::string::npos, key.error().message);
  }
}

BOOST_AUTO_TEST_CASE(authorized_user_files_are_read_and_errors_name_the_file_not_secrets) {
  const std::string origin = "/home/u/.config/gcloud/application_default_credentials.json";
  auto user = auth::parse_authorized_user(authorized_user_json("https://o/token"), origin);
  BOOST_REQUIRE_MESSAGE(user.has_value(), (user ? "" : user.error().message));
  BOOST_TEST(user->client_id == kClientId);
  BOOST_TEST(user->client_secret == kClientSecret);
  BOOST_TEST(user->refresh_token == kRefreshToken);
  BOOST_TEST(user->token_uri == "https://o/token");
  BOOST_TEST(user->origin == origin);

  json::object gcloud = json::parse(authorized_user_json("x")).as_object();
  gcloud.erase("token_uri");  // gcloud writes none: Google's endpoint
  auto defaulted = auth::parse_authorized_user(json::serialize(gcloud), origin);
  BOOST_REQUIRE(defaulted.has_value());
  BOOST_TEST(defaulted->token_uri == "https://oauth2.googleapis.com/token");

  struct Case {
    std::string json;
    std::string expect;  // a phrase of the error
  };
  std::vector<Case> cases{
      {"", "not valid JSON"},
      {"[]", "not a JSON object"},
      {"{}", "\"type\""},
      {authorized_user_json("https://o/token", kRefreshToken, "service_account"),
       "service_account"},
      {authorized_user_json("ftp://o/token"), "token_uri"}};
  for (std::string field : {"client_id", "client_secret", "refresh_token"}) {
    json::object missing = json::parse(authorized_user_json("https://o/token")).as_object();
    missing.erase(field);
    cases.push_back({json::serialize(missing), "\"" + field + "\""});
  }
  json::object empty_token = json::parse(authorized_user_json("https://o/token")).as_object();
  empty_token["refresh_token"] = "";
  cases.push_back({json::serialize(empty_token), "\"refresh_token\""});
  for (const auto& c : cases) {
    auto bad = auth::parse_authorized_user(c.json, origin);
    BOOST_REQUIRE_MESSAGE(!bad.has_value(), "accepted: " << c.json.substr(0, 60));
    const std::string& message = bad.error().message;
    BOOST_TEST(message.find(origin) != std::string::npos, message);
    BOOST_TEST(message.find(c.expect) != std::string::npos, message);
    BOOST_TEST(message.find("gcloud auth application-default login") != std::string::npos, message);
    BOOST_TEST(!holds_user_secret(message), "a secret in: " << message);
  }
}

BOOST_AUTO_TEST_CASE(refresh_grant_form_is_percent_encoded) {
  auth::AuthorizedUser user{.client_id = "id.apps",
                            .client_secret = "a b&c=d+e",
                            .refresh_token = "1//x/y",
                            .token_uri = "https://o/token",
                            .origin = "f"};
  BOOST_TEST(auth::refresh_grant_form(user) ==
             "grant_type=refresh_token&client_id=id.apps&client_secret=a%20b%26c%3Dd%2Be"
             "&refresh_token=1%2F%2Fx%2Fy");
}

BOOST_AUTO_TEST_CASE(credentials_files_are_told_apart_by_type) {
  const std::string origin = "/etc/creds.json (GOOGLE_APPLICATION_CREDENTIALS)";
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());

  auto key = auth::make_file_credentials(
      client, service_account_json("https://o/token", KeyPair::shared().private_pem), origin);
  BOOST_REQUIRE_MESSAGE(key.has_value(), (key ? "" : key.error().message));
  BOOST_TEST((*key)->description() ==
             "service account kettle@kettle-test.iam.gserviceaccount.com from " + origin);

  auto user = auth::make_file_credentials(client, authorized_user_json("https://o/token"), origin);
  BOOST_REQUIRE_MESSAGE(user.has_value(), (user ? "" : user.error().message));
  BOOST_TEST((*user)->description() == "authorized_user from " + origin);
  BOOST_TEST(!holds_user_secret((*user)->description()));

  json::object external = json::parse(authorized_user_json("https://o/token")).as_object();
  external["type"] = "external_account";
  struct Case {
    std::string json;
    std::string expect;
  };
  for (const Case& c : {Case{json::serialize(external), "type \"external_account\""},
                        Case{"not json", "not valid JSON"}, Case{"[]", "not a JSON object"},
                        Case{R"({"client_id": "x"})", "no \"type\""}}) {
    auto bad = auth::make_file_credentials(client, c.json, origin);
    BOOST_REQUIRE(!bad.has_value());
    const std::string& message = bad.error().message;
    BOOST_TEST(message.find(origin) != std::string::npos, message);
    BOOST_TEST(message.find(c.expect) != std::string::npos, message);
    // What to do: the two kinds that work.
    BOOST_TEST(message.find("\"service_account\"") != std::string::npos, message);
    BOOST_TEST(message.find("\"authorized_user\"") != std::string::npos, message);
    BOOST_TEST(!holds_user_secret(message), "a secret in: " << message);
  }

  // The parser of the type reports what is wrong inside.
  json::object no_token = json::parse(authorized_user_json("https://o/token")).as_object();
  no_token.erase("refresh_token");
  auto incomplete = auth::make_file_credentials(client, json::serialize(no_token), origin);
  BOOST_REQUIRE(!incomplete.has_value());
  BOOST_TEST(incomplete.error().message.find("\"refresh_token\"") != std::string::npos);
  BOOST_TEST(!holds_user_secret(incomplete.error().message));
}

BOOST_AUTO_TEST_CASE(metadata_hosts_become_base_urls) {
  BOOST_TEST(auth::metadata_base_url("metadata.google.internal").value() ==
             "http://metadata.google.internal");
  BOOST_TEST(auth::metadata_base_url("127.0.0.1:8080").value() == "http://127.0.0.1:8080");
  BOOST_TEST(auth::metadata_base_url("http://127.0.0.1:8080/").value() == "http://127.0.0.1:8080");
  BOOST_TEST(!auth::metadata_base_url("").has_value());
  BOOST_TEST(!auth::metadata_base_url("host:notaport").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------- against fakegcp

BOOST_AUTO_TEST_SUITE(auth_with_fakegcp)

BOOST_AUTO_TEST_CASE(key_file_credentials_authorize_gcs_reads) {
  FakeGcp fake({"--require-auth"});
  fs::path key_file = fake.write_key_file();
  auth::Config config = test_config();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto env = environment({{"GOOGLE_APPLICATION_CREDENTIALS", key_file.string()}});
    auto made = co_await auth::make_default_credentials(client, env, config);
    BOOST_REQUIRE_MESSAGE(made.has_value(), (made ? "" : made.error().message));
    auto credentials = *made;
    BOOST_TEST(credentials->description().find("kettle@kettle-test.iam.gserviceaccount.com") !=
               std::string::npos);

    net::Request plain(fake.object_url());
    auto anonymous = co_await client.request(std::move(plain));
    BOOST_REQUIRE(anonymous.has_value());
    BOOST_TEST(anonymous->status == 401);  // the fake really checks

    auto response = co_await get_with(client, credentials, fake.object_url());
    BOOST_REQUIRE_MESSAGE(response.has_value(), (response ? "" : response.error().what()));
    BOOST_TEST(response->status == 200);
    BOOST_TEST(response->body == FakeGcp::kContent);

    // The cached token serves later requests without another exchange.
    auto again = co_await get_with(client, credentials, fake.object_url());
    BOOST_REQUIRE(again.has_value());
    BOOST_TEST(again->status == 200);
    auto exchanges = co_await served(client, fake, "oauth.token");
    BOOST_TEST(exchanges == 1u);
  });
}

BOOST_AUTO_TEST_CASE(token_is_refreshed_when_it_expires) {
  FakeGcp fake({"--require-auth", "--token-ttl", "2"});
  ManualClock clock;
  auth::Config config = test_config();
  config.clock = clock.function();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto credentials = key_credentials(client, fake, config);

    std::string first = co_await bearer_of(*credentials);
    auto again = co_await bearer_of(*credentials);
    BOOST_TEST(again == first);  // within its first half-life: cached
    auto exchanges_before = co_await served(client, fake, "oauth.token");
    BOOST_TEST(exchanges_before == 1u);

    clock.now += 3s;  // past expires_in = 2
    std::string second = co_await bearer_of(*credentials);
    BOOST_TEST(second != first);
    auto exchanges_after = co_await served(client, fake, "oauth.token");
    BOOST_TEST(exchanges_after == 2u);

    auto response = co_await get_with(client, credentials, fake.object_url());
    BOOST_REQUIRE(response.has_value());
    BOOST_TEST(response->status == 200);
  });
}

BOOST_AUTO_TEST_CASE(a_failed_early_refresh_keeps_the_unexpired_token) {
  FakeGcp fake;
  ManualClock clock;
  auth::Config config = test_config();
  config.clock = clock.function();
  config.token_attempts = 1;
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto credentials = key_credentials(client, fake, config);
    std::string token = co_await bearer_of(*credentials);
    fake.stop();  // the token endpoint is gone from now on

    clock.now += 3400s;  // past the refresh time (expiry - 5 min), before expiry
    auto kept = co_await credentials->authorization();
    BOOST_REQUIRE(kept.has_value());
    BOOST_TEST(kept->value_or("") == token);

    clock.now += 300s;  // expired: nothing left to fall back on
    auto expired = co_await credentials->authorization();
    BOOST_REQUIRE(!expired.has_value());
    BOOST_TEST((expired.error().kind == net::ErrorKind::connect));
  });
}

BOOST_AUTO_TEST_CASE(concurrent_callers_share_one_refresh) {
  FakeGcp fake;
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto credentials = key_credentials(client, fake, test_config());

    constexpr int kCallers = 8;
    std::vector<std::string> seen;
    int done = 0;
    asio::steady_timer all_done(ioc, asio::steady_timer::time_point::max());
    for (int i = 0; i < kCallers; ++i) {
      asio::co_spawn(
          ioc,
          [&]() -> asio::awaitable<void> {
            seen.push_back(co_await bearer_of(*credentials));
            if (++done == kCallers) all_done.cancel();
          },
          asio::detached);
    }
    boost::system::error_code woken;
    co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, woken));
    BOOST_REQUIRE_EQUAL(seen.size(), static_cast<std::size_t>(kCallers));
    for (const auto& header : seen) BOOST_TEST(header == seen.front());
    auto exchanges = co_await served(client, fake, "oauth.token");
    BOOST_TEST(exchanges == 1u);
  });
}

BOOST_AUTO_TEST_CASE(a_401_refreshes_the_token_and_resends_once) {
  FakeGcp fake({"--require-auth"});
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto credentials = key_credentials(client, fake, test_config());
    std::string before = co_await bearer_of(*credentials);
    auto ok = co_await get_with(client, credentials, fake.object_url());
    BOOST_REQUIRE(ok.has_value());
    BOOST_TEST(ok->status == 200);

    co_await revoke_tokens(client, fake);  // the cached token is now refused with 401
    auto response = co_await get_with(client, credentials, fake.object_url());
    BOOST_REQUIRE_MESSAGE(response.has_value(), (response ? "" : response.error().what()));
    BOOST_TEST(response->status == 200);
    BOOST_TEST(response->body == FakeGcp::kContent);
    auto exchanges = co_await served(client, fake, "oauth.token");
    BOOST_TEST(exchanges == 2u);
    auto after = co_await bearer_of(*credentials);
    BOOST_TEST(after != before);
  });
}

BOOST_AUTO_TEST_CASE(a_request_holding_a_replaced_token_reuses_the_new_one) {
  FakeGcp fake({"--require-auth"});
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto credentials = key_credentials(client, fake, test_config());
    // Two requests prepared with the same token, which is then revoked.
    net::Request first(fake.object_url());
    net::Request second(fake.object_url());
    auto applied_first = co_await auth::apply_credentials(credentials, first);
    BOOST_REQUIRE(applied_first);
    auto applied_second = co_await auth::apply_credentials(credentials, second);
    BOOST_REQUIRE(applied_second);
    co_await revoke_tokens(client, fake);

    auto a = co_await client.request(std::move(first));
    auto b = co_await client.request(std::move(second));
    BOOST_REQUIRE(a.has_value() && b.has_value());
    BOOST_TEST(a->status == 200);
    BOOST_TEST(b->status == 200);
    // The second 401 found the token already replaced: no further exchange.
    auto exchanges = co_await served(client, fake, "oauth.token");
    BOOST_TEST(exchanges == 2u);
  });
}

BOOST_AUTO_TEST_CASE(metadata_server_from_gce_metadata_host) {
  FakeGcp fake({"--require-auth"});
  auth::Config config = test_config();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    for (std::string variable : {"GCE_METADATA_HOST", "GCE_METADATA_ROOT"}) {
      auto env = environment({{variable, fake.host_port()}});
      auto made = co_await auth::make_default_credentials(client, env, config);
      BOOST_REQUIRE_MESSAGE(made.has_value(), (made ? "" : made.error().message));
      BOOST_TEST((*made)->description().find("metadata server at " + fake.base_url()) !=
                 std::string::npos);
      auto response = co_await get_with(client, *made, fake.object_url());
      BOOST_REQUIRE_MESSAGE(response.has_value(), (response ? "" : response.error().what()));
      BOOST_TEST(response->status == 200);
    }
    auto metadata_requests = co_await served(client, fake, "metadata");
    BOOST_TEST(metadata_requests == 2u);
  });
}

BOOST_AUTO_TEST_CASE(default_metadata_host_is_used_when_it_answers_the_probe) {
  FakeGcp fake;
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auth::Config config;
    config.default_metadata_host = fake.host_port();
    auto env = environment({});
    auto made = co_await auth::make_default_credentials(client, env, config);
    BOOST_REQUIRE(made.has_value());
    BOOST_TEST((*made)->description().find("metadata server") != std::string::npos);
    auto header = co_await bearer_of(**made);
    BOOST_TEST(header.size() > 7u);
  });
}

BOOST_AUTO_TEST_CASE(anonymous_when_nothing_is_configured_and_no_metadata_server_answers) {
  auth::Config config = test_config();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    // Empty variables count as unset.
    auto env = environment({{"GOOGLE_APPLICATION_CREDENTIALS", ""}, {"GCE_METADATA_HOST", ""}});
    auto made = co_await auth::make_default_credentials(client, env, config);
    BOOST_REQUIRE(made.has_value());
    BOOST_TEST((*made)->description() == "anonymous");
    auto header = co_await (*made)->authorization();
    BOOST_REQUIRE(header.has_value());
    BOOST_TEST(!header->has_value());

    net::Request request("http://127.0.0.1:1/x");
    auto applied = co_await auth::apply_credentials(*made, request);
    BOOST_REQUIRE(applied);
    BOOST_TEST(!request.headers.contains("Authorization"));
    BOOST_TEST(!request.on_unauthorized);
  });
}

BOOST_AUTO_TEST_CASE(a_bad_key_file_is_an_error_not_a_fallback) {
  TempDir dir;
  fs::path garbage = dir.path() / "garbage.json";
  write_file(garbage, "<html><body>Sign in</body></html>");
  auth::Config config = test_config();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    for (fs::path path : {garbage, dir.path() / "absent.json"}) {
      // A metadata host is configured too: still no silent fallback to it.
      auto env = environment({{"GOOGLE_APPLICATION_CREDENTIALS", path.string()},
                              {"GCE_METADATA_HOST", "127.0.0.1:1"}});
      auto made = co_await auth::make_default_credentials(client, env, config);
      BOOST_REQUIRE(!made.has_value());
      BOOST_TEST(made.error().message.find(path.string()) != std::string::npos,
                 made.error().message);
      BOOST_TEST(made.error().message.find("GOOGLE_APPLICATION_CREDENTIALS") != std::string::npos);
    }
    auto bad_env = environment({{"GCE_METADATA_HOST", "a:b:c"}});
    auto bad_host = co_await auth::make_default_credentials(client, bad_env, config);
    BOOST_REQUIRE(!bad_host.has_value());
    BOOST_TEST(bad_host.error().message.find("GCE_METADATA_HOST") != std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(a_refused_assertion_is_an_error_with_the_servers_reason) {
  FakeGcp fake({"--require-auth"});
  KeyPair other = KeyPair::generate();  // the fake knows only the shared key's public half
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto key = auth::load_service_account_key(fake.write_key_file(other.private_pem).string());
    BOOST_REQUIRE(key.has_value());
    auto credentials =
        auth::make_service_account_credentials(client, std::move(*key), test_config());
    auto header = co_await credentials->authorization();
    BOOST_REQUIRE(!header.has_value());
    BOOST_TEST(header.error().status == 400);
    BOOST_TEST(header.error().url == fake.token_uri());
    BOOST_TEST(header.error().what().find("invalid_grant") != std::string::npos,
               header.error().what());

    net::Request request(fake.object_url());
    auto applied = co_await auth::apply_credentials(credentials, request);
    BOOST_TEST(!applied);
  });
}

BOOST_AUTO_TEST_CASE(unreachable_token_endpoint_is_an_error) {
  TempDir dir;
  fs::path key_file = dir.path() / "key.json";
  write_file(key_file,
             service_account_json("http://127.0.0.1:" + std::to_string(closed_port()) + "/token",
                                  KeyPair::shared().private_pem));
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto key = auth::load_service_account_key(key_file.string());
    BOOST_REQUIRE(key.has_value());
    auth::Config config = test_config();
    config.token_attempts = 1;
    auto credentials = auth::make_service_account_credentials(client, std::move(*key), config);
    auto header = co_await credentials->authorization();
    BOOST_REQUIRE(!header.has_value());
    BOOST_TEST((header.error().kind == net::ErrorKind::connect));
  });
}

BOOST_AUTO_TEST_CASE(logs_name_the_source_but_never_a_secret) {
  FakeGcp fake({"--require-auth", "--token-ttl", "2"});
  fs::path key_file = fake.write_key_file();
  ManualClock clock;
  auth::Config config = test_config();
  config.clock = clock.function();
  std::vector<std::string> secrets;
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  kettle::obs::set_verbose(true);
  StderrCapture capture(fake.dir() / "log.txt");
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto key = auth::load_service_account_key(key_file.string());
    BOOST_REQUIRE(key.has_value());
    secrets.push_back(auth::make_service_account_assertion(*key, config).value());

    auto key_env = environment({{"GOOGLE_APPLICATION_CREDENTIALS", key_file.string()}});
    auto made = co_await auth::make_default_credentials(client, key_env, config);
    BOOST_REQUIRE(made.has_value());
    secrets.push_back(co_await bearer_of(**made));
    co_await revoke_tokens(client, fake);
    auto response = co_await get_with(client, *made, fake.object_url());  // 401, refresh, resend
    BOOST_REQUIRE(response.has_value());
    BOOST_TEST(response->status == 200);
    secrets.push_back(co_await bearer_of(**made));
    clock.now += 3s;  // expiry refresh
    secrets.push_back(co_await bearer_of(**made));

    auto metadata_env = environment({{"GCE_METADATA_HOST", fake.host_port()}});
    auto metadata = co_await auth::make_default_credentials(client, metadata_env, config);
    BOOST_REQUIRE(metadata.has_value());
    secrets.push_back(co_await bearer_of(**metadata));
  });
  std::string log = capture.stop();
  kettle::obs::set_verbose(false);

  BOOST_TEST(log.find("auth: using service account kettle@kettle-test.iam.gserviceaccount.com") !=
                 std::string::npos,
             log);
  BOOST_TEST(log.find("auth: using the metadata server") != std::string::npos, log);
  BOOST_TEST(log.find("auth: new access token") != std::string::npos,
             log);  // verbose lines were captured
  for (std::string secret : secrets) {
    if (secret.starts_with("Bearer ")) secret.erase(0, 7);
    BOOST_REQUIRE(secret.size() > 10u);
    BOOST_TEST(log.find(secret) == std::string::npos, "a secret was logged");
  }
  // Nor any part of the private key.
  std::string pem = KeyPair::shared().private_pem;
  std::string key_line = pem.substr(pem.find('\n') + 1, 64);
  BOOST_TEST(log.find(key_line) == std::string::npos, "private key material was logged");
  BOOST_TEST(log.find("PRIVATE KEY") == std::string::npos);
}

// ---------------------------------------------------------------- user credentials and order

// Not the one the fake accepts (kRefreshToken).
constexpr const char* kRevokedRefreshToken = "1//0gRevokedKettleRefreshToken-Qm4Xy7Zb2Vn";

BOOST_AUTO_TEST_CASE(authorized_user_file_gets_a_token_that_authorizes_gcs_reads) {
  FakeGcp fake(user_grant_args({"--require-auth"}));
  fs::path user_file = fake.write_user_file(fake.dir() / "user.json");
  auth::Config config = test_config();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto env = environment({{"GOOGLE_APPLICATION_CREDENTIALS", user_file.string()}});
    auto made = co_await auth::make_default_credentials(client, env, config);
    BOOST_REQUIRE_MESSAGE(made.has_value(), (made ? "" : made.error().message));
    auto credentials = *made;
    BOOST_TEST(credentials->description() ==
               "authorized_user from " + user_file.string() + " (GOOGLE_APPLICATION_CREDENTIALS)");

    std::string header = co_await bearer_of(*credentials);  // "Bearer <fake token>"
    BOOST_TEST(header.starts_with("Bearer ya29.fake-"));
    auto response = co_await get_with(client, credentials, fake.object_url());
    BOOST_REQUIRE_MESSAGE(response.has_value(), (response ? "" : response.error().what()));
    BOOST_TEST(response->status == 200);  // the fake accepted the Bearer token
    BOOST_TEST(response->body == FakeGcp::kContent);
    auto exchanges = co_await served(client, fake, "oauth.token");
    BOOST_TEST(exchanges == 1u);  // cached for the request
  });
}

BOOST_AUTO_TEST_CASE(authorized_user_token_is_refreshed_on_expiry_and_on_401) {
  FakeGcp fake(user_grant_args({"--require-auth"}));
  fs::path user_file = fake.write_user_file(fake.dir() / "user.json");
  ManualClock clock;
  auth::Config config = test_config();
  config.clock = clock.function();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto env = environment({{"GOOGLE_APPLICATION_CREDENTIALS", user_file.string()}});
    auto made = co_await auth::make_default_credentials(client, env, config);
    BOOST_REQUIRE(made.has_value());
    auto credentials = *made;

    std::string first = co_await bearer_of(*credentials);
    std::string cached = co_await bearer_of(*credentials);
    BOOST_TEST(cached == first);

    co_await revoke_tokens(client, fake);  // refused with 401 from now on
    auto response = co_await get_with(client, credentials, fake.object_url());
    BOOST_REQUIRE_MESSAGE(response.has_value(), (response ? "" : response.error().what()));
    BOOST_TEST(response->status == 200);
    std::string second = co_await bearer_of(*credentials);
    BOOST_TEST(second != first);
    auto after_401 = co_await served(client, fake, "oauth.token");
    BOOST_TEST(after_401 == 2u);

    clock.now += 3601s;  // past expires_in as the client sees it; the fake keeps real time
    std::string third = co_await bearer_of(*credentials);
    BOOST_TEST(third != second);
    auto after_expiry = co_await served(client, fake, "oauth.token");
    BOOST_TEST(after_expiry == 3u);
  });
}

BOOST_AUTO_TEST_CASE(well_known_file_is_found_through_cloudsdk_config_and_home) {
  FakeGcp fake(user_grant_args({"--require-auth"}));
  TempDir dir;
  fs::path config_dir = dir.path() / "gcloud-config";
  fs::path home = dir.path() / "home";
  fs::path via_config = fake.write_user_file(config_dir / kWellKnownName);
  fs::path via_home = fake.write_user_file(home / ".config" / "gcloud" / kWellKnownName);
  auth::Config config = test_config();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    struct Case {
      std::map<std::string, std::string> variables;
      fs::path expected;
    };
    std::vector<Case> cases{
        {{{"CLOUDSDK_CONFIG", config_dir.string()}, {"HOME", home.string()}}, via_config},
        {{{"HOME", home.string()}}, via_home},
        {{{"CLOUDSDK_CONFIG", ""}, {"HOME", home.string()}}, via_home},  // empty is unset
    };
    for (const Case& c : cases) {
      auto env = environment(c.variables);
      auto made = co_await auth::make_default_credentials(client, env, config);
      BOOST_REQUIRE_MESSAGE(made.has_value(), (made ? "" : made.error().message));
      std::string description = (*made)->description();
      BOOST_TEST(description.starts_with("authorized_user from " + c.expected.string() +
                                         " (gcloud's well-known file"),
                 description);
      auto response = co_await get_with(client, *made, fake.object_url());
      BOOST_REQUIRE_MESSAGE(response.has_value(), (response ? "" : response.error().what()));
      BOOST_TEST(response->status == 200);
    }

    // CLOUDSDK_CONFIG replaces gcloud's directory: HOME's file is not looked at.
    auto elsewhere = environment(
        {{"CLOUDSDK_CONFIG", (dir.path() / "empty").string()}, {"HOME", home.string()}});
    auto made = co_await auth::make_default_credentials(client, elsewhere, config);
    BOOST_REQUIRE(made.has_value());
    BOOST_TEST((*made)->description() == "anonymous");

    // Without HOME (and CLOUDSDK_CONFIG) there is no well-known file to look for.
    auto bare = environment({});
    auto none = co_await auth::make_default_credentials(client, bare, config);
    BOOST_REQUIRE(none.has_value());
    BOOST_TEST((*none)->description() == "anonymous");
  });
}

BOOST_AUTO_TEST_CASE(a_service_account_key_in_the_well_known_file_is_accepted) {
  FakeGcp fake({"--require-auth"});
  TempDir home;
  write_file(home.path() / ".config" / "gcloud" / kWellKnownName,
             service_account_json(fake.token_uri(), KeyPair::shared().private_pem));
  auth::Config config = test_config();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto env = environment({{"HOME", home.path().string()}});
    auto made = co_await auth::make_default_credentials(client, env, config);
    BOOST_REQUIRE_MESSAGE(made.has_value(), (made ? "" : made.error().message));
    BOOST_TEST((*made)->description().starts_with(
        "service account kettle@kettle-test.iam.gserviceaccount.com from " +
        (home.path() / ".config" / "gcloud" / kWellKnownName).string()));
    auto response = co_await get_with(client, *made, fake.object_url());
    BOOST_REQUIRE(response.has_value());
    BOOST_TEST(response->status == 200);
  });
}

BOOST_AUTO_TEST_CASE(google_application_credentials_wins_over_the_well_known_file) {
  FakeGcp fake(user_grant_args({"--require-auth"}));
  fs::path key_file = fake.write_key_file();
  TempDir home;
  fake.write_user_file(home.path() / ".config" / "gcloud" / kWellKnownName);
  auth::Config config = test_config();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto env = environment({{"GOOGLE_APPLICATION_CREDENTIALS", key_file.string()},
                            {"HOME", home.path().string()},
                            {"GCE_METADATA_HOST", fake.host_port()}});
    auto made = co_await auth::make_default_credentials(client, env, config);
    BOOST_REQUIRE_MESSAGE(made.has_value(), (made ? "" : made.error().message));
    BOOST_TEST((*made)->description() ==
               "service account kettle@kettle-test.iam.gserviceaccount.com from " +
                   key_file.string() + " (GOOGLE_APPLICATION_CREDENTIALS)");
    auto response = co_await get_with(client, *made, fake.object_url());
    BOOST_REQUIRE(response.has_value());
    BOOST_TEST(response->status == 200);
  });
}

BOOST_AUTO_TEST_CASE(the_well_known_file_wins_over_the_metadata_server) {
  FakeGcp fake(user_grant_args({"--require-auth"}));
  TempDir home;
  fake.write_user_file(home.path() / ".config" / "gcloud" / kWellKnownName);
  auth::Config config;
  config.default_metadata_host = fake.host_port();  // would answer the probe
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto env =
        environment({{"HOME", home.path().string()}, {"GCE_METADATA_HOST", fake.host_port()}});
    auto made = co_await auth::make_default_credentials(client, env, config);
    BOOST_REQUIRE_MESSAGE(made.has_value(), (made ? "" : made.error().message));
    BOOST_TEST((*made)->description().starts_with("authorized_user from "));
    auto response = co_await get_with(client, *made, fake.object_url());
    BOOST_REQUIRE(response.has_value());
    BOOST_TEST(response->status == 200);
    auto metadata_requests = co_await served(client, fake, "metadata");
    BOOST_TEST(metadata_requests == 0u);  // not even probed
    auto exchanges = co_await served(client, fake, "oauth.token");
    BOOST_TEST(exchanges == 1u);
  });
}

BOOST_AUTO_TEST_CASE(a_refused_refresh_token_is_a_clear_error_without_secrets) {
  FakeGcp fake(user_grant_args({"--require-auth"}));
  // The same client with a secret the fake does not know.
  FakeGcp other_client({"--client-secret", "another-client-secret-entirely"});
  fs::path revoked = fake.write_user_file(fake.dir() / "revoked.json", kRevokedRefreshToken);
  fs::path wrong_client = other_client.write_user_file(other_client.dir() / "user.json");
  auth::Config config = test_config();
  config.token_attempts = 1;
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    struct Case {
      fs::path file;
      int status;
      std::string reason;  // the server's words, quoted in the error
    };
    // Named, not a braced list: g++ 12 mishandles temporaries held across co_await.
    std::vector<Case> cases{{revoked, 400, "invalid_grant: Token has been expired or revoked"},
                            {wrong_client, 401, "invalid_client"}};
    for (const Case& c : cases) {
      auto env = environment({{"GOOGLE_APPLICATION_CREDENTIALS", c.file.string()}});
      auto made = co_await auth::make_default_credentials(client, env, config);
      BOOST_REQUIRE(made.has_value());  // the file is fine; the grant fails later
      auto header = co_await (*made)->authorization();
      BOOST_REQUIRE(!header.has_value());
      const net::Error& error = header.error();
      BOOST_TEST(error.status == c.status);
      std::string text = error.what();
      BOOST_TEST(text.find(c.reason) != std::string::npos, text);
      BOOST_TEST(text.find(c.file.string()) != std::string::npos, text);
      BOOST_TEST(text.find("gcloud auth application-default login") != std::string::npos, text);
      BOOST_TEST(!holds_user_secret(text), "a secret in: " << text);
      BOOST_TEST(text.find(kRevokedRefreshToken) == std::string::npos, "a secret in: " << text);

      net::Request request(fake.object_url());
      auto applied = co_await auth::apply_credentials(*made, request);
      BOOST_TEST(!applied);
      BOOST_TEST(!request.headers.contains("Authorization"));
    }
  });
}

BOOST_AUTO_TEST_CASE(a_bad_credentials_file_is_an_error_not_a_fallback) {
  FakeGcp fake;
  TempDir dir;
  json::object external = json::parse(authorized_user_json(fake.token_uri())).as_object();
  external["type"] = "external_account";
  fs::path unknown = dir.path() / "external.json";
  write_file(unknown, json::serialize(external));
  json::object incomplete = json::parse(authorized_user_json(fake.token_uri())).as_object();
  incomplete.erase("client_id");
  fs::path home = dir.path() / "home";
  fs::path well_known = home / ".config" / "gcloud" / kWellKnownName;
  auth::Config config = test_config();
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  run(ioc, client, [&]() -> asio::awaitable<void> {
    // A metadata server is configured each time: still no silent fallback to it.
    auto gac = environment({{"GOOGLE_APPLICATION_CREDENTIALS", unknown.string()},
                            {"GCE_METADATA_HOST", fake.host_port()}});
    auto made = co_await auth::make_default_credentials(client, gac, config);
    BOOST_REQUIRE(!made.has_value());
    std::string message = made.error().message;
    BOOST_TEST(
        message.find(unknown.string() + " (GOOGLE_APPLICATION_CREDENTIALS)") != std::string::npos,
        message);
    BOOST_TEST(message.find("type \"external_account\" is not supported") != std::string::npos,
               message);
    BOOST_TEST(message.find("gcloud auth application-default login") != std::string::npos);
    BOOST_TEST(!holds_user_secret(message), "a secret in: " << message);

    struct Case {
      std::string content;  // empty: a directory where the file should be
      std::string expect;
    };
    std::vector<Case> cases{{json::serialize(external), "external_account"},
                            {json::serialize(incomplete), "no \"client_id\" field"},
                            {"", "is a directory"}};
    for (const Case& c : cases) {
      std::error_code ignored;
      fs::remove_all(well_known, ignored);
      if (c.content.empty())
        fs::create_directories(well_known);
      else
        write_file(well_known, c.content);
      auto env = environment({{"HOME", home.string()}, {"GCE_METADATA_HOST", fake.host_port()}});
      auto bad = co_await auth::make_default_credentials(client, env, config);
      BOOST_REQUIRE(!bad.has_value());
      const std::string& text = bad.error().message;
      BOOST_TEST(
          text.find(well_known.string() + " (gcloud's well-known file)") != std::string::npos,
          text);
      BOOST_TEST(text.find(c.expect) != std::string::npos, text);
      BOOST_TEST(text.find("gcloud auth application-default login") != std::string::npos, text);
      BOOST_TEST(!holds_user_secret(text), "a secret in: " << text);
    }
    auto metadata_requests = co_await served(client, fake, "metadata");
    BOOST_TEST(metadata_requests == 0u);
  });
}

BOOST_AUTO_TEST_CASE(user_credentials_log_their_file_but_never_a_secret) {
  FakeGcp fake(user_grant_args({"--require-auth"}));
  TempDir home;
  fs::path well_known = fake.write_user_file(home.path() / ".config" / "gcloud" / kWellKnownName);
  auth::Config config = test_config();
  std::vector<std::string> tokens;
  asio::io_context ioc;
  net::HttpClient client(ioc.get_executor(), quick_config());
  kettle::obs::set_verbose(true);
  StderrCapture capture(fake.dir() / "log.txt");
  run(ioc, client, [&]() -> asio::awaitable<void> {
    auto env = environment({{"HOME", home.path().string()}});
    auto made = co_await auth::make_default_credentials(client, env, config);
    BOOST_REQUIRE(made.has_value());
    tokens.push_back(co_await bearer_of(**made));
    co_await revoke_tokens(client, fake);
    auto response = co_await get_with(client, *made, fake.object_url());  // 401, refresh, resend
    BOOST_REQUIRE(response.has_value());
    BOOST_TEST(response->status == 200);
    tokens.push_back(co_await bearer_of(**made));
  });
  std::string log = capture.stop();
  kettle::obs::set_verbose(false);

  BOOST_TEST(log.find("auth: using authorized_user from " + well_known.string() +
                      " (gcloud's well-known file)") != std::string::npos,
             log);
  BOOST_TEST(log.find("auth: new access token") != std::string::npos, log);
  BOOST_TEST(!holds_user_secret(log), "a secret was logged");
  for (std::string token : tokens) {
    token.erase(0, std::string("Bearer ").size());
    BOOST_REQUIRE(token.size() > 10u);
    BOOST_TEST(log.find(token) == std::string::npos, "an access token was logged");
  }
}

BOOST_AUTO_TEST_SUITE_END()

// A token endpoint scripted in the test: what it answers and how often it
// was asked, counted on the server side.
BOOST_AUTO_TEST_SUITE(auth_with_scripted_endpoint)

using test_support::Reply;
using test_support::Seen;

// Runs `body` with `server` and `client` on `ioc`, stopping both after it.
void run_scripted(asio::io_context& ioc, test_support::ScriptedServer& server, net::HttpClient& client,
                  std::function<asio::awaitable<void>()> body) {
  std::exception_ptr failure;
  bool finished = test_support::run_with_watchdog(ioc, body, [&] {
    server.stop();
    client.stop();
  }, failure);
  BOOST_REQUIRE_MESSAGE(finished, "the test did not finish before its watchdog");
  if (failure) std::rethrow_exception(failure);
}

net::Config with_attempts(int max_attempts) {
  net::Config config = test_support::quick_net_config();
  config.retry.max_attempts = max_attempts;
  return config;
}

BOOST_AUTO_TEST_CASE(a_token_endpoint_echoing_the_assertion_does_not_get_it_into_errors_or_logs) {
  asio::io_context ioc;
  // Puts the signed assertion it was sent into its error_description.
  test_support::ScriptedServer server(ioc, [](const Seen& seen, int) {
    std::string assertion = seen.body.substr(seen.body.find("assertion=") + 10);
    json::object answer{{"error", "invalid_grant"},
                        {"error_description", "Invalid JWT: " + assertion + " is not valid"}};
    return Reply{.status = 400, .body = json::serialize(answer)};
  });
  net::HttpClient client(ioc.get_executor(), test_support::quick_net_config());
  test_support::StderrCapture capture;
  run_scripted(ioc, server, client, [&]() -> asio::awaitable<void> {
    auto key = auth::parse_service_account_key(
        service_account_json(server.base_url() + "/token", KeyPair::shared().private_pem), "key.json");
    BOOST_REQUIRE(key.has_value());
    auto credentials = auth::make_service_account_credentials(client, std::move(*key), test_config());
    auto header = co_await credentials->authorization();
    BOOST_REQUIRE(!header.has_value());
    KLOG(error) << "token refused: " << header.error().what();
    std::string text = header.error().what();
    BOOST_TEST(header.error().status == 400);
    BOOST_TEST(text.find("Invalid JWT: [redacted JWT] is not valid") != std::string::npos, text);
    BOOST_TEST(text.find("eyJ") == std::string::npos, text);
  });
  std::string log = capture.stop();
  BOOST_REQUIRE(server.seen.size() == 1u);
  const std::string& sent = server.seen[0].body;
  std::string assertion = sent.substr(sent.find("assertion=") + 10);
  BOOST_REQUIRE(assertion.starts_with("eyJ"));  // the echo really held a JWT
  std::string signature = assertion.substr(assertion.rfind('.') + 1);
  BOOST_TEST(log.find("[redacted JWT]") != std::string::npos, log);
  BOOST_TEST(log.find(signature) == std::string::npos, "the assertion's signature was logged");
}

BOOST_AUTO_TEST_CASE(token_requests_follow_the_clients_max_attempts) {
  struct Case {
    int client_attempts;
    int token_attempts;
    std::size_t expected;
  };
  // The client's --max-attempts bounds token requests; the auth limit still caps them.
  for (Case c : {Case{1, 5, 1}, Case{3, 5, 3}, Case{10, 2, 2}}) {
    for (std::string kind : {"service_account", "authorized_user", "metadata"}) {
      BOOST_TEST_CONTEXT(kind << " with max_attempts " << c.client_attempts << ", token_attempts "
                              << c.token_attempts) {
        asio::io_context ioc;
        // The body also checks that retry warnings quote the server redacted.
        test_support::ScriptedServer server(ioc, [](const Seen&, int) {
          return Reply{.status = 503,
                       .body = "busy, retry with eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"};
        });
        net::HttpClient client(ioc.get_executor(), with_attempts(c.client_attempts));
        auth::Config config = test_config();
        config.token_attempts = c.token_attempts;
        config.metadata_attempts = c.token_attempts;
        std::shared_ptr<auth::Credentials> credentials;
        std::string token_uri = server.base_url() + "/token";
        if (kind == "service_account") {
          auto key = auth::parse_service_account_key(
              service_account_json(token_uri, KeyPair::shared().private_pem), "key.json");
          BOOST_REQUIRE(key.has_value());
          credentials = auth::make_service_account_credentials(client, std::move(*key), config);
        } else if (kind == "authorized_user") {
          auto user = auth::parse_authorized_user(authorized_user_json(token_uri), "user.json");
          BOOST_REQUIRE(user.has_value());
          credentials = auth::make_authorized_user_credentials(client, std::move(*user), config);
        } else {
          credentials = auth::make_metadata_credentials(client, server.base_url(), config);
        }
        test_support::StderrCapture quiet;  // the retry warnings
        run_scripted(ioc, server, client, [&]() -> asio::awaitable<void> {
          auto header = co_await credentials->authorization();
          BOOST_REQUIRE(!header.has_value());
          BOOST_TEST(header.error().status == 503);
        });
        std::string log = quiet.stop();
        BOOST_TEST(server.seen.size() == c.expected);
        BOOST_TEST(log.find("c2lnbmF0dXJl") == std::string::npos, log);
        if (c.expected > 1) BOOST_TEST(log.find("busy, retry with [redacted JWT]") != std::string::npos, log);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(token_retry_keeps_the_clients_backoff_and_caps_its_attempts) {
  net::RetryConfig policy{.max_attempts = 7, .initial_backoff = 3ms, .max_backoff = 9ms, .max_total = 4s};
  net::RetryConfig capped = auth::token_retry(policy, 5);
  BOOST_TEST(capped.max_attempts == 5);
  BOOST_TEST((capped.initial_backoff == policy.initial_backoff));
  BOOST_TEST((capped.max_backoff == policy.max_backoff));
  BOOST_TEST((capped.max_total == policy.max_total));
  BOOST_TEST(auth::token_retry(policy, 9).max_attempts == 7);
}

BOOST_AUTO_TEST_SUITE_END()
