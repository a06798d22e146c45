#pragma once
// The IANA time zone database, as the system's tzdata has it (/usr/share/zoneinfo, read by Howard Hinnant's
// date library): a zone's rules become core::ZoneRules, data core can convert local times with.
#include <expected>
#include <string>
#include <string_view>

#include "core/zone_rules.hpp"

namespace promoter::adapters {

// The rules of an IANA zone ("Europe/Amsterdam", "UTC") with every UTC-offset transition from 1970 to 2100.
// An error names the zone and says why ("no such time zone in the system's tz database").
std::expected<core::ZoneRules, std::string> zone_rules(std::string_view iana_name);

}  // namespace promoter::adapters
