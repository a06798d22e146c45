#include "core/promotion_outcome.hpp"

#include "core/enum_names.hpp"

namespace promoter::core {

namespace {
constexpr EnumNames<PromotionOutcome, 3> names{{{
    {PromotionOutcome::succeeded, "succeeded"},
    {PromotionOutcome::failed, "failed"},
    {PromotionOutcome::aborted, "aborted"},
}}};
}  // namespace

std::string_view to_string(PromotionOutcome o) { return names.name(o, "unknown"); }
std::optional<PromotionOutcome> parse_promotion_outcome(std::string_view text) { return names.parse(text); }

}  // namespace promoter::core
