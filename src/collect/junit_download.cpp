#include "kettle/collect/junit_download.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "kettle/collect/planner.hpp"
#include "kettle/junit/strip.hpp"
#include "kettle/store/zlib_codec.hpp"

namespace kettle::collect {
namespace asio = boost::asio;

namespace {

// A coroutine taking its argument by value, so the text lives in the frame
// on the pool's thread (no captured temporaries: g++ 12).
asio::awaitable<std::string> strip_and_compress(std::string xml) {
  co_return store::zlib_compress(junit::strip_output(std::move(xml)));
}

}  // namespace

asio::awaitable<net::Result<JunitWrite>> download_junit(gcs::Client& gcs, asio::thread_pool& cpu, int64_t build_id,
                                                        std::string build_path) {
  JunitWrite write;
  write.build_id = build_id;
  auto path = gcs::GsPath::parse(build_path);
  if (!path) co_return write;  // not a gs:// path: nothing to fetch
  const std::string artifacts = path->name + "/artifacts/";
  const std::string delimiter = "/";
  std::vector<std::string> names;
  std::function<bool(gcs::ListPage&&)> on_page = [&](gcs::ListPage&& page) {
    for (auto& n : page.names)
      if (is_junit_artifact(artifacts, n)) names.push_back(std::move(n));
    return true;
  };
  auto listed = co_await gcs.list(path->bucket, artifacts, delimiter, on_page);
  if (!listed) co_return listed.error();
  for (const auto& name : names) {
    auto data = co_await gcs.read(path->bucket, name);
    if (!data) co_return data.error();
    if (!*data) continue;  // deleted since the listing
    write.xml_bytes += (*data)->size();
    std::string blob = co_await asio::co_spawn(cpu, strip_and_compress(std::move(**data)), asio::use_awaitable);
    write.files.push_back({"gs://" + path->bucket + "/" + name, std::move(blob)});
  }
  co_return write;
}

}  // namespace kettle::collect
