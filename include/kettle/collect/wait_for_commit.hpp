// Waits, on an io_context thread, until a DbWriter has committed everything
// queued so far; rethrows the writer's failure.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "kettle/collect/db_writer.hpp"

namespace kettle::collect {

boost::asio::awaitable<void> wait_for_commit(boost::asio::io_context& io, DbWriter& writer);

}  // namespace kettle::collect
