#include "kettle/collect/wait_for_commit.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace kettle::collect {
namespace asio = boost::asio;

asio::awaitable<void> wait_for_commit(asio::io_context& io, DbWriter& writer) {
  asio::steady_timer done(io, asio::steady_timer::time_point::max());
  // The barrier fires on the writer thread (or here, when the writer has
  // failed); the wake-up is posted to ours. It moves the expiry into the past
  // rather than cancelling: a wait that starts after it still ends at once.
  writer.after_commit(
      [&io, &done] { asio::post(io, [&done] { done.expires_at(asio::steady_timer::time_point::min()); }); });
  boost::system::error_code ec;
  co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (auto failure = writer.failure()) std::rethrow_exception(failure);
}

}  // namespace kettle::collect
