#pragma once
// The preflight step's re-check: just before the first step that changes production, the release must still be
// the one this promotion is promoting, and its gates must still hold at `now`.
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/sha.hpp"
#include "core/time.hpp"
#include "core/world.hpp"

namespace promoter::core {

// A detail line naming the gates that hold, or failed_precondition saying why the promotion must not go on.
Result<std::string> preflight_verdict(const World&, const Sha&, std::int64_t promotion_id, Timestamp now);

}  // namespace promoter::core
