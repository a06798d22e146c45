#pragma once
// One table per enum of (value, text): to_string and parse are lookups in it, so the two never disagree.
#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace promoter::core {

template <class E, std::size_t N>
struct EnumNames {
  std::array<std::pair<E, std::string_view>, N> entries;

  constexpr std::string_view name(E value, std::string_view fallback) const {
    for (const auto& [e, text] : entries)
      if (e == value) return text;
    return fallback;
  }
  constexpr std::optional<E> parse(std::string_view text) const {
    for (const auto& [e, t] : entries)
      if (t == text) return e;
    return std::nullopt;
  }
};

}  // namespace promoter::core
