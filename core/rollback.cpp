#include "core/rollback.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "core/capped_list.hpp"

namespace promoter::core {

namespace {

// The releases a rollback may go to: each that was production and is not now, newest first, once each.
std::vector<const ProductionEntry*> valid_targets(const std::vector<ProductionEntry>& history) {
  std::vector<const ProductionEntry*> out;
  for (std::size_t i = 1; i < history.size(); ++i) {
    const ProductionEntry& e = history[i];
    if (e.sha == history.front().sha) continue;
    if (std::none_of(out.begin(), out.end(), [&](const ProductionEntry* seen) { return seen->sha == e.sha; }))
      out.push_back(&e);
  }
  return out;
}

std::string targets_text(const std::vector<const ProductionEntry*>& targets) {
  std::vector<std::string> items;
  for (const auto* t : targets)
    items.push_back(fmt::format("{} (production from {})", t->sha.abbrev(), format_timestamp(t->promoted_at)));
  return capped_list(items, 10, "; ");
}

}  // namespace

std::vector<std::string> applied_migrations(std::string_view migrate_output, const Evidence* evidence) {
  std::vector<std::string> out;
  if (evidence)
    for (const auto& [number, pull] : evidence->pulls)
      for (const auto& file : pull.ddl.ddl_files)
        out.push_back(fmt::format("{} (PR #{} {})", file, pull.number, pull.url));
  if (!out.empty()) return out;
  constexpr std::string_view prefix = "applied ";
  std::size_t at = 0;
  while (at <= migrate_output.size()) {
    const std::size_t nl = std::min(migrate_output.find('\n', at), migrate_output.size());
    const std::string_view line = migrate_output.substr(at, nl - at);
    if (line.starts_with(prefix) && line.size() > prefix.size()) out.emplace_back(line.substr(prefix.size()));
    at = nl + 1;
  }
  return out;
}

std::string schema_state_of(std::string_view migrate_output) {
  std::string_view last;
  std::size_t at = 0;
  while (at <= migrate_output.size()) {
    const std::size_t nl = std::min(migrate_output.find('\n', at), migrate_output.size());
    const std::string_view line = migrate_output.substr(at, nl - at);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) last = line;
    at = nl + 1;
  }
  return std::string(last);
}

Result<RollbackTarget> choose_rollback_target(const std::vector<ProductionEntry>& history,
                                              const std::optional<Sha>& requested) {
  if (history.empty()) return fail(ErrorCode::failed_precondition, "nothing to roll back: no release is production");
  const auto targets = valid_targets(history);
  if (targets.empty())
    return fail(ErrorCode::failed_precondition,
                fmt::format("nothing to roll back to: {} is the only release that has been production here",
                            history.front().sha.abbrev()));
  const ProductionEntry* target = targets.front();
  if (requested) {
    if (*requested == history.front().sha)
      return fail(ErrorCode::failed_precondition, fmt::format("{} is production already; valid targets: {}",
                                                              requested->abbrev(), targets_text(targets)));
    auto it =
        std::find_if(targets.begin(), targets.end(), [&](const ProductionEntry* t) { return t->sha == *requested; });
    if (it == targets.end())
      return fail(ErrorCode::failed_precondition,
                  fmt::format("{} was never production here, so a rollback cannot go to it; valid targets: {}",
                              requested->abbrev(), targets_text(targets)));
    target = *it;
  }
  // Migrations never run backwards, so every migration applied after the target first became production is in
  // the database now, whatever came between (a rollback to it since does not undo them): walk from the
  // promotion after its oldest entry to the newest (history is newest first).
  RollbackTarget out{target->sha, target->promoted_at, {}};
  std::size_t first = 0;
  for (std::size_t i = 0; i < history.size(); ++i)
    if (history[i].sha == target->sha) first = i;
  for (std::size_t i = first; i-- > 0;)
    out.migrations_since.insert(out.migrations_since.end(), history[i].migrations.begin(), history[i].migrations.end());
  return out;
}

Result<void> check_rollback_schema(const RollbackTarget& target, bool accept_schema) {
  if (target.migrations_since.empty() || accept_schema) return {};
  return fail(ErrorCode::failed_precondition,
              fmt::format("{} was production before {} migration{} ran ({}); a rollback runs no migration backwards, "
                          "so the database keeps the newer schema. The DDL rollback scripts are in the \"Rollback\" "
                          "section of each migration's PR description. Add --accept-schema to roll the code back "
                          "anyway",
                          target.sha.abbrev(), target.migrations_since.size(),
                          target.migrations_since.size() == 1 ? "" : "s", capped_list(target.migrations_since)));
}

std::vector<std::string> rollback_order(const Policy& policy) {
  if (!policy.rollback_order.empty()) return policy.rollback_order;
  return {policy.services.rbegin(), policy.services.rend()};
}

PromotionPlan make_rollback_plan(const Policy& policy) {
  PromotionPlan plan;
  auto add = [&](StepKind kind, std::string service = {}) {
    plan.steps.push_back(PlanStep{static_cast<int>(plan.steps.size()), kind, std::move(service)});
  };
  add(StepKind::preflight);
  for (const auto& service : rollback_order(policy)) add(StepKind::deploy, service);
  if (policy.verify_after_deploy) add(StepKind::verify);
  add(StepKind::record);
  return plan;
}

std::string_view to_string(RollbackTrigger t) {
  return t == RollbackTrigger::verify_failure ? "verify_failure" : "operator";
}

std::optional<RollbackTrigger> parse_rollback_trigger(std::string_view text) {
  if (text == "operator") return RollbackTrigger::operator_request;
  if (text == "verify_failure") return RollbackTrigger::verify_failure;
  return std::nullopt;
}

std::string describe(const Rollback& r) {
  return fmt::format("rollback to {} by {} ({}): {}", r.target.abbrev(), r.by, to_string(r.trigger), r.reason);
}

std::string pin_reason(const Pin& pin) {
  return fmt::format("environment pinned by {} at {}: {}; no promotion starts until promotectl resume --reason ...",
                     pin.by, format_timestamp(pin.at), pin.reason);
}

}  // namespace promoter::core
