#include "kettle/collect/fetch_build.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "kettle/obs/log.hpp"
#include "kettle/rows/build_json.hpp"

namespace kettle::collect {
using namespace boost::asio::experimental::awaitable_operators;

namespace {

using ObjectRead = net::Result<std::optional<std::string>>;

// A build JSON over kBuildJsonBodyLimit reads as absent, with a warning.
ObjectRead absent_if_too_large(ObjectRead read, const gcs::GsPath& build, const std::string& name) {
  if (read || read.error().kind != net::ErrorKind::too_large) return read;
  // The message names the limit and, when the server announced it, the size.
  KLOG(warning) << "gs://" << build.bucket << "/" << obs::printable(name) << " is too large ("
                << read.error().message << "): treated as absent, as malformed JSON is";
  return std::optional<std::string>();
}

}  // namespace

boost::asio::awaitable<net::Result<BuildWrite>> fetch_build(gcs::Client& gcs, std::string build_path) {
  auto gs = gcs::GsPath::parse(build_path);
  if (!gs) {
    co_return net::Error{.kind = net::ErrorKind::invalid_request, .status = 0, .url = build_path,
                         .message = "not a gs:// build path", .attempts = 0};
  }
  const std::string started_name = gs->name + "/started.json";
  const std::string finished_name = gs->name + "/finished.json";
  const std::size_t limit = kBuildJsonBodyLimit;
  auto [started_read, finished_read] =
      co_await (gcs.read(gs->bucket, started_name, limit) && gcs.read(gs->bucket, finished_name, limit));
  auto started = absent_if_too_large(std::move(started_read), *gs, started_name);
  auto finished = absent_if_too_large(std::move(finished_read), *gs, finished_name);
  if (!started) co_return started.error();
  if (!finished) co_return finished.error();
  BuildWrite write;
  write.path = std::move(build_path);
  if (*started) write.started_json = rows::normalize_build_json(**started);
  if (*finished) write.finished_json = rows::normalize_build_json(**finished);
  co_return write;
}

}  // namespace kettle::collect
