// The change-management policy: what check_policy allows and refuses, with messages an operator can act on.
#include <doctest/doctest.h>

#include <string>

#include "core/policy.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono_literals;

Policy valid_policy() {
  Policy p;
  p.services = {"worker", "api", "www"};
  p.required_smoke_suites = {"e2e"};
  return p;
}

TEST_CASE("the default policy soaks for the 30 minute floor and needs smoke and one approval") {
  const Policy p;
  CHECK(p.soak == 30min);
  CHECK(soak_floor == 30min);
  CHECK_FALSE(p.allow_short_soak);
  CHECK(p.require_smoke);
  CHECK(p.approvals_required == 1);
  CHECK(p.run_migrations);
  CHECK(p.verify_after_deploy);
  CHECK_FALSE(p.short_soak());
}

TEST_CASE("a complete policy at or above the soak floor is accepted") {
  for (Duration soak : {Duration{30min}, Duration{31min}, Duration{2h}}) {
    Policy p = valid_policy();
    p.soak = soak;
    CAPTURE(soak.count());
    CHECK(check_policy(p).has_value());
    CHECK_FALSE(p.short_soak());
  }
}

TEST_CASE("a soak below the 30m floor is refused unless allow_short_soak is set") {
  Policy p = valid_policy();
  p.soak = 10min;
  CHECK(p.short_soak());
  auto r = check_policy(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::failed_precondition);
  CHECK(r.error().message.starts_with("policy.soak = \"10m\" is below the policy floor of 30m"));
  CHECK(r.error().message.find("allow_short_soak = true") != std::string::npos);

  p.soak = 30min - 1ms;
  CHECK_FALSE(check_policy(p).has_value());

  p.allow_short_soak = true;
  CHECK(check_policy(p).has_value());
  p.soak = 0ms;
  CHECK(check_policy(p).has_value());
}

TEST_CASE("a negative soak is refused even in short-soak mode") {
  Policy p = valid_policy();
  p.allow_short_soak = true;
  p.soak = -1s;
  auto r = check_policy(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().message == "policy.soak must not be negative");
}

TEST_CASE("a service configured twice is refused and named") {
  Policy p = valid_policy();
  p.services = {"worker", "api", "www", "api"};
  auto r = check_policy(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().message == "service 'api' is configured twice");
}

TEST_CASE("a policy without services is refused") {
  Policy p = valid_policy();
  p.services.clear();
  auto r = check_policy(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "at least one [[services]] entry is needed");
}

TEST_CASE("require_smoke without any required suite is refused; without require_smoke no suite is needed") {
  Policy p = valid_policy();
  p.required_smoke_suites.clear();
  auto r = check_policy(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().message == "policy.require_smoke = true needs at least one name in policy.required_smoke_suites");

  p.require_smoke = false;
  CHECK(check_policy(p).has_value());
}

TEST_CASE("approvals_required below one is refused") {
  for (int n : {0, -1}) {
    Policy p = valid_policy();
    p.approvals_required = n;
    CAPTURE(n);
    auto r = check_policy(p);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message == "policy.approvals_required must be at least 1");
  }
  Policy two = valid_policy();
  two.approvals_required = 2;
  CHECK(check_policy(two).has_value());
}

}  // namespace
}  // namespace promoter::core
