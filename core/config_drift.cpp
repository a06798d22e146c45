#include "core/config_drift.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/enum_names.hpp"

namespace promoter::core {

namespace {

constexpr EnumNames<ConfigTier, 2> config_tier_names{{{
    {ConfigTier::staging, "staging"},
    {ConfigTier::production, "production"},
}}};

constexpr EnumNames<ChangeKind, 3> change_kind_names{{{
    {ChangeKind::added, "added"},
    {ChangeKind::removed, "removed"},
    {ChangeKind::changed, "changed"},
}}};

constexpr EnumNames<FlagChangeKind, 4> flag_change_kind_names{{{
    {FlagChangeKind::added, "added"},
    {FlagChangeKind::removed, "removed"},
    {FlagChangeKind::enabled, "enabled"},
    {FlagChangeKind::disabled, "disabled"},
}}};

constexpr EnumNames<ViolationKind, 2> violation_kind_names{{{
    {ViolationKind::env_production_first, "env_production_first"},
    {ViolationKind::flag_production_first, "flag_production_first"},
}}};

bool listed(const std::vector<ExemptName>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(), [&](const ExemptName& n) { return n.name == name; });
}

// "14d" for whole days (the usual staging window), format_duration otherwise ("36h", "90m").
std::string format_window(Duration d) {
  constexpr Duration day = std::chrono::hours{24};
  if (d >= day && d % day == Duration::zero()) return fmt::format("{}d", d / day);
  return format_duration(d);
}

// By name, whatever order the input came in: the caller promises sorted and unique, the maps do not rely on it.
template <class Item, class Key>
std::map<std::string_view, const Item*> by_key(const std::vector<Item>& items, Key key) {
  std::map<std::string_view, const Item*> out;
  for (const auto& item : items) out.emplace(key(item), &item);
  return out;
}

// The provider's time moved forward; a time that appears or disappears is no news of a change.
bool moved_forward(const std::optional<Timestamp>& before, const std::optional<Timestamp>& after) {
  return before && after && *after > *before;
}

}  // namespace

std::string_view to_string(ConfigTier t) { return config_tier_names.name(t, "staging"); }
std::optional<ConfigTier> parse_config_tier(std::string_view s) { return config_tier_names.parse(s); }
std::string_view to_string(ChangeKind k) { return change_kind_names.name(k, "changed"); }
std::optional<ChangeKind> parse_change_kind(std::string_view s) { return change_kind_names.parse(s); }
std::string_view to_string(FlagChangeKind k) { return flag_change_kind_names.name(k, "added"); }
std::optional<FlagChangeKind> parse_flag_change_kind(std::string_view s) { return flag_change_kind_names.parse(s); }
std::string_view to_string(ViolationKind k) { return violation_kind_names.name(k, "env_production_first"); }
std::optional<ViolationKind> parse_violation_kind(std::string_view s) { return violation_kind_names.parse(s); }

bool EnvPolicy::production_only_name(std::string_view name) const { return listed(production_only, name); }
bool EnvPolicy::staging_only_name(std::string_view name) const { return listed(staging_only, name); }

std::vector<VariableChange> diff_variables(const std::optional<VariableSnapshot>& before,
                                           const VariableSnapshot& after) {
  if (!before) return {};  // the first observation is the baseline
  const auto old_names =
      by_key(before->variables, [](const VariableSighting& v) -> std::string_view { return v.name; });
  const auto new_names = by_key(after.variables, [](const VariableSighting& v) -> std::string_view { return v.name; });
  auto change = [&](std::string_view name, ChangeKind kind, std::optional<Timestamp> provider_at) {
    return VariableChange{after.service, after.tier, std::string(name), kind, after.observed_at, provider_at};
  };

  std::vector<VariableChange> changes;
  auto o = old_names.begin();
  auto n = new_names.begin();
  while (o != old_names.end() || n != new_names.end()) {
    if (n == new_names.end() || (o != old_names.end() && o->first < n->first)) {
      changes.push_back(change(o->first, ChangeKind::removed, std::nullopt));
      ++o;
    } else if (o == old_names.end() || n->first < o->first) {
      changes.push_back(change(n->first, ChangeKind::added, n->second->updated_at));
      ++n;
    } else {
      const VariableSighting& was = *o->second;
      const VariableSighting& is = *n->second;
      const bool digest_moved = !was.digest.empty() && !is.digest.empty() && was.digest != is.digest;
      if (moved_forward(was.updated_at, is.updated_at) || digest_moved)
        changes.push_back(change(n->first, ChangeKind::changed, is.updated_at));
      ++o;
      ++n;
    }
  }
  return changes;
}

std::optional<ConfigViolation> judge_production_change(const VariableChange& change,
                                                       const std::vector<VariableChange>& staging_changes,
                                                       const std::optional<VariableSnapshot>& staging_now,
                                                       const EnvPolicy& policy) {
  if (change.tier != ConfigTier::production) return std::nullopt;
  if (change.kind == ChangeKind::removed) return std::nullopt;  // the env gate covers what production lacks
  if (policy.production_only_name(change.name)) return std::nullopt;

  const Timestamp at = change.at();
  const Timestamp earliest = at - policy.staging_window;
  const Timestamp latest = at + policy.clock_skew;
  // Every staging time of the name: its recorded changes, and the provider's time in staging's latest list.
  std::vector<Timestamp> staging_times;
  for (const auto& s : staging_changes)
    if (s.tier == ConfigTier::staging && s.service == change.service && s.name == change.name &&
        (s.kind == ChangeKind::added || s.kind == ChangeKind::changed))
      staging_times.push_back(s.at());
  if (staging_now && staging_now->tier == ConfigTier::staging && staging_now->service == change.service)
    for (const auto& v : staging_now->variables)
      if (v.name == change.name && v.updated_at) staging_times.push_back(*v.updated_at);

  if (std::any_of(staging_times.begin(), staging_times.end(),
                  [&](Timestamp t) { return earliest <= t && t <= latest; }))
    return std::nullopt;

  std::string reason =
      fmt::format("{}: {} was {} in production at {} with no change on staging in the {} before it", change.service,
                  change.name, to_string(change.kind), format_timestamp(at), format_window(policy.staging_window));
  // Staging's latest change of it before the production one, when there is one (older than the window).
  std::optional<Timestamp> last_before;
  for (const Timestamp t : staging_times)
    if (t < earliest && (!last_before || t > *last_before)) last_before = t;
  if (last_before) reason += fmt::format(" (staging last changed it at {})", format_timestamp(*last_before));
  return ConfigViolation{ViolationKind::env_production_first, change.service, change.name, at, std::move(reason)};
}

std::vector<std::string> missing_in_production(const ServiceNames& names, const EnvPolicy& policy) {
  std::vector<std::string> missing;
  for (const auto& name : names.staging)
    if (!names.production.contains(name) && !policy.staging_only_name(name)) missing.push_back(name);
  return missing;  // sorted: a set's order
}

std::vector<FlagChange> diff_flags(const std::optional<FlagSnapshot>& before, const FlagSnapshot& after) {
  if (!before) return {};  // the first observation is the baseline
  const auto old_keys = by_key(before->flags, [](const FlagSighting& f) -> std::string_view { return f.key; });
  const auto new_keys = by_key(after.flags, [](const FlagSighting& f) -> std::string_view { return f.key; });
  auto change = [&](std::string_view key, FlagChangeKind kind, bool enabled, std::optional<Timestamp> provider_at) {
    return FlagChange{after.tier, std::string(key), kind, enabled, after.observed_at, provider_at};
  };

  std::vector<FlagChange> changes;
  auto o = old_keys.begin();
  auto n = new_keys.begin();
  while (o != old_keys.end() || n != new_keys.end()) {
    if (n == new_keys.end() || (o != old_keys.end() && o->first < n->first)) {
      changes.push_back(change(o->first, FlagChangeKind::removed, false, std::nullopt));
      ++o;
    } else if (o == old_keys.end() || n->first < o->first) {
      changes.push_back(change(n->first, FlagChangeKind::added, n->second->enabled, n->second->updated_at));
      ++n;
    } else {
      const FlagSighting& is = *n->second;
      if (o->second->enabled != is.enabled)
        changes.push_back(change(n->first, is.enabled ? FlagChangeKind::enabled : FlagChangeKind::disabled, is.enabled,
                                 is.updated_at));
      ++o;
      ++n;
    }
  }
  return changes;
}

std::optional<ConfigViolation> judge_flag_change(const FlagChange& change,
                                                 const std::set<std::string>& staging_ever_enabled) {
  if (change.tier != ConfigTier::production) return std::nullopt;
  const bool turns_on =
      change.kind == FlagChangeKind::enabled || (change.kind == FlagChangeKind::added && change.enabled);
  if (!turns_on || staging_ever_enabled.contains(change.key)) return std::nullopt;
  const Timestamp at = change.at();
  return ConfigViolation{
      ViolationKind::flag_production_first, "", change.key, at,
      fmt::format("flag {} was {} in production at {} but has never been enabled on staging", change.key,
                  change.kind == FlagChangeKind::added ? "added enabled" : "enabled", format_timestamp(at))};
}

}  // namespace promoter::core
