#include "core/deploy_status.hpp"

#include "core/enum_names.hpp"

namespace promoter::core {

namespace {

constexpr EnumNames<DeployStatus, 14> names{{{
    {DeployStatus::queued, "QUEUED"},
    {DeployStatus::waiting, "WAITING"},
    {DeployStatus::initializing, "INITIALIZING"},
    {DeployStatus::building, "BUILDING"},
    {DeployStatus::deploying, "DEPLOYING"},
    {DeployStatus::needs_approval, "NEEDS_APPROVAL"},
    {DeployStatus::skipped, "SKIPPED"},
    {DeployStatus::success, "SUCCESS"},
    {DeployStatus::sleeping, "SLEEPING"},
    {DeployStatus::crashed, "CRASHED"},
    {DeployStatus::failed, "FAILED"},
    {DeployStatus::removing, "REMOVING"},
    {DeployStatus::removed, "REMOVED"},
    {DeployStatus::unknown, "UNKNOWN"},
}}};

// Progress rank of a status for one deployment; equal ranks may alternate.
int rank(DeployStatus s) {
  switch (s) {
    case DeployStatus::queued:
    case DeployStatus::waiting:
    case DeployStatus::needs_approval:
    case DeployStatus::skipped:
    case DeployStatus::unknown:
      return 0;
    case DeployStatus::initializing:
    case DeployStatus::building:
      return 1;
    case DeployStatus::deploying:
      return 2;
    case DeployStatus::success:
    case DeployStatus::sleeping:
    case DeployStatus::crashed:
      return 3;
    case DeployStatus::failed:
      return 4;
    case DeployStatus::removing:
      return 5;
    case DeployStatus::removed:
      return 6;
  }
  return 0;
}

}  // namespace

DeployStatus parse_deploy_status(std::string_view text) { return names.parse(text).value_or(DeployStatus::unknown); }

std::string_view to_string(DeployStatus s) { return names.name(s, "UNKNOWN"); }

Health health_of(DeployStatus s) {
  switch (s) {
    case DeployStatus::success:
    case DeployStatus::sleeping:
      return Health::healthy;  // an app-sleeping service is live, only idle
    case DeployStatus::crashed:
    case DeployStatus::failed:
    case DeployStatus::removing:
    case DeployStatus::removed:
      return Health::broken;
    default:
      return Health::pending;
  }
}

bool is_regression(DeployStatus from, DeployStatus to) { return rank(to) < rank(from); }

}  // namespace promoter::core
