#include "core/business_days.hpp"

namespace promoter::core {

bool is_business_day(std::chrono::sys_days day, const std::set<std::chrono::sys_days>& holidays) {
  const std::chrono::weekday wd{day};
  return wd != std::chrono::Saturday && wd != std::chrono::Sunday && !holidays.contains(day);
}

Timestamp add_business_days(Timestamp from, int days, const std::set<std::chrono::sys_days>& holidays) {
  auto day = std::chrono::floor<std::chrono::days>(from);
  const auto time_of_day = from - day;
  // Every year has business days, so this ends even with a long holiday list; the bound guards a
  // configuration that would mark every day a holiday.
  for (int counted = 0, steps = 0; counted < days && steps < 3660; ++steps) {
    day += std::chrono::days{1};
    if (is_business_day(day, holidays)) ++counted;
  }
  return std::chrono::time_point_cast<Duration>(day + time_of_day);
}

}  // namespace promoter::core
