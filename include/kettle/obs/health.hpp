// Liveness: each stage (collect, emit, load, stream) says when it has work and
// when that work advances. A stage with work and no progress for longer than
// the stall timeout makes /healthz fail, so Kubernetes restarts a stuck pod.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kettle::obs {

class Stage {
 public:
  explicit Stage(std::string name);
  const std::string& name() const { return name_; }

  // Work advanced (a build written, a page listed, a pull answered...). One
  // clock read and a store: fine on hot paths.
  void progress();

  // The stage has work while a Busy lives; nesting is fine.
  class Busy {
   public:
    explicit Busy(Stage& stage);
    ~Busy();
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;

   private:
    Stage& stage_;
  };
  Busy busy() { return Busy(*this); }

  bool has_work() const { return busy_.load() > 0; }
  // How long the stage has had work without progress (zero when idle).
  std::chrono::steady_clock::duration stalled_for(std::chrono::steady_clock::time_point now) const;

 private:
  std::string name_;
  std::atomic<int> busy_{0};
  std::atomic<std::int64_t> busy_since_{0};     // steady ns
  std::atomic<std::int64_t> last_progress_{0};  // steady ns; 0: none yet
};

// The stage of this name (created on first use; lives for the process).
Stage& stage(std::string_view name);

struct HealthReport {
  bool healthy = true;
  std::string text;  // one line per stage: "collect: ok" / "stream: no progress for 912s (limit 900s)"
};
HealthReport check_health(std::chrono::steady_clock::duration stall_timeout);

// /healthz/ready: set once a command has finished starting up.
void set_ready(bool ready = true);
bool ready();

}  // namespace kettle::obs
