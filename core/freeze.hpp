#pragma once
// Freeze windows (calendars in which no promotion starts: holidays, launches, weekends) and stop-the-line
// (an operator's immediate freeze), evaluated purely: `now` and the zone rules come in as values.
#include <chrono>
#include <compare>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/time.hpp"
#include "core/zone_rules.hpp"

namespace promoter::core {

// A one-off range: [from, until).
struct OneOffWindow {
  Timestamp from{};
  Timestamp until{};
  auto operator<=>(const OneOffWindow&) const = default;
};

// A weekly window: it opens on each of `days` at local `opens` (time of day) and closes at the next local
// `closes_day` `closes` after that (e.g. days={Fri}, opens=16:00, closes_day=Mon, closes=08:00); a closes_day
// equal to the opening day with closes <= opens is a week later. When closes_day is nullopt it closes the same
// day at `closes`, or the next day if closes <= opens (22:00–06:00 spans midnight). 24:00 is the end of the
// day. Local times that do not exist (a DST gap) mean the end of the gap; ones that happen twice, the first.
struct WeeklyWindow {
  std::vector<std::chrono::weekday> days;
  std::chrono::minutes opens{};
  std::optional<std::chrono::weekday> closes_day;
  std::chrono::minutes closes{};
  ZoneRules zone;
  bool operator==(const WeeklyWindow&) const = default;
};

struct FreezeWindow {
  std::string name;  // "weekend", "black friday"
  std::string reason;
  std::variant<OneOffWindow, WeeklyWindow> when;
  bool operator==(const FreezeWindow&) const = default;
};

// Stop the line: an operator's immediate freeze of the environment, until they lift it or `until`.
struct LineStop {
  std::string by;
  Timestamp at{};
  std::string reason;
  std::optional<Timestamp> until;
  bool operator==(const LineStop&) const = default;
  // Whether it still holds at `now` (a stop past its `until` holds nothing back and cannot be lifted).
  bool in_force(Timestamp now) const { return !until || now < *until; }
};

// What holds promotions back at `now`, if anything. A line stop wins over windows; among windows, the first
// active one in configuration order.
struct ActiveFreeze {
  std::string name;    // the window's name, or "stop-the-line"
  std::string reason;  // the window's reason, or "<by>: <reason>"
  // When promotions may start again: the end of the whole frozen stretch (windows and a line stop that overlap
  // or touch are one stretch). nullopt: no end known, i.e. a line stop with no `until`, or a stretch that goes
  // on for more than a year (weekly windows that together cover the whole week).
  std::optional<Timestamp> ends_at;
};

std::optional<ActiveFreeze> active_freeze(const std::vector<FreezeWindow>&, const std::optional<LineStop>&,
                                          Timestamp now);

// The next instant after `now` at which some window or the line stop begins or ends: when the daemon must
// look again (a release whose other gates hold starts by itself then). nullopt: never.
std::optional<Timestamp> next_freeze_change(const std::vector<FreezeWindow>&, const std::optional<LineStop>&,
                                            Timestamp now);

// "freeze: weekend (no Friday-evening deploys) until 2026-12-07T07:00:00.000Z" — the gate's reason text
// ("until further notice" when there is no end).
std::string freeze_reason(const ActiveFreeze&);

// Configuration checks (for `promoterd --check`): a window with no name, two windows with the same name, a
// one-off window with until <= from, a weekly window with no days, a day that is not one, or times outside
// 00:00–24:00. Plain messages: the config reader adds file:line:col.
std::vector<std::string> freeze_window_problems(const std::vector<FreezeWindow>&);

// Windows that overlap from `now` on ("'weekend' and 'year end' overlap from 2026-12-25T15:00:00.000Z to ..."),
// one message per pair, for `promotectl freezes --check`. Overlaps are allowed (a holiday on a weekend): they
// are reported because two windows meaning the same days is often a mistake. Weekly windows are compared
// over the coming week and around each one-off window.
std::vector<std::string> freeze_overlaps(const std::vector<FreezeWindow>&, Timestamp now);

}  // namespace promoter::core
