// One build's started.json and finished.json, read at once and normalized for
// the database (SPEC §2.4, D4): the one way make-db and stream fetch a build.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <string>

#include "kettle/collect/db_writer.hpp"
#include "kettle/gcs/client.hpp"

namespace kettle::collect {

// started.json and finished.json hold a few hundred bytes. A bigger one
// (anyone's CI writes these buckets) is malformed, so absent (SPEC D4): it is
// not downloaded past this limit, a warning names it, and the build goes on.
// Not a failed build: that would be retried by every run, forever.
inline constexpr std::size_t kBuildJsonBodyLimit = std::size_t{1} << 20;  // bytes, after gzip decoding

// The write for the DB writer; both JSONs may be absent (then there is
// nothing to write). An Error when a read failed after retries, or was cut
// short by a stop (kind cancelled).
boost::asio::awaitable<net::Result<BuildWrite>> fetch_build(gcs::Client& gcs, std::string build_path);

// True when the error only says that a stop cut the request short: not a failure.
inline bool is_cancelled(const net::Error& error) { return error.kind == net::ErrorKind::cancelled; }

}  // namespace kettle::collect
