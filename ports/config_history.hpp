#pragma once
// Configuration drift's record: the latest observation of every service's variable names and of each
// environment's feature flags, the changes seen between observations, and the policy violations among them.
// Names, digests and times only: no value is ever passed here. ConfigWatch (daemon/) writes it, fenced by the
// leadership epoch; the API reads it on every instance. Calls block: make them from the blocking pool.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config_drift.hpp"
#include "core/effect.hpp"
#include "core/error.hpp"

namespace promoter::ports {

// What the watcher resumes from, and what GET /v1/env and /v1/flags show as "now".
struct ConfigState {
  std::vector<core::VariableSnapshot> variables;  // the latest snapshot of each (service, tier)
  std::vector<core::FlagSnapshot> flags;          // the latest snapshot of each tier
  std::set<std::string> staging_flags_ever_enabled;
};

// A change and, when it broke the staging-first rule, the violation it was judged to be.
struct JudgedVariableChange {
  core::VariableChange change;
  std::optional<core::ConfigViolation> violation;
};
struct JudgedFlagChange {
  core::FlagChange change;
  std::optional<core::ConfigViolation> violation;
};

struct VariableChangeRecord {
  std::int64_t id = 0;
  JudgedVariableChange judged;
};
struct FlagChangeRecord {
  std::int64_t id = 0;
  JudgedFlagChange judged;
};

class ConfigHistory {
 public:
  virtual ~ConfigHistory() = default;

  virtual core::Result<ConfigState> config_state() = 0;
  // Staging's variable changes of `service` since `since`, oldest first: what a production change is judged by.
  virtual core::Result<std::vector<core::VariableChange>> staging_changes(const std::string& service,
                                                                          core::Timestamp since) = 0;
  // One transaction: the snapshot replaces the stored one of its (service, tier); the changes are appended
  // with their violations; the audit notes are written. Fenced.
  virtual core::Result<void> record_variables(const core::VariableSnapshot&, const std::vector<JudgedVariableChange>&,
                                              const std::vector<core::AuditNote>&, core::Timestamp now) = 0;
  // The same for one tier's flags; a key staging has enabled is remembered as ever enabled.
  virtual core::Result<void> record_flags(const core::FlagSnapshot&, const std::vector<JudgedFlagChange>&,
                                          const std::vector<core::AuditNote>&, core::Timestamp now) = 0;
  // Newest first.
  virtual core::Result<std::vector<VariableChangeRecord>> variable_changes(const std::optional<std::string>& service,
                                                                           int limit) = 0;
  virtual core::Result<std::vector<FlagChangeRecord>> flag_changes(int limit) = 0;
  // Newest first: of one kind (nullopt: both) and one service (nullopt: any), so a filtered list is never cut
  // short by violations it leaves out. And how many there are in all.
  virtual core::Result<std::vector<core::ConfigViolation>> config_violations(std::optional<core::ViolationKind> kind,
                                                                             const std::optional<std::string>& service,
                                                                             int limit) = 0;
  virtual core::Result<std::int64_t> config_violation_count() = 0;
};

}  // namespace promoter::ports
