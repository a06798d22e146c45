#pragma once
// A promotion's number, as the promotions table assigns it. A type of its own so that it cannot be mixed up
// with an obligation's id, a count or an epoch; in JSON and SQL it stays a plain number.
#include <compare>
#include <cstdint>
#include <string>

#include <fmt/format.h>

namespace promoter::core {

class PromotionId {
 public:
  constexpr PromotionId() = default;
  constexpr explicit PromotionId(std::int64_t value) : value_(value) {}
  constexpr std::int64_t value() const { return value_; }
  friend constexpr auto operator<=>(const PromotionId&, const PromotionId&) = default;

 private:
  std::int64_t value_ = 0;
};

inline std::string to_string(PromotionId id) { return std::to_string(id.value()); }

}  // namespace promoter::core

template <>
struct fmt::formatter<promoter::core::PromotionId> : fmt::formatter<std::int64_t> {
  template <class FormatContext>
  auto format(promoter::core::PromotionId id, FormatContext& ctx) const {
    return fmt::formatter<std::int64_t>::format(id.value(), ctx);
  }
};
