// TEMPORARY (h-client only): the review-state names the GitHub adapter needs until the core helper's
// core/evidence.cpp lands; the lead drops this file in favour of that one when merging.
#include "core/evidence.hpp"

#include "core/enum_names.hpp"

namespace promoter::core {

namespace {
constexpr EnumNames<ReviewState, 5> kReviewStates{{{
    {ReviewState::approved, "APPROVED"},
    {ReviewState::changes_requested, "CHANGES_REQUESTED"},
    {ReviewState::commented, "COMMENTED"},
    {ReviewState::dismissed, "DISMISSED"},
    {ReviewState::pending, "PENDING"},
}}};
}  // namespace

std::string_view to_string(ReviewState state) { return kReviewStates.name(state, "UNKNOWN"); }
std::optional<ReviewState> parse_review_state(std::string_view text) { return kReviewStates.parse(text); }

}  // namespace promoter::core
