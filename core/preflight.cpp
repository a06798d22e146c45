#include "core/preflight.hpp"

#include <fmt/format.h>

#include "core/gates.hpp"

namespace promoter::core {

Result<std::string> preflight_verdict(const World& w, const Sha& sha, PromotionId promotion_id, Timestamp now) {
  const Release* r = w.find(sha);
  if (!r || r->state != ReleaseState::promoting || r->promotion_id != promotion_id)
    return fail(ErrorCode::failed_precondition,
                fmt::format("release {} is no longer being promoted by promotion {}", sha.abbrev(), promotion_id));
  const auto gates = evaluate_gates(*r, w.policy, now);
  if (!gates.all_ok())
    return fail(ErrorCode::failed_precondition, fmt::format("gates no longer hold: {}; {}; {}", gates.soak.reason,
                                                            gates.smoke.reason, gates.approval.reason));
  return fmt::format("gates hold: {}; {}; {}", gates.soak.reason, gates.smoke.reason, gates.approval.reason);
}

}  // namespace promoter::core
