#pragma once
// Staging deployment statuses (Railway's enum) and what each means for the soak.
#include <string_view>

namespace promoter::core {

enum class DeployStatus {
  queued,
  waiting,
  initializing,
  building,
  deploying,
  needs_approval,
  skipped,
  success,
  sleeping,
  crashed,
  failed,
  removing,
  removed,
  unknown,  // a status this build does not know: tolerated, counts as not live
};

// Parses Railway's upper-case names; anything else is `unknown` (never an error: Railway adds values).
DeployStatus parse_deploy_status(std::string_view);
std::string_view to_string(DeployStatus);

enum class Health {
  pending,  // on its way (or unknown): soak has not started
  healthy,  // live and serving
  broken,   // crashed, failed or removed: a running soak resets
};
Health health_of(DeployStatus);

// Statuses only move forward for one deployment, except healthy <-> crashed: a late webhook must not
// move a deployment back (e.g. DEPLOYING arriving after SUCCESS).
bool is_regression(DeployStatus from, DeployStatus to);

}  // namespace promoter::core
