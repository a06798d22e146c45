// Railway deployment statuses: parsing, health, and which late webhooks count as stale.
#include <doctest/doctest.h>

#include <string>

#include "core/deploy_status.hpp"

namespace promoter::core {
namespace {

constexpr DeployStatus all_statuses[] = {
    DeployStatus::queued,    DeployStatus::waiting,        DeployStatus::initializing, DeployStatus::building,
    DeployStatus::deploying, DeployStatus::needs_approval, DeployStatus::skipped,      DeployStatus::success,
    DeployStatus::sleeping,  DeployStatus::crashed,        DeployStatus::failed,       DeployStatus::removing,
    DeployStatus::removed,   DeployStatus::unknown,
};

TEST_CASE("every deploy status round-trips through Railway's upper-case name") {
  for (DeployStatus s : all_statuses) {
    const std::string name(to_string(s));
    CAPTURE(name);
    CHECK(parse_deploy_status(name) == s);
  }
  CHECK(to_string(DeployStatus::success) == "SUCCESS");
  CHECK(to_string(DeployStatus::needs_approval) == "NEEDS_APPROVAL");
  CHECK(to_string(DeployStatus::crashed) == "CRASHED");
}

TEST_CASE("an unrecognised or differently cased status parses as unknown, never as an error") {
  for (const char* text : {"", "success", "Success", "SUCCEEDED", "PAUSED", " SUCCESS"}) {
    CAPTURE(text);
    CHECK(parse_deploy_status(text) == DeployStatus::unknown);
  }
}

TEST_CASE("health: SUCCESS and SLEEPING are live, CRASHED/FAILED/REMOVING/REMOVED are broken, the rest pending") {
  for (DeployStatus s : all_statuses) {
    CAPTURE(to_string(s));
    Health expected = Health::pending;
    if (s == DeployStatus::success || s == DeployStatus::sleeping) expected = Health::healthy;
    if (s == DeployStatus::crashed || s == DeployStatus::failed || s == DeployStatus::removing ||
        s == DeployStatus::removed)
      expected = Health::broken;
    CHECK(health_of(s) == expected);
  }
}

TEST_CASE("a late webhook moving a deployment backwards is a regression; live and crashed may alternate") {
  struct Case {
    DeployStatus from, to;
    bool regression;
  };
  const Case cases[] = {
      {DeployStatus::success, DeployStatus::deploying, true},  {DeployStatus::success, DeployStatus::building, true},
      {DeployStatus::deploying, DeployStatus::queued, true},   {DeployStatus::failed, DeployStatus::success, true},
      {DeployStatus::removed, DeployStatus::success, true},    {DeployStatus::removed, DeployStatus::crashed, true},
      {DeployStatus::crashed, DeployStatus::building, true},   {DeployStatus::building, DeployStatus::deploying, false},
      {DeployStatus::deploying, DeployStatus::success, false}, {DeployStatus::queued, DeployStatus::failed, false},
      {DeployStatus::success, DeployStatus::crashed, false},   {DeployStatus::crashed, DeployStatus::success, false},
      {DeployStatus::success, DeployStatus::sleeping, false},  {DeployStatus::sleeping, DeployStatus::success, false},
      {DeployStatus::success, DeployStatus::failed, false},    {DeployStatus::success, DeployStatus::removed, false},
      {DeployStatus::unknown, DeployStatus::success, false},
  };
  for (const auto& c : cases) {
    CAPTURE(to_string(c.from));
    CAPTURE(to_string(c.to));
    CHECK(is_regression(c.from, c.to) == c.regression);
  }
}

TEST_CASE("no status is a regression from itself") {
  for (DeployStatus s : all_statuses) {
    CAPTURE(to_string(s));
    CHECK_FALSE(is_regression(s, s));
  }
}

}  // namespace
}  // namespace promoter::core
