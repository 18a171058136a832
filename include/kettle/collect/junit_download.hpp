// The JUnit files of one build (SPEC §2.5, §3.3, D9): listed, downloaded,
// stripped and compressed, ready for the DB writer. Shared by make-db and stream.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <string>

#include "kettle/collect/db_writer.hpp"
#include "kettle/gcs/client.hpp"

namespace kettle::collect {

// An Error when the listing or a download failed after retries: the build
// keeps its missing-JUnit mark and a later run tries again. Strip + zlib run
// on `cpu`.
boost::asio::awaitable<net::Result<JunitWrite>> download_junit(gcs::Client& gcs, boost::asio::thread_pool& cpu,
                                                               int64_t build_id, std::string build_path);

}  // namespace kettle::collect
