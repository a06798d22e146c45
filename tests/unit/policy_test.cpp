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

TEST_CASE("the evidence gates are off by default, and the default evidence policy is valid") {
  const Policy p = valid_policy();
  CHECK_FALSE(p.evidence.any());
  CHECK(p.evidence.main_branch == "main");
  CHECK(p.evidence.rollback_heading == "## Rollback");
  CHECK(p.evidence.test_check == "test");
  CHECK_FALSE(p.evidence.min_test_pass_rate_bp.has_value());
  CHECK(check_policy(p).has_value());
}

// A policy with every evidence gate on and configured as it must be.
Policy evidence_policy() {
  Policy p = valid_policy();
  p.evidence.require_review = true;
  p.evidence.require_ci = true;
  p.evidence.require_ddl_rollback = true;
  p.evidence.required_checks = {"typecheck", "test"};
  p.evidence.min_test_pass_rate_bp = 9500;
  p.evidence.migration_globs = {"db/migrations/**"};
  return p;
}

TEST_CASE("an evidence policy that cannot be enforced is refused, naming the config key") {
  CHECK(check_policy(evidence_policy()).has_value());
  struct Case {
    std::string name;
    void (*change)(EvidencePolicy&);
    std::string message;
  };
  const Case cases[] = {
      {"require_ci without checks", [](EvidencePolicy& e) { e.required_checks.clear(); },
       "policy.require_ci = true needs at least one name in policy.required_checks"},
      {"a pass rate above 100%", [](EvidencePolicy& e) { e.min_test_pass_rate_bp = 10001; },
       "policy.min_test_pass_rate must be between 0% and 100% (got 10001 basis points)"},
      {"a negative pass rate", [](EvidencePolicy& e) { e.min_test_pass_rate_bp = -1; },
       "policy.min_test_pass_rate must be between 0% and 100% (got -1 basis points)"},
      {"a pass rate on a check that is not required", [](EvidencePolicy& e) { e.test_check = "unit"; },
       "policy.min_test_pass_rate needs policy.test_check (\"unit\") among policy.required_checks"},
      {"require_ddl_rollback without globs", [](EvidencePolicy& e) { e.migration_globs.clear(); },
       "policy.require_ddl_rollback = true needs at least one glob in policy.migration_globs"},
      {"require_ddl_rollback with an empty heading", [](EvidencePolicy& e) { e.rollback_heading = ""; },
       "policy.require_ddl_rollback = true needs a non-empty policy.rollback_heading"},
      {"require_ddl_rollback with a blank heading", [](EvidencePolicy& e) { e.rollback_heading = " \t "; },
       "policy.require_ddl_rollback = true needs a non-empty policy.rollback_heading"},
      {"an empty main branch", [](EvidencePolicy& e) { e.main_branch = ""; }, "policy.main_branch must not be empty"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Policy p = evidence_policy();
    c.change(p.evidence);
    auto r = check_policy(p);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::invalid_argument);
    CHECK(r.error().message == c.message);
  }
}

TEST_CASE("evidence settings of a gate that is off need nothing more; the pass rate bounds are inclusive") {
  Policy p = valid_policy();
  p.evidence.required_checks.clear();
  p.evidence.migration_globs.clear();
  p.evidence.rollback_heading = "";
  p.evidence.min_test_pass_rate_bp = 9500;  // not enforced without require_ci: nothing to refuse
  CHECK(check_policy(p).has_value());
  for (int bp : {0, 9500, 10000}) {
    CAPTURE(bp);
    Policy q = evidence_policy();
    q.evidence.min_test_pass_rate_bp = bp;
    CHECK(check_policy(q).has_value());
  }
  Policy no_rate = evidence_policy();
  no_rate.evidence.min_test_pass_rate_bp.reset();
  no_rate.evidence.test_check = "unit";  // no minimum: the test check need not be required
  CHECK(check_policy(no_rate).has_value());
}

}  // namespace
}  // namespace promoter::core
