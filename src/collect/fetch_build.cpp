#include "kettle/collect/fetch_build.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "kettle/rows/build_json.hpp"

namespace kettle::collect {
using namespace boost::asio::experimental::awaitable_operators;

boost::asio::awaitable<net::Result<BuildWrite>> fetch_build(gcs::Client& gcs, std::string build_path) {
  auto gs = gcs::GsPath::parse(build_path);
  if (!gs) {
    co_return net::Error{.kind = net::ErrorKind::invalid_request, .status = 0, .url = build_path,
                         .message = "not a gs:// build path", .attempts = 0};
  }
  const std::string started_name = gs->name + "/started.json";
  const std::string finished_name = gs->name + "/finished.json";
  auto [started, finished] = co_await (gcs.read(gs->bucket, started_name) && gcs.read(gs->bucket, finished_name));
  if (!started) co_return started.error();
  if (!finished) co_return finished.error();
  BuildWrite write;
  write.path = std::move(build_path);
  if (*started) write.started_json = rows::normalize_build_json(**started);
  if (*finished) write.finished_json = rows::normalize_build_json(**finished);
  co_return write;
}

}  // namespace kettle::collect
