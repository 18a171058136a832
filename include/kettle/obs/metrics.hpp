// Prometheus metrics: counters, gauges and histograms, optionally labelled,
// rendered in the text exposition format 0.0.4. Updates are lock-free;
// finding a labelled child takes a mutex, so hot paths keep the reference
// (children live as long as the registry).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kettle::obs {

class Counter {
 public:
  void inc(double n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void set_to_current_time();  // seconds since the Unix epoch
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: upper bounds of the buckets, increasing; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bound, then +Inf
  std::atomic<double> sum_{0};
};

// Latency buckets (seconds) for network calls: 5 ms .. 2 min.
std::vector<double> latency_buckets();

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string type, std::vector<std::string> labels);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  void render(std::string& out) const;

 protected:
  // Appends the samples of one child with the given label set.
  virtual void render_child(std::string& out, const std::string& labels, const void* child) const = 0;
  void* find_or_add(std::vector<std::string> values, const std::function<std::shared_ptr<void>()>& make);
  bool contains(const std::vector<std::string>& values) const;

 private:
  std::string name_, help_, type_;
  std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::shared_ptr<void>> children_;
};

template <class Metric>
class Family : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::string type, std::vector<std::string> labels,
         std::function<std::shared_ptr<Metric>()> make)
      : FamilyBase(std::move(name), std::move(help), std::move(type), std::move(labels)), make_(std::move(make)) {}

  // The child for these label values, in the family's label order. Throws
  // std::logic_error when the count does not match the label names.
  Metric& with(std::initializer_list<std::string_view> values) {
    std::vector<std::string> v(values.begin(), values.end());
    return *static_cast<Metric*>(find_or_add(std::move(v), [this] { return std::shared_ptr<void>(make_()); }));
  }
  Metric& get() { return with({}); }  // for families without labels
  // Whether the child for these label values exists (is exported).
  bool has(std::initializer_list<std::string_view> values) const {
    return contains(std::vector<std::string>(values.begin(), values.end()));
  }

 protected:
  void render_child(std::string& out, const std::string& labels, const void* child) const override;

 private:
  std::function<std::shared_ptr<Metric>()> make_;
};

template <>
void Family<Counter>::render_child(std::string&, const std::string&, const void*) const;
template <>
void Family<Gauge>::render_child(std::string&, const std::string&, const void*) const;
template <>
void Family<Histogram>::render_child(std::string&, const std::string&, const void*) const;

class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(std::string name, std::string help, std::vector<std::string> labels,
                               std::vector<double> bounds);
  // Runs before every render: for values read at scrape time (file sizes, memory).
  void on_collect(std::function<void()> hook);
  std::string render() const;

 private:
  template <class F>
  F& add(std::unique_ptr<F> family);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
  std::vector<std::function<void()>> hooks_;
};

// Formats a sample value as Prometheus does (+Inf, -Inf, NaN, shortest exact).
std::string format_value(double v);
// Escapes a label value (backslash, double quote, newline).
std::string escape_label_value(std::string_view v);

}  // namespace kettle::obs
