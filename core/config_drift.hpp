#pragma once
// Configuration that changes without a deploy: environment-variable names (Railway variables, Fly secrets)
// and feature flags, as plain values. Never a value: a variable is its name, the provider's change time and,
// for Fly, the provider's digest of the value (which moves when the value changes). The rules here decide
// what changed between two observations and whether a production change came after the same change on
// staging (the policy: "staging first, then production").
#include <compare>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace promoter::core {

enum class ConfigTier { staging, production };
std::string_view to_string(ConfigTier);
std::optional<ConfigTier> parse_config_tier(std::string_view);

// One variable as a provider lists it.
struct VariableSighting {
  std::string name;
  std::optional<Timestamp> updated_at;  // the provider's updatedAt (Railway) or updated_at (Fly), when it says
  std::string digest;                   // Fly's digest of the value; empty where the provider has none (Railway)
  auto operator<=>(const VariableSighting&) const = default;
};

// Every variable one service has in one environment at one moment, sorted by name, names unique.
struct VariableSnapshot {
  std::string service;
  ConfigTier tier = ConfigTier::staging;
  std::vector<VariableSighting> variables;
  Timestamp observed_at{};
  auto operator<=>(const VariableSnapshot&) const = default;
};

enum class ChangeKind { added, removed, changed };
std::string_view to_string(ChangeKind);
std::optional<ChangeKind> parse_change_kind(std::string_view);

struct VariableChange {
  std::string service;
  ConfigTier tier = ConfigTier::staging;
  std::string name;
  ChangeKind kind = ChangeKind::added;
  Timestamp observed_at{};                 // when promoterd saw it
  std::optional<Timestamp> provider_at{};  // when the provider says it happened (removals: none)
  // provider_at when known, else observed_at: what "before" compares.
  Timestamp at() const { return provider_at.value_or(observed_at); }
  auto operator<=>(const VariableChange&) const = default;
};

// The changes from `before` to `after` (same service and tier), by name: a new name is `added` (provider_at
// its updated_at), a missing one `removed`, one whose updated_at moved forward or whose digest differs
// `changed`. No `before` (the first observation) is a baseline: no changes.
std::vector<VariableChange> diff_variables(const std::optional<VariableSnapshot>& before,
                                           const VariableSnapshot& after);

// A name that one environment has by design (each environment its own database) with the reason.
struct ExemptName {
  std::string name;
  std::string reason;
  auto operator<=>(const ExemptName&) const = default;
};

struct EnvPolicy {
  bool require_env = false;  // the env gate: production must have every name staging has
  std::vector<ExemptName> production_only;
  std::vector<ExemptName> staging_only;
  // A production change is "staging first" when the same name changed on staging within `staging_window`
  // before it; `clock_skew` is how far the two providers' clocks may disagree (a staging change up to that
  // much after the production one still counts as before it).
  Duration staging_window = std::chrono::hours{24 * 14};
  Duration clock_skew = std::chrono::minutes{5};

  bool production_only_name(std::string_view) const;
  bool staging_only_name(std::string_view) const;
};

enum class ViolationKind { env_production_first, flag_production_first };
std::string_view to_string(ViolationKind);
std::optional<ViolationKind> parse_violation_kind(std::string_view);

// A policy violation: reported (audit, metric, notice, /v1/status), never blocking.
struct ConfigViolation {
  ViolationKind kind = ViolationKind::env_production_first;
  std::string service;  // empty for flags
  std::string name;     // variable name or flag key
  Timestamp at{};       // when the production change happened (provider time when known)
  std::string reason;   // names only, e.g. "api: STRIPE_KEY was added in production with no change on staging ..."
  auto operator<=>(const ConfigViolation&) const = default;
};

// Judges one production change. `staging_changes`: staging's changes of the same service (any names; the
// function picks the name); `staging_now`: staging's latest snapshot of that service, whose updated_at times
// count as changes too (they cover changes made before promoterd watched). A production `added` or `changed`
// is a violation unless the name is production-only or staging changed it within
// [at - staging_window, at + clock_skew]. Removals are never violations (the env gate covers them).
std::optional<ConfigViolation> judge_production_change(const VariableChange& change,
                                                       const std::vector<VariableChange>& staging_changes,
                                                       const std::optional<VariableSnapshot>& staging_now,
                                                       const EnvPolicy&);

// What one service's names look like on both sides, as the env gate reads them.
struct ServiceNames {
  std::set<std::string> staging;
  std::set<std::string> production;
  auto operator<=>(const ServiceNames&) const = default;
};

// The configuration a release's env and flag gates read: the latest observation of every observable service
// (one whose staging and production both list variables), and production's flag keys.
struct ConfigView {
  std::map<std::string, ServiceNames> services;           // by service name
  std::optional<std::set<std::string>> production_flags;  // keys in production's flag table; nullopt: not read
  Timestamp observed_at{};
  auto operator<=>(const ConfigView&) const = default;
};

// Names staging has that production lacks, leaving out staging-only ones, sorted.
std::vector<std::string> missing_in_production(const ServiceNames&, const EnvPolicy&);

// ---- feature flags ----

struct FlagSighting {
  std::string key;
  bool enabled = false;
  std::optional<Timestamp> updated_at;
  auto operator<=>(const FlagSighting&) const = default;
};

// Every row of one environment's flag table, sorted by key, keys unique.
struct FlagSnapshot {
  ConfigTier tier = ConfigTier::staging;
  std::vector<FlagSighting> flags;
  Timestamp observed_at{};
  auto operator<=>(const FlagSnapshot&) const = default;
};

enum class FlagChangeKind { added, removed, enabled, disabled };
std::string_view to_string(FlagChangeKind);
std::optional<FlagChangeKind> parse_flag_change_kind(std::string_view);

struct FlagChange {
  ConfigTier tier = ConfigTier::staging;
  std::string key;
  FlagChangeKind kind = FlagChangeKind::added;
  bool enabled = false;  // the state after the change
  Timestamp observed_at{};
  std::optional<Timestamp> provider_at{};  // the row's updated_at
  Timestamp at() const { return provider_at.value_or(observed_at); }
  auto operator<=>(const FlagChange&) const = default;
};

// As diff_variables, for flags: added (with its state), removed, enabled, disabled. No `before`: baseline.
std::vector<FlagChange> diff_flags(const std::optional<FlagSnapshot>& before, const FlagSnapshot& after);

// A production change that leaves the flag enabled (added enabled, or enabled) is a violation when staging
// has never been seen with it enabled (`staging_ever_enabled`: the keys staging has had enabled at any
// observation, including now).
std::optional<ConfigViolation> judge_flag_change(const FlagChange&, const std::set<std::string>& staging_ever_enabled);

}  // namespace promoter::core
