// The fake's own API under /_fake/: statistics, fault rules, token revocation.
// Exempt from faults and latency so a test can always steer the fake.
#pragma once

#include "service.hpp"

namespace fakegcp {

class ControlService : public Service {
 public:
  explicit ControlService(ServiceContext& ctx) : ctx_(ctx) {}
  std::optional<std::string_view> classify(const Request& req) const override;
  Response handle(const Request& req) override;
  bool is_control(const Request&) const override { return true; }

 private:
  ServiceContext& ctx_;
};

}  // namespace fakegcp
