// [[policy.freeze]] as promoterd reads it: time zones from the system's tz database, one-off and weekly windows,
// and file:line:col errors for what cannot be a window. load_config_text on text: no file, no database.
#include <doctest/doctest.h>

#include <string>

#include "adapters/tz_database.hpp"
#include "daemon/config/config.hpp"

namespace promoter::daemon {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_days;

// The smallest configuration promoterd accepts, then `freeze` (the [[policy.freeze]] entries).
std::string config_with(const std::string& freeze) {
  return R"(environment = "production"
[server]
listen = "127.0.0.1:0"
[database]
url_env = "PROMOTER_DATABASE_URL"
[policy]
soak = "30m"
require_smoke = false
[[services]]
name = "api"
restart_order = 1
)" + freeze;
}

core::Timestamp utc(int y, unsigned m, unsigned d, std::chrono::minutes time) {
  return core::Timestamp{sys_days{std::chrono::year{y} / m / d}} + time;
}

TEST_CASE("the tz database gives Amsterdam's DST transitions and refuses an unknown zone") {
  auto zone = adapters::zone_rules("Europe/Amsterdam");
  REQUIRE(zone.has_value());
  CHECK(zone->name == "Europe/Amsterdam");
  // Summer time 2026 starts on 29 March at 01:00 UTC and ends on 25 October at 01:00 UTC.
  CHECK(zone->offset_at(utc(2026, 3, 29, 59min)) == 1h);
  CHECK(zone->offset_at(utc(2026, 3, 29, 60min)) == 2h);
  CHECK(zone->offset_at(utc(2026, 10, 25, 59min)) == 2h);
  CHECK(zone->offset_at(utc(2026, 10, 25, 60min)) == 1h);
  auto utc_zone = adapters::zone_rules("UTC");
  REQUIRE(utc_zone.has_value());
  CHECK(utc_zone->transitions.empty());
  auto unknown = adapters::zone_rules("Mars/Olympus_Mons");
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().find("no time zone 'Mars/Olympus_Mons'") != std::string::npos);
}

TEST_CASE("weekly and one-off freeze windows are read with their zones") {
  auto c = load_config_text(config_with(R"(
[[policy.freeze]]
name = "weekend"
reason = "no Friday-evening deploys"
days = ["fri", "Saturday"]
from = "16:00"
until = "mon 08:00"
time_zone = "Europe/Amsterdam"
[[policy.freeze]]
name = "year end"
reason = "holidays"
from = 2026-12-23T18:00:00
until = 2027-01-04
time_zone = "Europe/Amsterdam"
[[policy.freeze]]
name = "launch"
reason = "launch"
from = 2026-12-10T09:00:00+01:00
until = 2026-12-10T12:00:00Z
)"),
                            "promoter.toml");
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error()));
  const auto& f = c->policy.freezes;
  REQUIRE(f.size() == 3);
  const auto& weekly = std::get<core::WeeklyWindow>(f[0].when);
  CHECK(weekly.days == std::vector<std::chrono::weekday>{std::chrono::Friday, std::chrono::Saturday});
  CHECK(weekly.opens == 16h);
  CHECK(weekly.closes_day == std::chrono::Monday);
  CHECK(weekly.closes == 8h);
  CHECK(weekly.zone.name == "Europe/Amsterdam");
  const auto& year_end = std::get<core::OneOffWindow>(f[1].when);
  CHECK(year_end.from == utc(2026, 12, 23, 17h));  // 18:00 in Amsterdam in winter
  CHECK(year_end.until == utc(2027, 1, 3, 23h));   // a date is midnight, local
  const auto& launch = std::get<core::OneOffWindow>(f[2].when);
  CHECK(launch.from == utc(2026, 12, 10, 8h));  // the offset wins: UTC is the default zone
  CHECK(launch.until == utc(2026, 12, 10, 12h));
}

TEST_CASE("what cannot be a freeze window is refused with file:line:col") {
  auto refused = [](const std::string& freeze) {
    auto c = load_config_text(config_with(freeze), "promoter.toml");
    REQUIRE_FALSE(c.has_value());
    return c.error();
  };
  const std::string zone = refused(R"(
[[policy.freeze]]
name = "w"
reason = "r"
days = ["fri"]
from = "16:00"
until = "18:00"
time_zone = "Europe/Amsterdm"
)");
  CHECK(zone.find("promoter.toml:19:13: no time zone 'Europe/Amsterdm'") == 0);
  CHECK(refused("[[policy.freeze]]\nname = \"w\"\nreason = \"r\"\nfrom = 2026-12-10\nuntil = 2026-12-09\n")
            .find("until 2026-12-09T00:00:00.000Z is not after from") != std::string::npos);
  CHECK(refused("[[policy.freeze]]\nname = \"w\"\nreason = \"r\"\ndays = [\"fry\"]\nfrom = \"16:00\"\nuntil = "
                "\"18:00\"\n")
            .find("policy.freeze.days entries must be weekdays") != std::string::npos);
  CHECK(refused("[[policy.freeze]]\nname = \"w\"\nreason = \"r\"\ndays = [\"fri\"]\nfrom = \"25:00\"\nuntil = "
                "\"18:00\"\n")
            .find("policy.freeze.from must be a local time of day") != std::string::npos);
  CHECK(refused("[[policy.freeze]]\nname = \"w\"\nreason = \"r\"\nfrom = \"2026-12-10\"\nuntil = 2026-12-11\n")
            .find("must be a TOML date-time") != std::string::npos);
  CHECK(refused("[[policy.freeze]]\nname = \"w\"\nreason = \"r\"\nfrom = 2026-12-10\nuntil = 2026-12-11\n"
                "[[policy.freeze]]\nname = \"w\"\nreason = \"again\"\nfrom = 2026-12-12\nuntil = 2026-12-13\n")
            .find("freeze window 'w' is defined twice") != std::string::npos);
  CHECK(refused("[[policy.freeze]]\nname = \"w\"\nfrom = 2026-12-10\nuntil = 2026-12-11\n")
            .find("policy.freeze.reason is required") != std::string::npos);
}

}  // namespace
}  // namespace promoter::daemon
