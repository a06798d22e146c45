#pragma once
// Reasons list what a person must act on; at 10,000 services a full list is a quarter megabyte nobody reads.
#include <string>
#include <string_view>
#include <vector>

namespace promoter::core {

// "a, b, c": the items joined with `separator` while there are at most `shown`; beyond that the first
// `shown`, then "… and N more". Items that hold commas read better joined with "; ".
std::string capped_list(const std::vector<std::string>& items, std::size_t shown = 10,
                        std::string_view separator = ", ");

}  // namespace promoter::core
