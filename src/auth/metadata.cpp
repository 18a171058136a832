#include "kettle/auth/metadata.hpp"

#include "kettle/auth/token_cache.hpp"
#include "kettle/auth/token_response.hpp"
#include "kettle/net/url.hpp"

namespace kettle::auth {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kProbePath = "/computeMetadata/v1/";
constexpr std::string_view kTokenPath =
    "/computeMetadata/v1/instance/service-accounts/default/token";

// Metadata servers refuse requests without it (a guard against SSRF) and
// put it on every answer, which tells them from other servers.
constexpr std::string_view kFlavorHeader = "Metadata-Flavor";
constexpr std::string_view kFlavor = "Google";

net::Request metadata_request(const std::string& url) {
  net::Request request(url);
  request.api = "metadata";
  request.headers.set(kFlavorHeader, kFlavor);
  return request;
}

class MetadataFetcher final : public TokenFetcher {
 public:
  MetadataFetcher(net::HttpClient& client, std::string base_url, Config config)
      : client_(client), base_url_(std::move(base_url)), config_(std::move(config)) {}

  asio::awaitable<net::Result<AccessToken>> fetch() override {
    std::string url = net::join_url(base_url_, kTokenPath);
    net::Request request = metadata_request(url);
    request.options.total_timeout = config_.metadata_timeout;
    request.options.retry = token_retry(client_.config().retry, config_.metadata_attempts);
    auto response = co_await client_.request(std::move(request));
    if (!response) co_return response.error();
    co_return parse_token_response(*response, url, now(config_), config_.default_lifetime);
  }

  std::string description() const override { return "metadata server at " + base_url_; }

 private:
  net::HttpClient& client_;
  std::string base_url_;
  Config config_;
};

}  // namespace

std::optional<std::string> metadata_base_url(std::string_view host) {
  return net::emulator_base_url(host);
}

asio::awaitable<bool> metadata_server_answers(net::HttpClient& client, std::string base_url,
                                              Config config) {
  net::Request request = metadata_request(net::join_url(base_url, kProbePath));
  request.options.total_timeout = config.probe_timeout;
  request.options.retry = net::RetryConfig{.max_attempts = 1};
  auto response = co_await client.request(std::move(request));
  co_return response && response->status == 200 && response->headers.get(kFlavorHeader) == kFlavor;
}

std::shared_ptr<Credentials> make_metadata_credentials(net::HttpClient& client,
                                                       std::string base_url, Config config) {
  auto fetcher = std::make_unique<MetadataFetcher>(client, std::move(base_url), config);
  return std::make_shared<CachedCredentials>(std::move(fetcher), std::move(config));
}

}  // namespace kettle::auth
