#pragma once
// The preflight step's re-check: just before the first step that changes production, the release must still be
// the one this promotion is promoting, and its gates must still hold at `now`.
#include <string>

#include "core/error.hpp"
#include "core/promotion_id.hpp"
#include "core/sha.hpp"
#include "core/time.hpp"
#include "core/world.hpp"

namespace promoter::core {

// A detail line naming the gates that hold, or failed_precondition saying why the promotion must not go on.
Result<std::string> preflight_verdict(const World&, const Sha&, PromotionId promotion_id, Timestamp now);

}  // namespace promoter::core
