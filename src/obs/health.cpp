#include "kettle/obs/health.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "kettle/obs/kettle_metrics.hpp"

namespace kettle::obs {
namespace {

using Clock = std::chrono::steady_clock;

std::int64_t ticks(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::mutex g_stages_mu;
std::map<std::string, std::unique_ptr<Stage>, std::less<>> g_stages;
std::atomic<bool> g_ready{false};

}  // namespace

Stage::Stage(std::string name) : name_(std::move(name)) {
  // The gauges are read from the stage at scrape time, not kept up to date.
  Gauge& last_progress = metrics().stage_last_progress.with({name_});
  Gauge& busy = metrics().stage_busy.with({name_});
  registry().on_collect([this, &last_progress, &busy] {
    busy.set(has_work() ? 1 : 0);
    std::int64_t at = last_progress_.load(std::memory_order_relaxed);
    if (at == 0) return;
    auto ago = std::chrono::duration<double>(std::chrono::nanoseconds(ticks(Clock::now()) - at)).count();
    auto wall_now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    last_progress.set(wall_now - ago);
  });
}

void Stage::progress() { last_progress_.store(ticks(Clock::now()), std::memory_order_relaxed); }

Stage::Busy::Busy(Stage& stage) : stage_(stage) {
  if (stage_.busy_.fetch_add(1) == 0) stage_.busy_since_.store(ticks(Clock::now()));
}

Stage::Busy::~Busy() { stage_.busy_.fetch_sub(1); }

Clock::duration Stage::stalled_for(Clock::time_point now) const {
  if (!has_work()) return Clock::duration::zero();
  // Measured from the later of "became busy" and "last progress": a stage
  // that just got work is not stalled by an old quiet spell.
  std::int64_t since = std::max(busy_since_.load(), last_progress_.load(std::memory_order_relaxed));
  return std::max(Clock::duration::zero(), std::chrono::nanoseconds(ticks(now) - since));
}

Stage& stage(std::string_view name) {
  std::lock_guard lock(g_stages_mu);
  auto it = g_stages.find(name);
  if (it == g_stages.end()) it = g_stages.emplace(std::string(name), std::make_unique<Stage>(std::string(name))).first;
  return *it->second;
}

HealthReport check_health(Clock::duration stall_timeout) {
  HealthReport report;
  auto now = Clock::now();
  auto secs = [](Clock::duration d) { return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()); };
  std::lock_guard lock(g_stages_mu);
  for (const auto& [name, s] : g_stages) {
    auto stalled = s->stalled_for(now);
    if (s->has_work() && stalled > stall_timeout) {
      report.healthy = false;
      report.text += name + ": no progress for " + secs(stalled) + "s (stall timeout " + secs(stall_timeout) + "s)\n";
    } else {
      report.text += name + (s->has_work() ? ": ok\n" : ": idle\n");
    }
  }
  if (g_stages.empty()) report.text = "ok\n";
  return report;
}

void set_ready(bool ready) { g_ready = ready; }
bool ready() { return g_ready; }

}  // namespace kettle::obs
