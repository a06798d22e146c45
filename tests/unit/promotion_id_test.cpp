// PromotionId: a number of its own that cannot be mixed up with other integers, printed as the number.
#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <type_traits>

#include <fmt/format.h>

#include "core/promotion_id.hpp"

namespace promoter::core {
namespace {

static_assert(!std::is_convertible_v<std::int64_t, PromotionId>, "a bare integer is not a promotion's id");
static_assert(!std::is_convertible_v<PromotionId, std::int64_t>, "nor the other way round");

TEST_CASE("a PromotionId keeps its number, compares by it, and prints as it") {
  const PromotionId seven{7};
  CHECK(seven.value() == 7);
  CHECK(seven == PromotionId{7});
  CHECK(seven != PromotionId{8});
  CHECK(seven < PromotionId{8});
  CHECK(PromotionId{} == PromotionId{0});
  CHECK(to_string(seven) == "7");
  CHECK(fmt::format("promotion {}", PromotionId{9'000'000'000}) == "promotion 9000000000");
  const std::set<PromotionId> ids{PromotionId{3}, PromotionId{1}, PromotionId{3}};
  CHECK(ids.size() == 2);
  CHECK(ids.begin()->value() == 1);
}

}  // namespace
}  // namespace promoter::core
