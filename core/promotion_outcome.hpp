#pragma once
// How a promotion ended. One value, so "succeeded and aborted" cannot be said.
#include <optional>
#include <string_view>

namespace promoter::core {

enum class PromotionOutcome {
  succeeded,  // every step succeeded: the release is production
  failed,     // a step failed; production is as the journal says
  aborted,    // an operator stopped it before a step that changes production
};

std::string_view to_string(PromotionOutcome);
std::optional<PromotionOutcome> parse_promotion_outcome(std::string_view);

}  // namespace promoter::core
