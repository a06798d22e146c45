#include "adapters/tz_database.hpp"

#include <date/tz.h>
#include <fmt/format.h>
#include <stdexcept>

namespace promoter::adapters {

namespace {
// Freeze windows are about the years people deploy in; the tables past 2037 are the rules projected forward.
constexpr auto first_year = date::year{1970};
constexpr auto last_year = date::year{2100};
}  // namespace

std::expected<core::ZoneRules, std::string> zone_rules(std::string_view iana_name) {
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(iana_name);
  } catch (const std::exception&) {
    // locate_zone throws for an unknown name, and when the database itself cannot be read.
    return std::unexpected(
        fmt::format("no time zone '{}' in the system's tz database (/usr/share/zoneinfo); use an "
                    "IANA name like \"Europe/Amsterdam\" or \"UTC\"",
                    iana_name));
  }
  const date::sys_seconds start = date::sys_days{first_year / date::January / 1};
  const date::sys_seconds end = date::sys_days{last_year / date::January / 1};
  core::ZoneRules rules;
  rules.name = std::string(zone->name());
  date::sys_info info = zone->get_info(start);
  rules.initial_offset = info.offset;
  core::Duration last = info.offset;
  while (info.end < end) {
    info = zone->get_info(info.end);
    // Abbreviation-only changes keep the offset: not a transition core needs.
    if (info.offset != last) {
      rules.transitions.push_back(core::ZoneTransition{core::Timestamp{info.begin.time_since_epoch()}, info.offset});
      last = info.offset;
    }
  }
  return rules;
}

}  // namespace promoter::adapters
