#include "core/capped_list.hpp"

#include <fmt/format.h>

namespace promoter::core {

std::string capped_list(const std::vector<std::string>& items, std::size_t shown, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < shown; ++i)
    out += fmt::format("{}{}", i ? separator : std::string_view{}, items[i]);
  if (items.size() > shown) out += fmt::format("{}… and {} more", separator, items.size() - shown);
  return out;
}

}  // namespace promoter::core
