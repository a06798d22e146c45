#pragma once
// A release: one commit on staging, its per-service deployments and the gate facts recorded for it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config_drift.hpp"
#include "core/deploy_status.hpp"
#include "core/evidence.hpp"
#include "core/promotion_id.hpp"
#include "core/sha.hpp"
#include "core/time.hpp"

namespace promoter::core {

enum class ReleaseState {
  deploying,          // not every service is live on staging yet (or one crashed)
  soaking,            // live everywhere; waiting for soak, smoke or approval
  ready,              // every gate holds; waits only for another promotion to finish
  promoting,          // a promotion of it is running
  promoted,           // it is (or was) production
  promotion_failed,   // its promotion failed; production was left as the journal says
  promotion_aborted,  // an operator aborted its promotion; production was left as the journal says
  rejected,           // an operator rejected it
  superseded,         // a newer release replaced it on staging before it was promoted
  staging_failed,     // a staging deployment of it failed to build or deploy
};

std::string_view to_string(ReleaseState);
std::optional<ReleaseState> parse_release_state(std::string_view);
// Terminal states accept no more gate facts.
bool is_terminal(ReleaseState);
// States whose gates are still being gathered (deploying, soaking, ready, staging_failed): the ones decide's
// refresh() derives from the facts, and the ones the GitHub and configuration watchers gather for.
bool is_gathering(ReleaseState);

struct StagingDeployment {
  std::string service;
  std::string deployment_id;
  DeployStatus status = DeployStatus::unknown;
  Timestamp updated_at{};               // when promoterd last saw it change
  std::optional<Timestamp> created_at;  // the source's creation time, to order deployments of one service
};

struct SmokeResult {
  std::string suite;
  bool passed = false;
  std::string reported_by;
  Timestamp at{};
  std::string details;
};

// An approval or a rejection: who, when, why.
struct Verdict {
  std::string by;
  Timestamp at{};
  std::string reason;
  std::string gate_facts{};  // the gates as they stood at that moment, for the audit
};

// A release sent down the emergency path: its soak was waived by an operator, for a recorded incident.
struct Hotfix {
  std::string by;
  Timestamp at{};
  std::string reason;
  std::string incident_url;
  bool overrides_freeze = false;  // it may start inside a freeze window or a line stop
};

struct Release {
  explicit Release(Sha s) : sha(std::move(s)) {}

  Sha sha;
  std::int64_t seq = 0;  // order of first sighting: higher is newer
  std::string author;    // commit author as staging metadata names it (a git login)
  // Commits this one descends from, as staging metadata reported them (e.g. `git rev-list`): what
  // establishes that a hotfix builds on production. Empty: unknown.
  std::vector<std::string> ancestors;
  Timestamp first_seen_at{};
  std::map<std::string, StagingDeployment> deployments;  // by service name
  std::optional<Timestamp> live_at;                      // first moment every service was healthy
  std::optional<Timestamp> soak_started_at;              // start of the current continuous healthy run
  int soak_resets = 0;
  // Since when soak and smoke hold and only approval is missing: set when the ready-for-approval notice goes
  // out, cleared when that stops being so. It is what keeps the notice to once per wait.
  std::optional<Timestamp> awaiting_approval_since;
  std::map<std::string, SmokeResult> smoke;  // latest result per suite
  std::vector<Verdict> approvals;
  std::optional<Verdict> rejection;
  std::optional<Hotfix> hotfix;
  ReleaseState state = ReleaseState::deploying;
  std::string state_reason;
  std::optional<PromotionId> promotion_id;
  // The latest GitHub evidence for the range production..sha; nullopt until the first gathering.
  std::optional<Evidence> evidence;
  // The latest observation of variable names and production's flags, as the env and flag gates read it. Not
  // persisted: the config watcher feeds it again after a restart (until then the gates wait).
  std::optional<ConfigView> config;
};

}  // namespace promoter::core
