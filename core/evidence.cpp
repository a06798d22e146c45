#include "core/evidence.hpp"

#include "core/enum_names.hpp"

namespace promoter::core {

namespace {

// GitHub's own text for a review's state, as the REST API and webhooks spell it.
constexpr EnumNames<ReviewState, 5> review_state_names{{{
    {ReviewState::approved, "APPROVED"},
    {ReviewState::changes_requested, "CHANGES_REQUESTED"},
    {ReviewState::commented, "COMMENTED"},
    {ReviewState::dismissed, "DISMISSED"},
    {ReviewState::pending, "PENDING"},
}}};

}  // namespace

std::string_view to_string(ReviewState state) { return review_state_names.name(state, "COMMENTED"); }

std::optional<ReviewState> parse_review_state(std::string_view text) { return review_state_names.parse(text); }

}  // namespace promoter::core
