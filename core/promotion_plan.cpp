#include "core/promotion_plan.hpp"

#include "core/enum_names.hpp"
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace promoter::core {

namespace {
constexpr EnumNames<StepKind, 6> kind_names{{{
    {StepKind::preflight, "preflight"},
    {StepKind::migrate, "migrate"},
    {StepKind::deploy, "deploy"},
    {StepKind::verify, "verify"},
    {StepKind::tag, "tag"},
    {StepKind::record, "record"},
}}};
constexpr EnumNames<StepState, 4> state_names{{{
    {StepState::planned, "planned"},
    {StepState::started, "started"},
    {StepState::succeeded, "succeeded"},
    {StepState::failed, "failed"},
}}};
}  // namespace

std::string_view to_string(StepKind k) { return kind_names.name(k, "preflight"); }

std::optional<StepKind> parse_step_kind(std::string_view text) { return kind_names.parse(text); }

std::string_view to_string(StepState s) { return state_names.name(s, "planned"); }

std::optional<StepState> parse_step_state(std::string_view text) { return state_names.parse(text); }

std::string PlanStep::name() const {
  return kind == StepKind::deploy ? fmt::format("deploy:{}", service) : std::string(to_string(kind));
}

PromotionPlan make_plan(const Policy& policy) {
  PromotionPlan plan;
  auto add = [&](StepKind kind, std::string service = {}) {
    plan.steps.push_back(PlanStep{static_cast<int>(plan.steps.size()), kind, std::move(service)});
  };
  add(StepKind::preflight);
  if (policy.run_migrations) add(StepKind::migrate);
  for (const auto& service : policy.services) add(StepKind::deploy, service);
  if (policy.verify_after_deploy) add(StepKind::verify);
  if (policy.tag_production) add(StepKind::tag);
  add(StepKind::record);
  return plan;
}

Result<void> check_step_transition(StepState from, StepState to) {
  const bool ok = (from == StepState::planned && to == StepState::started) ||
                  (from == StepState::started &&
                   (to == StepState::started || to == StepState::succeeded || to == StepState::failed));
  if (ok) return {};
  return fail(ErrorCode::conflict, fmt::format("a step cannot go from {} to {}", to_string(from), to_string(to)));
}

NextStep next_step(std::span<const StepState> journal) {
  for (std::size_t i = 0; i < journal.size(); ++i) {
    const int index = static_cast<int>(i);
    switch (journal[i]) {
      case StepState::succeeded:
        continue;
      case StepState::planned:
        return {NextStep::Kind::run, index};
      case StepState::started:
        return {NextStep::Kind::reconcile, index};
      case StepState::failed:
        return {NextStep::Kind::stopped, index};
    }
  }
  return {NextStep::Kind::done, -1};
}

bool abort_stops_before(StepKind kind) {
  return kind == StepKind::preflight || kind == StepKind::migrate || kind == StepKind::deploy;
}

std::string production_changes(std::span<const PlanStep> steps, std::span<const StepState> journal) {
  std::vector<std::string> changed, partly, untouched;
  for (std::size_t i = 0; i < steps.size() && i < journal.size(); ++i) {
    if (steps[i].kind != StepKind::migrate && steps[i].kind != StepKind::deploy) continue;
    if (journal[i] == StepState::succeeded)
      changed.push_back(steps[i].name());
    else if (journal[i] == StepState::started)
      partly.push_back(steps[i].name());
    else if (journal[i] == StepState::planned)
      untouched.push_back(steps[i].name());
  }
  auto list = [](const std::vector<std::string>& names) {
    return names.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(names, ", "));
  };
  std::string out = fmt::format("already changed: {}", list(changed));
  if (!partly.empty()) out += fmt::format("; may have changed in part: {}", list(partly));
  return out + fmt::format("; not touched: {}", list(untouched));
}

std::string idempotency_key(PromotionId promotion_id, const PlanStep& step) {
  return fmt::format("promotion-{}-step-{}-{}", promotion_id, step.index, step.name());
}

}  // namespace promoter::core
