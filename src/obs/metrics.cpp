#include "kettle/obs/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace kettle::obs {

void Gauge::set_to_current_time() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  set(std::chrono::duration<double>(now).count());
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
    throw std::logic_error("histogram bounds must increase");
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::observe(double v) {
  // Per-bucket counts; cumulative sums are formed at render time.
  auto at = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[static_cast<std::size_t>(at)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> latency_buckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::string type, std::vector<std::string> labels)
    : name_(std::move(name)), help_(std::move(help)), type_(std::move(type)), label_names_(std::move(labels)) {}

void* FamilyBase::find_or_add(std::vector<std::string> values, const std::function<std::shared_ptr<void>()>& make) {
  if (values.size() != label_names_.size())
    throw std::logic_error(name_ + ": " + std::to_string(label_names_.size()) + " label values expected");
  std::lock_guard lock(mu_);
  auto& slot = children_[std::move(values)];
  if (!slot) slot = make();
  return slot.get();
}

bool FamilyBase::contains(const std::vector<std::string>& values) const {
  std::lock_guard lock(mu_);
  return children_.count(values) > 0;
}

void FamilyBase::render(std::string& out) const {
  std::lock_guard lock(mu_);
  if (children_.empty()) return;  // nothing observed yet: no family at all
  out += "# HELP " + name_ + " ";
  for (char c : help_) out += c == '\n' ? std::string("\\n") : c == '\\' ? std::string("\\\\") : std::string(1, c);
  out += "\n# TYPE " + name_ + " " + type_ + "\n";
  for (const auto& [values, child] : children_) {
    std::string labels;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) labels += ',';
      labels += label_names_[i] + "=\"" + escape_label_value(values[i]) + "\"";
    }
    render_child(out, labels, child.get());
  }
}

namespace {
std::string braced(const std::string& labels) { return labels.empty() ? "" : "{" + labels + "}"; }
}  // namespace

template <>
void Family<Counter>::render_child(std::string& out, const std::string& labels, const void* child) const {
  out += name() + braced(labels) + " " + format_value(static_cast<const Counter*>(child)->value()) + "\n";
}

template <>
void Family<Gauge>::render_child(std::string& out, const std::string& labels, const void* child) const {
  out += name() + braced(labels) + " " + format_value(static_cast<const Gauge*>(child)->value()) + "\n";
}

template <>
void Family<Histogram>::render_child(std::string& out, const std::string& labels, const void* child) const {
  const auto* h = static_cast<const Histogram*>(child);
  auto snap = h->snapshot();
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= h->bounds().size(); ++i) {
    std::string le = i < h->bounds().size() ? format_value(h->bounds()[i]) : "+Inf";
    out += name() + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(snap.cumulative[i]) + "\n";
  }
  out += name() + "_sum" + braced(labels) + " " + format_value(snap.sum) + "\n";
  out += name() + "_count" + braced(labels) + " " + std::to_string(snap.cumulative.back()) + "\n";
}

template <class F>
F& Registry::add(std::unique_ptr<F> family) {
  std::lock_guard lock(mu_);
  for (const auto& f : families_)
    if (f->name() == family->name()) throw std::logic_error("metric " + family->name() + " registered twice");
  F& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Counter>& Registry::counter(std::string name, std::string help, std::vector<std::string> labels) {
  return add(std::make_unique<Family<Counter>>(std::move(name), std::move(help), "counter", std::move(labels),
                                               [] { return std::make_shared<Counter>(); }));
}

Family<Gauge>& Registry::gauge(std::string name, std::string help, std::vector<std::string> labels) {
  return add(std::make_unique<Family<Gauge>>(std::move(name), std::move(help), "gauge", std::move(labels),
                                             [] { return std::make_shared<Gauge>(); }));
}

Family<Histogram>& Registry::histogram(std::string name, std::string help, std::vector<std::string> labels,
                                       std::vector<double> bounds) {
  Histogram check(bounds);  // reject bad bounds at registration, not at first use
  return add(std::make_unique<Family<Histogram>>(std::move(name), std::move(help), "histogram", std::move(labels),
                                                 [bounds] { return std::make_shared<Histogram>(bounds); }));
}

void Registry::on_collect(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::render() const {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lock(mu_);
    hooks = hooks_;
  }
  for (const auto& hook : hooks) hook();
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& family : families_) family->render(out);
  return out;
}

}  // namespace kettle::obs
