#include "kettle/gcs/client.hpp"

#include <boost/json.hpp>
#include <cstdlib>
#include <unordered_set>

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

// True when `text` is well-formed UTF-8 (RFC 3629): no stray continuation
// bytes, no overlong forms, no surrogates, nothing past U+10FFFF.
bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // overlong below U+0800
      if (lead == 0xED) high = 0x9F;  // U+D800..U+DFFF are surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // overlong below U+10000
      if (lead == 0xF4) high = 0x8F;  // past U+10FFFF
    } else {
      return false;  // a continuation byte, C0/C1 (overlong) or F5..FF
    }
    if (text.size() - i < length) return false;
    const auto second = static_cast<unsigned char>(text[i + 1]);
    if (second < low || second > high) return false;
    for (size_t k = 2; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (next < 0x80 || next > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

// The code unit of the four hex digits at text[at], or -1.
int hex4(std::string_view text, size_t at) {
  if (text.size() < at + 4) return -1;
  int unit = 0;
  for (size_t k = at; k < at + 4; ++k) {
    const char c = text[k];
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) return -1;
    unit = unit * 16 + digit;
  }
  return unit;
}

// Boost.JSON refuses a whole document for one escaped lone surrogate
// ("\ud800" without its low half, or a stray "\udc00"), whatever its options.
// Rewrites each such escape, in place, into the three bytes WTF-8 gives that
// code unit (ED A0..BF 80..BF): they parse with allow_invalid_utf8, and
// is_valid_utf8 refuses them, so only the string holding one is dropped.
// Every backslash starts an escape (outside strings it is a syntax error
// either way), so "\\ud800" (an escaped backslash) is left alone.
void mark_lone_surrogates(std::string& body) {
  if (body.find("\\u") == std::string::npos) return;
  size_t out = 0;
  size_t in = 0;
  while (in < body.size()) {
    if (body[in] != '\\' || in + 1 == body.size()) {
      body[out++] = body[in++];
      continue;
    }
    const int unit = body[in + 1] == 'u' ? hex4(body, in + 2) : -1;
    size_t keep = 2;  // the backslash and the escaped character
    if (unit >= 0xD800 && unit <= 0xDBFF && body.compare(in + 6, 2, "\\u") == 0) {
      const int second = hex4(body, in + 8);
      if (second >= 0xDC00 && second <= 0xDFFF) keep = 12;  // a proper pair
    }
    if (unit >= 0xD800 && unit <= 0xDFFF && keep == 2) {
      body[out++] = static_cast<char>(0xED);
      body[out++] = static_cast<char>(0x80 | ((unit >> 6) & 0x3F));
      body[out++] = static_cast<char>(0x80 | (unit & 0x3F));
      in += 6;
      continue;
    }
    for (size_t k = 0; k < keep; ++k) body[out++] = body[in++];
  }
  body.resize(out);
}

// One listing's bookkeeping: what ends it (a repeated token, a cap) and the
// names skipped for bad UTF-8. `where` is gs://bucket/prefix, printable.
class ListingState {
 public:
  ListingState(const ClientConfig& config, std::string where, std::string url)
      : config_(config), where_(std::move(where)), url_(std::move(url)) {}

  ListingState(const ListingState&) = delete;
  ListingState& operator=(const ListingState&) = delete;

  // The one-line summary of skipped names past those logged one by one.
  ~ListingState() {
    if (invalid_names_ > config_.max_logged_invalid_names) {
      KLOG(warning) << "listing " << where_ << ": skipped " << invalid_names_
                    << " names in all that are not valid UTF-8";
    }
  }

  // Warns of names a page left out for not being UTF-8 (the first few by name).
  void skipped(const std::vector<std::string>& invalid_names) {
    for (const auto& name : invalid_names) {
      if (++invalid_names_ <= config_.max_logged_invalid_names) {
        KLOG(warning) << "listing " << where_
                      << ": skipped a name that is not valid UTF-8: " << obs::printable(name);
      }
    }
  }

  // Called once a page is parsed; an Error ends the listing.
  std::optional<net::Error> after_page(const ListPage& page, const std::string& token) {
    ++pages_;
    names_ += page.names.size() + page.prefixes.size();
    if (names_ > config_.max_listing_names) {
      return stop("more than " + std::to_string(config_.max_listing_names) +
                  " names, the limit (max_listing_names)");
    }
    if (token.empty()) return std::nullopt;
    if (token.size() > config_.max_page_token_bytes) {
      return stop("page " + std::to_string(pages_) + " answered a nextPageToken of " +
                  std::to_string(token.size()) + " bytes, over the limit of " +
                  std::to_string(config_.max_page_token_bytes) + " (max_page_token_bytes)");
    }
    if (pages_ >= config_.max_listing_pages) {
      return stop("more than " + std::to_string(config_.max_listing_pages) +
                  " pages, the limit (max_listing_pages)");
    }
    // Hashes, not the tokens: the set stays small whatever their size. A
    // false match among max_listing_pages honest tokens is ~1e-11 likely.
    if (!tokens_seen_.insert(std::hash<std::string>{}(token)).second) {
      return stop("page " + std::to_string(pages_) +
                  " answered a nextPageToken already seen in this listing: it would loop forever");
    }
    return std::nullopt;
  }

 private:
  net::Error stop(const std::string& why) const {
    return bad_response(url_, 0,
                        "listing " + where_ + ": " + why + "; stopped after " +
                            std::to_string(pages_) + " pages and " + std::to_string(names_) +
                            " names");
  }

  const ClientConfig& config_;
  std::string where_;
  std::string url_;  // the first page's: later ones carry a server-chosen token
  size_t pages_ = 0;
  size_t names_ = 0;
  size_t invalid_names_ = 0;
  std::unordered_set<size_t> tokens_seen_;
};

// Keeps `name` in `to` when it is valid UTF-8, else in `invalid`.
void add_name(const json::string& name, std::vector<std::string>& to,
              std::vector<std::string>& invalid) {
  const std::string_view text(name.data(), name.size());
  (is_valid_utf8(text) ? to : invalid).emplace_back(text);
}

}  // namespace

std::optional<ParsedListPage> parse_list_page(std::string body) {
  mark_lone_surrogates(body);
  json::parse_options options;
  // Checked name by name instead: one bad name must not hide its page.
  options.allow_invalid_utf8 = true;
  json::error_code ec;
  json::value doc = json::parse(body, ec, json::storage_ptr(), options);
  if (ec || !doc.is_object()) return std::nullopt;
  const auto& obj = doc.get_object();
  ParsedListPage out;
  if (auto* prefixes = obj.if_contains("prefixes"); prefixes && prefixes->is_array()) {
    for (const auto& p : prefixes->get_array())
      if (p.is_string()) add_name(p.get_string(), out.page.prefixes, out.invalid_names);
  }
  if (auto* items = obj.if_contains("items"); items && items->is_array()) {
    for (const auto& item : items->get_array()) {
      const auto* name = item.is_object() ? item.get_object().if_contains("name") : nullptr;
      if (name && name->is_string()) add_name(name->get_string(), out.page.names, out.invalid_names);
    }
  }
  if (auto* next = obj.if_contains("nextPageToken"); next && next->is_string())
    out.next_page_token = next->get_string();
  return out;
}

boost::asio::awaitable<net::Result<void>> Client::list(const std::string& bucket, const std::string& prefix,
                                                       const std::string& delimiter,
                                                       std::function<bool(ListPage&&)> on_page) {
  const std::string from_start;
  co_return co_await list(bucket, prefix, delimiter, from_start, std::move(on_page));
}

boost::asio::awaitable<net::Result<void>> Client::list(const std::string& bucket, const std::string& prefix,
                                                       const std::string& delimiter, const std::string& start_offset,
                                                       std::function<bool(ListPage&&)> on_page) {
  auto page_url = [&](const std::string& token) {
    net::Query q;
    q.add_if("prefix", prefix).add_if("delimiter", delimiter).add_if("startOffset", start_offset);
    q.add("maxResults", std::to_string(config_.page_size));
    q.add("fields", "nextPageToken,prefixes,items(name)").add_if("pageToken", token);
    return net::join_url(config_.base_url, "/storage/v1/b/" + net::encode_path_segment(bucket) + "/o" + q.str());
  };
  std::string token;
  ListingState state(config_, obs::printable("gs://" + bucket + "/" + prefix), page_url(token));
  do {
    net::Request req;
    req.url = page_url(token);
    req.options.body_limit = config_.listing_body_limit;
    req.options.accept_gzip = true;
    std::string url = req.url;
    auto resp = co_await send(std::move(req));
    if (!resp) co_return resp.error();
    if (resp->status != 200) {
      co_return bad_response(url, resp->status, "listing answered HTTP " + std::to_string(resp->status));
    }
    auto parsed = parse_list_page(std::move(resp->body));
    if (!parsed) co_return bad_response(url, 0, "listing is not a JSON object");
    state.skipped(parsed->invalid_names);
    token = std::move(parsed->next_page_token);
    if (auto stop = state.after_page(parsed->page, token)) co_return *stop;
    if (!on_page(std::move(parsed->page))) break;
  } while (!token.empty());
  co_return net::Result<void>{};
}

boost::asio::awaitable<net::Result<std::vector<std::string>>> Client::list_dirs(const std::string& bucket,
                                                                                const std::string& prefix) {
  const std::string from_start;
  co_return co_await list_dirs(bucket, prefix, from_start);
}

boost::asio::awaitable<net::Result<std::vector<std::string>>> Client::list_dirs(const std::string& bucket,
                                                                                const std::string& prefix,
                                                                                const std::string& start_offset) {
  std::vector<std::string> dirs;
  // Named arguments: no temporaries inside a co_await expression (g++ 12).
  const std::string delimiter = "/";
  std::function<bool(ListPage&&)> on_page = [&dirs](ListPage&& page) {
    for (auto& p : page.prefixes) dirs.push_back(std::move(p));
    return true;
  };
  auto r = co_await list(bucket, prefix, delimiter, start_offset, on_page);
  if (!r) co_return r.error();
  co_return dirs;
}

boost::asio::awaitable<net::Result<std::optional<std::string>>> Client::read(const std::string& bucket,
                                                                             const std::string& name) {
  const size_t body_limit = config_.object_body_limit;
  co_return co_await read(bucket, name, body_limit);
}

boost::asio::awaitable<net::Result<std::optional<std::string>>> Client::read(std::string bucket,
                                                                             std::string name,
                                                                             size_t body_limit) {
  net::Request req;
  req.url = net::join_url(config_.base_url, "/storage/v1/b/" + net::encode_path_segment(bucket) + "/o/" +
                                                net::encode_path_segment(name) + "?alt=media");
  req.options.body_limit = body_limit;
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
