#include "daemon/http/freeze_json.hpp"

#include <array>
#include <fmt/format.h>

namespace promoter::daemon {

using nlohmann::json;

namespace {

std::string day_name(std::chrono::weekday d) {
  static constexpr std::array<const char*, 7> names{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  return names[d.c_encoding() % 7];
}

std::string time_of_day(std::chrono::minutes m) { return fmt::format("{:02}:{:02}", m.count() / 60, m.count() % 60); }

json optional_time(const std::optional<core::Timestamp>& t) {
  return t ? json(core::format_timestamp(*t)) : json(nullptr);
}

}  // namespace

json freeze_window_json(const core::FreezeWindow& w) {
  json out = {{"name", w.name}, {"reason", w.reason}};
  if (const auto* once = std::get_if<core::OneOffWindow>(&w.when)) {
    out["kind"] = "one_off";
    out["from"] = core::format_timestamp(once->from);
    out["until"] = core::format_timestamp(once->until);
    return out;
  }
  const auto& weekly = std::get<core::WeeklyWindow>(w.when);
  json days = json::array();
  for (auto d : weekly.days) days.push_back(day_name(d));
  out["kind"] = "weekly";
  out["days"] = days;
  out["from"] = time_of_day(weekly.opens);
  out["until"] = weekly.closes_day ? fmt::format("{} {}", day_name(*weekly.closes_day), time_of_day(weekly.closes))
                                   : time_of_day(weekly.closes);
  out["time_zone"] = weekly.zone.name;
  return out;
}

json freeze_state_json(const std::vector<core::FreezeWindow>& windows, const std::optional<core::LineStop>& stop,
                       core::Timestamp now) {
  const auto active = core::active_freeze(windows, stop, now);
  json line_stop = nullptr;
  if (stop && stop->in_force(now))
    line_stop = {{"by", stop->by},
                 {"at", core::format_timestamp(stop->at)},
                 {"reason", stop->reason},
                 {"until", optional_time(stop->until)}};
  json current = nullptr;
  if (active)
    current = {{"name", active->name},
               {"reason", active->reason},
               {"ends_at", optional_time(active->ends_at)},
               {"text", core::freeze_reason(*active)}};
  return {{"frozen", active.has_value()},
          {"active", current},
          {"line_stop", line_stop},
          {"next_change", optional_time(core::next_freeze_change(windows, stop, now))}};
}

}  // namespace promoter::daemon
