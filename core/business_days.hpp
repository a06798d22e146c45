#pragma once
// Business-day arithmetic for hotfix obligations: Saturdays, Sundays and configured holidays do not count.
// Days are UTC calendar days; the time of day is kept.
#include <chrono>
#include <set>

#include "core/time.hpp"

namespace promoter::core {

bool is_business_day(std::chrono::sys_days day, const std::set<std::chrono::sys_days>& holidays);

// `from` plus `days` business days at the same time of day: Friday 15:00 + 2 is Tuesday 15:00, and a
// request on a Saturday counts from the Monday after (Saturday 10:00 + 2 is Tuesday 10:00).
Timestamp add_business_days(Timestamp from, int days, const std::set<std::chrono::sys_days>& holidays);

}  // namespace promoter::core
