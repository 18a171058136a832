#include "kettle/gcs/client.hpp"

#include <boost/json.hpp>
#include <cstdlib>

#include "kettle/net/url.hpp"
#include "kettle/obs/log.hpp"

namespace kettle::gcs {
namespace json = boost::json;

std::optional<GsPath> GsPath::parse(std::string_view url) {
  if (url.substr(0, 5) != "gs://") return std::nullopt;
  url.remove_prefix(5);
  auto slash = url.find('/');
  GsPath p;
  p.bucket = std::string(url.substr(0, slash));
  if (p.bucket.empty()) return std::nullopt;
  if (slash != std::string_view::npos) p.name = std::string(url.substr(slash + 1));
  return p;
}

Endpoint endpoint_from_env() {
  return net::endpoint_from_env({"STORAGE_EMULATOR_HOST", "CLOUD_STORAGE_EMULATOR_ENDPOINT"},
                                "KETTLE_GCS_ENDPOINT", "https://storage.googleapis.com");
}

Client::Client(net::HttpClient& http, std::shared_ptr<auth::Credentials> credentials, ClientConfig config)
    : http_(http), credentials_(std::move(credentials)), config_(std::move(config)) {}

boost::asio::awaitable<net::Result<net::Response>> Client::send(net::Request request) {
  request.api = "gcs";
  if (credentials_) {
    auto applied = co_await auth::apply_credentials(credentials_, request);
    if (!applied) co_return applied.error();
  }
  co_return co_await http_.request(std::move(request));
}

namespace {

net::Error bad_response(const std::string& url, int status, std::string message) {
  net::Error e;
  e.kind = status >= 400 ? net::ErrorKind::http_status : net::ErrorKind::protocol;
  e.status = status;
  e.url = url;
  e.message = std::move(message);
  return e;
}

// Reads one listing page; the page token (empty when it was the last page) goes to `token`.
std::optional<std::string> parse_list_page(const std::string& body, ListPage& page, std::string& token) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) return "listing is not a JSON object";
  const auto& obj = doc.get_object();
  if (auto* prefixes = obj.if_contains("prefixes"); prefixes && prefixes->is_array()) {
    for (const auto& p : prefixes->get_array())
      if (p.is_string()) page.prefixes.emplace_back(p.get_string());
  }
  if (auto* items = obj.if_contains("items"); items && items->is_array()) {
    for (const auto& item : items->get_array()) {
      const auto* name = item.is_object() ? item.get_object().if_contains("name") : nullptr;
      if (name && name->is_string()) page.names.emplace_back(name->get_string());
    }
  }
  token.clear();
  if (auto* next = obj.if_contains("nextPageToken"); next && next->is_string()) token = next->get_string();
  return std::nullopt;
}

}  // namespace

boost::asio::awaitable<net::Result<void>> Client::list(const std::string& bucket, const std::string& prefix,
                                                       const std::string& delimiter,
                                                       std::function<bool(ListPage&&)> on_page) {
  std::string token;
  do {
    net::Query q;
    q.add_if("prefix", prefix).add_if("delimiter", delimiter).add("maxResults", std::to_string(config_.page_size));
    q.add("fields", "nextPageToken,prefixes,items(name)").add_if("pageToken", token);
    net::Request req;
    req.url = net::join_url(config_.base_url, "/storage/v1/b/" + net::encode_path_segment(bucket) + "/o" + q.str());
    req.options.body_limit = config_.listing_body_limit;
    req.options.accept_gzip = true;
    std::string url = req.url;
    auto resp = co_await send(std::move(req));
    if (!resp) co_return resp.error();
    if (resp->status != 200) {
      co_return bad_response(url, resp->status, "listing answered HTTP " + std::to_string(resp->status));
    }
    ListPage page;
    if (auto err = parse_list_page(resp->body, page, token)) co_return bad_response(url, 0, *err);
    if (!on_page(std::move(page))) break;
  } while (!token.empty());
  co_return net::Result<void>{};
}

boost::asio::awaitable<net::Result<std::vector<std::string>>> Client::list_dirs(const std::string& bucket,
                                                                                const std::string& prefix) {
  std::vector<std::string> dirs;
  // Named arguments: no temporaries inside a co_await expression (g++ 12).
  const std::string delimiter = "/";
  std::function<bool(ListPage&&)> on_page = [&dirs](ListPage&& page) {
    for (auto& p : page.prefixes) dirs.push_back(std::move(p));
    return true;
  };
  auto r = co_await list(bucket, prefix, delimiter, on_page);
  if (!r) co_return r.error();
  co_return dirs;
}

boost::asio::awaitable<net::Result<std::optional<std::string>>> Client::read(const std::string& bucket,
                                                                             const std::string& name) {
  net::Request req;
  req.url = net::join_url(config_.base_url, "/storage/v1/b/" + net::encode_path_segment(bucket) + "/o/" +
                                                net::encode_path_segment(name) + "?alt=media");
  req.options.body_limit = config_.object_body_limit;
  req.options.accept_gzip = true;
  std::string url = req.url;
  auto resp = co_await send(std::move(req));
  if (!resp) co_return resp.error();
  if (resp->status >= 200 && resp->status < 300) co_return std::optional<std::string>(std::move(resp->body));
  if (resp->status >= 400 && resp->status < 500) co_return std::optional<std::string>();
  co_return bad_response(url, resp->status,
                         "object read answered HTTP " + std::to_string(resp->status));
}

}  // namespace kettle::gcs
