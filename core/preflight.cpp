#include "core/preflight.hpp"

#include <fmt/format.h>
#include <string>
#include <vector>

#include "core/capped_list.hpp"
#include "core/gates.hpp"

namespace promoter::core {

Result<std::string> preflight_verdict(const World& w, const Sha& sha, PromotionId promotion_id, Timestamp now) {
  // A rollback has no gates to re-check (the emergency path): it must still be the environment's rollback.
  if (w.rollback && w.rollback->promotion_id == promotion_id) {
    const Rollback& rb = *w.rollback;
    std::string schema = rb.migrations_since.empty()
                             ? std::string("no migration ran since the target was production")
                             : fmt::format("{} migration(s) stay applied: {}", rb.migrations_since.size(),
                                           capped_list(rb.migrations_since));
    if (!rb.schema_state.empty()) schema += fmt::format("; schema state: {}", rb.schema_state);
    return fmt::format("{}; {}", describe(rb), schema);
  }
  const Release* r = w.find(sha);
  if (!r || r->state != ReleaseState::promoting || r->promotion_id != promotion_id)
    return fail(ErrorCode::failed_precondition,
                fmt::format("release {} is no longer being promoted by promotion {}", sha.abbrev(), promotion_id));
  // While promoting, production is still the release this one replaces: the evidence range is unchanged.
  const auto gates = evaluate_gates(*r, w.policy, now, w.production);
  if (!gates.all_ok()) {
    std::vector<std::string> failing;
    for (const GateStatus* gate : gates.all())
      if (!gate->ok) failing.push_back(gate->reason);
    return fail(ErrorCode::failed_precondition, fmt::format("gates no longer hold: {}", fmt::join(failing, "; ")));
  }
  return fmt::format("gates hold: {}", gate_facts(gates));
}

}  // namespace promoter::core
