// The process-wide budget for response bodies held in memory: downloads wait
// for room instead of each growing to its own limit at once.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

namespace kettle::net {

// Bytes are reserved as a body arrives, not up front by its limit: a limit
// (512 MiB for a GCS object) says nothing about the size of most bodies
// (kilobytes), so reserving it would let one download at a time run; and the
// size a server announces is not known for chunked bodies. Reserving as
// bytes come keeps memory bounded and every download that fits running.
//
// Growing as bytes come can deadlock: every download holding bytes may wait
// for more, and none can release. So when every holder is waiting, the oldest
// waiter (by lease order) becomes privileged: it may pass the limit, alone,
// until its lease ends, then the rule applies again. Bytes held therefore stay
// within `limit` plus what one response holds (about its own body limit),
// and a response larger than the whole budget still completes.
//
// Waiters are served oldest lease first; a younger one never passes an older
// one that does not fit. Not thread-safe: every call comes from the
// executor's single thread. Must outlive its leases.
class BodyBudget {
 public:
  // Told of every change, for a gauge: bytes held, the limit, leases waiting.
  using OnChange = std::function<void(std::size_t in_use, std::size_t limit, std::size_t waiting)>;

  // Bytes one response holds; returns them when it ends. Movable; an empty
  // Lease (default, moved-from, or whose admission was cancelled) holds nothing.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    explicit operator bool() const { return owner_ != nullptr; }
    std::size_t held() const { return held_; }

    // Waits until the lease holds at least `bytes`. False when cancelled
    // (per-operation cancellation, e.g. the `||` awaitable operator): the
    // lease then holds what it held before.
    boost::asio::awaitable<bool> grow_to(std::size_t bytes);
    // Gives back what is held over `bytes`.
    void shrink_to(std::size_t bytes);
    // Counts `bytes` at once, without waiting: for memory already taken
    // (a parser that allocated more than was reserved). Never shrinks.
    void force_to(std::size_t bytes);

   private:
    friend class BodyBudget;
    Lease(BodyBudget* owner, std::uint64_t ticket) : owner_(owner), ticket_(ticket) {}
    void release();

    BodyBudget* owner_ = nullptr;
    std::uint64_t ticket_ = 0;  // lease order: smaller is older
    std::size_t held_ = 0;
  };

  BodyBudget(boost::asio::any_io_executor executor, std::size_t limit, OnChange on_change = {});
  BodyBudget(const BodyBudget&) = delete;
  BodyBudget& operator=(const BodyBudget&) = delete;

  // A new lease, once at least `room` bytes are free (at once when nothing is
  // held): new downloads start only while there is room for them. Holds
  // nothing yet. Supports per-operation cancellation; a cancelled wait
  // returns an empty Lease.
  boost::asio::awaitable<Lease> admit(std::size_t room);
  // A lease if admit(room) would give one without waiting, else an empty one.
  Lease try_admit(std::size_t room);

  std::size_t limit() const { return limit_; }
  std::size_t in_use() const { return in_use_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter;
  bool fits(std::size_t bytes) const { return in_use_ == 0 || in_use_ + bytes <= limit_; }
  bool may_grow_now(std::uint64_t ticket, std::size_t bytes) const;
  void take(Lease& lease, std::size_t bytes);
  void give(Lease& lease, std::size_t bytes);
  boost::asio::awaitable<bool> wait(Waiter& waiter);
  void serve();
  void changed() const;

  boost::asio::any_io_executor executor_;
  std::size_t limit_;
  OnChange on_change_;
  std::size_t in_use_ = 0;
  std::size_t holders_ = 0;          // leases holding bytes
  std::size_t waiting_holders_ = 0;  // of those, leases waiting to grow
  std::optional<std::uint64_t> privileged_{};
  std::uint64_t next_ticket_ = 0;
  std::map<std::uint64_t, Waiter*> waiters_;  // by ticket; each lives in its coroutine's frame
};

}  // namespace kettle::net
