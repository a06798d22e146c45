// [[policy.freeze]]: calendars in which no promotion starts. Time zones come from the system's tz database
// (adapters/tz_database); core evaluates the windows with the zone rules as data.
#include <algorithm>
#include <array>
#include <cctype>
#include <fmt/format.h>
#include <map>

#include "adapters/tz_database.hpp"
#include "core/freeze.hpp"
#include "daemon/config/config_sections.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

namespace {

using namespace std::chrono_literals;

std::optional<std::chrono::weekday> parse_weekday(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::array<std::string_view, 7> names{"sunday",   "monday", "tuesday", "wednesday",
                                                     "thursday", "friday", "saturday"};
  for (unsigned i = 0; i < names.size(); ++i)
    if (text == names[i] || (text.size() == 3 && names[i].starts_with(text))) return std::chrono::weekday{i};
  return std::nullopt;
}

// "16:00" (or "24:00", the end of the day) as minutes after midnight.
std::optional<std::chrono::minutes> parse_time_of_day(std::string_view text) {
  unsigned h = 0, m = 0;
  char tail = 0;
  const std::string s(text);
  if (s.size() != 5 || std::sscanf(s.c_str(), "%2u:%2u%c", &h, &m, &tail) != 2) return std::nullopt;
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return std::chrono::hours{h} + std::chrono::minutes{m};
}

// A one-off bound: a TOML date-time with an offset is an instant; a local date-time or a date (midnight) is
// read in the window's time zone.
core::Timestamp read_instant(const TomlReader& r, const toml::table& t, std::string_view key,
                             const core::ZoneRules& zone, const toml::node* owner) {
  const toml::node* node = t.get(key);
  const std::string where = fmt::format("policy.freeze.{}", key);
  if (!node) r.error(owner, fmt::format("{} is required", where));
  toml::date date{};
  toml::time time{};
  std::optional<toml::time_offset> offset;
  if (const auto* dt = node->as_date_time()) {
    date = dt->get().date;
    time = dt->get().time;
    offset = dt->get().offset;
  } else if (const auto* d = node->as_date()) {
    date = d->get();
  } else {
    r.error(node, fmt::format("{} must be a TOML date-time (2026-12-24T18:00:00, unquoted; an offset such as +01:00 "
                              "is optional) or a date (2026-12-24: midnight)",
                              where));
  }
  const std::chrono::year_month_day ymd{std::chrono::year{date.year}, std::chrono::month{date.month},
                                        std::chrono::day{date.day}};
  const auto local = core::LocalTime{std::chrono::local_days{ymd}} + std::chrono::hours{time.hour} +
                     std::chrono::minutes{time.minute} + std::chrono::seconds{time.second};
  if (offset) return core::Timestamp{local.time_since_epoch()} - std::chrono::minutes{offset->minutes};
  return core::from_local(local, zone);
}

core::WeeklyWindow read_weekly(const TomlReader& r, const toml::table& t, core::ZoneRules zone) {
  core::WeeklyWindow w;
  w.zone = std::move(zone);
  const toml::array* days = t.get("days")->as_array();
  if (!days || days->empty())
    r.error(t.get("days"), "policy.freeze.days must be a non-empty array of weekdays like [\"fri\"]");
  for (const auto& day : *days) {
    const auto* text = day.as_string();
    auto wd = text ? parse_weekday(text->get()) : std::nullopt;
    if (!wd) r.error(&day, "policy.freeze.days entries must be weekdays: mon, tue, wed, thu, fri, sat, sun");
    if (std::find(w.days.begin(), w.days.end(), *wd) != w.days.end())
      r.error(&day, "policy.freeze.days names a day twice");
    w.days.push_back(*wd);
  }
  const auto from = r.string(t, "from", "policy.freeze.from");
  if (!from) r.error(&t, "policy.freeze.from is required: the local time the window opens, like \"16:00\"");
  auto opens = parse_time_of_day(*from);
  if (!opens) r.error(t.get("from"), "policy.freeze.from must be a local time of day like \"16:00\" (00:00 to 24:00)");
  w.opens = *opens;
  const auto until = r.string(t, "until", "policy.freeze.until");
  if (!until) r.error(&t, "policy.freeze.until is required: \"08:00\" (the same or the next day) or \"mon 08:00\"");
  std::string_view clock = *until;
  if (const auto space = until->find(' '); space != std::string::npos) {
    auto wd = parse_weekday(until->substr(0, space));
    if (!wd) r.error(t.get("until"), "policy.freeze.until must be \"HH:MM\" or \"<weekday> HH:MM\" like \"mon 08:00\"");
    w.closes_day = *wd;
    clock = std::string_view(*until).substr(space + 1);
  }
  auto closes = parse_time_of_day(clock);
  if (!closes)
    r.error(t.get("until"), "policy.freeze.until must be \"HH:MM\" or \"<weekday> HH:MM\" like \"mon 08:00\"");
  w.closes = *closes;
  return w;
}

}  // namespace

void read_freeze_windows(const TomlReader& r, const toml::node& node, core::Policy& p) {
  const toml::array* entries = node.as_array();
  if (!entries) r.error(&node, "policy.freeze must be an array of tables ([[policy.freeze]])");
  std::map<std::string, core::ZoneRules> zones;  // read each zone once
  std::map<std::string, const toml::node*> seen;
  for (const auto& entry : *entries) {
    const toml::table* t = entry.as_table();
    if (!t) r.error(&entry, "each [[policy.freeze]] entry must be a table");
    r.only(*t, "policy.freeze", {"name", "reason", "from", "until", "days", "time_zone"});
    core::FreezeWindow window;
    window.name = r.required_string(*t, &entry, "name", "policy.freeze.name");
    window.reason = r.required_string(*t, &entry, "reason", "policy.freeze.reason");
    if (auto [it, fresh] = seen.emplace(window.name, &entry); !fresh)
      r.error(t->get("name"), fmt::format("freeze window '{}' is defined twice: names must be unique", window.name));
    const std::string zone_name = r.string(*t, "time_zone", "policy.freeze.time_zone").value_or("UTC");
    auto zone = zones.find(zone_name);
    if (zone == zones.end()) {
      auto rules = adapters::zone_rules(zone_name);
      if (!rules) r.error(t->get("time_zone") ? t->get("time_zone") : &entry, rules.error());
      zone = zones.emplace(zone_name, std::move(*rules)).first;
    }
    if (t->get("days")) {
      window.when = read_weekly(r, *t, zone->second);
    } else {
      window.when = core::OneOffWindow{read_instant(r, *t, "from", zone->second, &entry),
                                       read_instant(r, *t, "until", zone->second, &entry)};
    }
    // The pure checks (an empty range, times out of the day) on this window alone, so the error points at it.
    const std::vector<core::FreezeWindow> one{window};
    if (auto problems = core::freeze_window_problems(one); !problems.empty()) r.error(&entry, problems.front());
    p.freezes.push_back(std::move(window));
  }
}

}  // namespace promoter::daemon
