#pragma once
// A promotion as an ordered plan of steps, and the pure rules for walking its journal.
//
// Order is the policy: preflight, then migrations, then each service in restart order, then verify,
// then record. next_step() never offers step i before every step below i succeeded, so no service
// is deployed before the migration step succeeded, and a failed step stops the plan.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/policy.hpp"
#include "core/promotion_id.hpp"

namespace promoter::core {

// tag: the production tag on GitHub (refs/tags/<prefix><UTC time>), after verify and before record, when the
// policy asks for tags; it never fails the promotion (production already runs the release by then).
enum class StepKind { preflight, migrate, deploy, verify, tag, record };
std::string_view to_string(StepKind);
std::optional<StepKind> parse_step_kind(std::string_view);

struct PlanStep {
  int index = 0;
  StepKind kind = StepKind::preflight;
  std::string service;       // for deploy steps
  std::string name() const;  // "preflight", "migrate", "deploy:worker", ...
};

struct PromotionPlan {
  std::vector<PlanStep> steps;
};

PromotionPlan make_plan(const Policy&);

enum class StepState { planned, started, succeeded, failed };
std::string_view to_string(StepState);
std::optional<StepState> parse_step_state(std::string_view);
// planned -> started -> succeeded | failed; started -> started is a resume after a crash.
Result<void> check_step_transition(StepState from, StepState to);

struct NextStep {
  enum class Kind {
    run,        // step `index` has not started: perform its side effect
    reconcile,  // step `index` started before a crash: ask the world whether its effect happened
    done,       // every step succeeded
    stopped,    // step `index` failed: the plan stops here
  };
  Kind kind = Kind::done;
  int index = -1;
};

NextStep next_step(std::span<const StepState> journal);

// An operator's abort stops a plan before its next step that could still change production (preflight,
// migrate, deploy). Once every deploy step succeeded production runs the release, so verify and record
// go on: the production record must not disagree with what runs.
bool abort_stops_before(StepKind);

// What a stopped plan leaves in production, for whoever picks it up: "already changed: migrate,
// deploy:worker; not touched: deploy:api". Only steps with a side effect on production (migrate, deploy)
// are named; a step left started (interrupted) "may have changed in part". `journal[i]` is step i's state.
std::string production_changes(std::span<const PlanStep> steps, std::span<const StepState> journal);

// The key a side effect carries so that the world (and a reconcile) can recognise it.
std::string idempotency_key(PromotionId, const PlanStep&);

}  // namespace promoter::core
