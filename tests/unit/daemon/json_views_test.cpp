// The JSON the /v1 API answers with, computed from core values and a clock reading the test chooses.
#include <doctest/doctest.h>

#include <chrono>

#include "core/gates.hpp"
#include "daemon/http/json_views.hpp"

namespace promoter::daemon {
namespace {

using namespace std::chrono_literals;

core::Policy short_soak_policy() {
  core::Policy p;
  p.soak = 40s;
  p.allow_short_soak = true;
  p.services = {"api"};
  p.required_smoke_suites = {"e2e"};
  return p;
}

TEST_CASE("release_json: a soaking release's state_reason agrees with its soak gate at the time of the answer") {
  const core::Policy policy = short_soak_policy();
  const core::Timestamp live = core::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}};
  core::Release r(*core::Sha::parse("1111111111111111111111111111111111111111"));
  r.author = "alice";
  r.state = core::ReleaseState::soaking;
  r.deployments["api"] = core::StagingDeployment{"api", "dep-1", core::DeployStatus::success, live, std::nullopt};
  r.live_at = live;
  r.soak_started_at = live;
  // What core stored when the soak started.
  r.state_reason = core::pending_gates_reason(core::evaluate_gates(r, policy, live));
  REQUIRE(r.state_reason.starts_with("waiting for soak: 0s of 40s;"));

  const nlohmann::json j = release_json(r, policy, live + 10s);
  CHECK(j["gates"]["soak"]["reason"] == "soak: 10s of 40s");
  CHECK(j["state_reason"] ==
        "waiting for soak: 10s of 40s; smoke: suite e2e has not reported; approval: waiting for 1 approval by an "
        "operator other than the author");
}

TEST_CASE("release_json: other states answer the reason core recorded") {
  const core::Policy policy = short_soak_policy();
  core::Release r(*core::Sha::parse("2222222222222222222222222222222222222222"));
  r.state = core::ReleaseState::superseded;
  r.state_reason = "superseded on staging by 3333333 (api went live)";
  const auto now = core::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}};
  CHECK(release_json(r, policy, now)["state_reason"] == "superseded on staging by 3333333 (api went live)");
}

}  // namespace
}  // namespace promoter::daemon
