#include "api_error.hpp"

#include <boost/json.hpp>

namespace kettle::pubsub::detail {
namespace json = boost::json;

namespace {

// Enough of a body to recognise it in a log line without flooding it.
constexpr std::size_t kExcerptBytes = 200;

std::string server_words(std::string_view body) {
  json::error_code ec;
  json::value doc = json::parse(body, ec);
  if (!ec && doc.is_object()) {
    const auto* error = doc.get_object().if_contains("error");
    if (error && error->is_object()) {
      const auto* message = error->get_object().if_contains("message");
      if (message && message->is_string()) return std::string(message->get_string());
    }
  }
  std::string excerpt(body.substr(0, kExcerptBytes));
  for (char& c : excerpt) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (body.size() > kExcerptBytes) excerpt += "...";
  return excerpt;
}

}  // namespace

net::Error status_error(const std::string& url, std::string_view what, int status,
                        std::string_view body) {
  net::Error e;
  e.kind = net::ErrorKind::http_status;
  e.status = status;
  e.url = url;
  e.message = std::string(what) + " answered HTTP " + std::to_string(status);
  if (auto words = server_words(body); !words.empty()) e.message += ": " + words;
  return e;
}

net::Error malformed_error(const std::string& url, std::string_view what, std::string_view why) {
  net::Error e;
  e.kind = net::ErrorKind::protocol;
  e.url = url;
  e.message = std::string(what) + ": " + std::string(why);
  return e;
}

}  // namespace kettle::pubsub::detail
