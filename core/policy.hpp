#pragma once
// The change-management policy as values: what a release must show before production.
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/time.hpp"

namespace promoter::core {

// The written policy's minimum staging soak; only an explicit short-soak mode (demo, tests) goes below it.
inline constexpr Duration soak_floor = std::chrono::minutes{30};

struct Policy {
  Duration soak = soak_floor;
  bool allow_short_soak = false;
  bool require_smoke = true;
  std::vector<std::string> required_smoke_suites;
  int approvals_required = 1;
  std::vector<std::string> services;  // in restart order: the promotion deploys them in this order
  bool run_migrations = true;
  bool verify_after_deploy = true;

  bool short_soak() const { return soak < soak_floor; }
};

// Refuses a policy the written change-management policy does not allow.
Result<void> check_policy(const Policy&);

}  // namespace promoter::core
