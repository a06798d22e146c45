#include "core/freeze.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>

namespace promoter::core {

namespace {

using namespace std::chrono_literals;
using LocalDays = std::chrono::local_days;

// An open end (a line stop nobody set an `until` for).
constexpr Timestamp forever = Timestamp::max();

// A stretch that reaches this far past `now` is reported with no end: only windows that cover the whole
// week do that, and following them for ever would never end.
constexpr Duration stretch_horizon = std::chrono::days{366};

// One frozen range in UTC: [from, until).
struct Span {
  Timestamp from;
  Timestamp until;
};

LocalDays local_day_of(Timestamp t, const ZoneRules& zone) {
  return std::chrono::floor<std::chrono::days>(to_local(t, zone));
}

// The occurrences of a weekly window that open on local days first..last (inclusive), empty ones left out
// (both ends in the same DST gap).
void weekly_spans(const WeeklyWindow& w, LocalDays first, LocalDays last, std::vector<Span>& out) {
  if (w.closes_day && !w.closes_day->ok()) return;  // freeze_window_problems() refuses it
  for (LocalDays day = first; day <= last; day += std::chrono::days{1}) {
    const std::chrono::weekday wd{day};
    if (std::find(w.days.begin(), w.days.end(), wd) == w.days.end()) continue;
    std::chrono::days ahead{0};
    if (w.closes_day) {
      ahead = *w.closes_day - wd;  // 0..6 days
      if (ahead == std::chrono::days{0} && w.closes <= w.opens) ahead = std::chrono::days{7};
    } else if (w.closes <= w.opens) {
      ahead = std::chrono::days{1};
    }
    const Timestamp from = from_local(LocalTime{day} + w.opens, w.zone);
    const Timestamp until = from_local(LocalTime{day + ahead} + w.closes, w.zone);
    if (from < until) out.push_back(Span{from, until});
  }
}

// Every span of one window that can contain, touch or follow instants from `t` on for about a week: a
// weekly window's occurrences opening from 8 local days before `t` (an occurrence lasts at most 7 days,
// plus a DST hour) to `days_after` local days after it.
void window_spans(const FreezeWindow& window, Timestamp t, int days_after, std::vector<Span>& out) {
  if (const auto* once = std::get_if<OneOffWindow>(&window.when)) {
    if (once->from < once->until) out.push_back(Span{once->from, once->until});
    return;
  }
  const auto& weekly = std::get<WeeklyWindow>(window.when);
  const LocalDays day = local_day_of(t, weekly.zone);
  weekly_spans(weekly, day - std::chrono::days{8}, day + std::chrono::days{days_after}, out);
}

std::optional<Span> line_stop_span(const std::optional<LineStop>& stop) {
  if (!stop) return std::nullopt;
  const Timestamp until = stop->until.value_or(forever);
  if (stop->at >= until) return std::nullopt;
  return Span{stop->at, until};
}

std::vector<Span> spans_around(const std::vector<FreezeWindow>& windows, const std::optional<LineStop>& stop,
                               Timestamp t, int days_after) {
  std::vector<Span> spans;
  for (const auto& w : windows) window_spans(w, t, days_after, spans);
  if (auto s = line_stop_span(stop)) spans.push_back(*s);
  return spans;
}

bool contains(const Span& s, Timestamp t) { return s.from <= t && t < s.until; }

// The end of the frozen stretch that holds `now`: follow spans that contain or start at the stretch's end so
// far (touching spans are one stretch) until none does. nullopt: no end (an open line stop, or past the
// horizon).
std::optional<Timestamp> stretch_end(const std::vector<FreezeWindow>& windows, const std::optional<LineStop>& stop,
                                     Timestamp now) {
  Timestamp end = now;
  for (;;) {
    Timestamp next = end;
    for (const Span& s : spans_around(windows, stop, end, 1))
      if (s.from <= end && end < s.until) next = std::max(next, s.until);
    if (next == end) return end;
    if (next == forever || next - now > stretch_horizon) return std::nullopt;
    end = next;
  }
}

std::string format_time_of_day(std::chrono::minutes m) {
  const auto sign = m < 0min ? "-" : "";
  const auto abs = m < 0min ? -m : m;
  return fmt::format("{}{:02}:{:02}", sign, abs.count() / 60, abs.count() % 60);
}

}  // namespace

std::optional<ActiveFreeze> active_freeze(const std::vector<FreezeWindow>& windows, const std::optional<LineStop>& stop,
                                          Timestamp now) {
  std::optional<ActiveFreeze> found;
  if (auto s = line_stop_span(stop); s && contains(*s, now)) {
    found = ActiveFreeze{"stop-the-line", fmt::format("{}: {}", stop->by, stop->reason), std::nullopt};
  } else {
    for (const auto& w : windows) {
      std::vector<Span> spans;
      window_spans(w, now, 1, spans);
      if (std::any_of(spans.begin(), spans.end(), [&](const Span& s) { return contains(s, now); })) {
        found = ActiveFreeze{w.name, w.reason, std::nullopt};
        break;
      }
    }
  }
  if (found) found->ends_at = stretch_end(windows, stop, now);
  return found;
}

std::optional<Timestamp> next_freeze_change(const std::vector<FreezeWindow>& windows,
                                            const std::optional<LineStop>& stop, Timestamp now) {
  // A weekly window with any day opens within the next 7 local days: 8 covers them with a day to spare.
  std::optional<Timestamp> next;
  auto consider = [&](Timestamp t) {
    if (t > now && t != forever && (!next || t < *next)) next = t;
  };
  for (const Span& s : spans_around(windows, stop, now, 8)) {
    consider(s.from);
    consider(s.until);
  }
  return next;
}

std::string freeze_reason(const ActiveFreeze& f) {
  const std::string why = f.reason.empty() ? "" : fmt::format(" ({})", f.reason);
  const std::string until = f.ends_at ? format_timestamp(*f.ends_at) : "further notice";
  return fmt::format("freeze: {}{} until {}", f.name, why, until);
}

std::vector<std::string> freeze_overlaps(const std::vector<FreezeWindow>& windows, Timestamp now) {
  // The instants to look around: now, and the start of each one-off window still to come or running.
  std::vector<Timestamp> anchors{now};
  for (const auto& w : windows)
    if (const auto* once = std::get_if<OneOffWindow>(&w.when); once && once->until > now)
      anchors.push_back(std::max(once->from, now));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < windows.size(); ++i) {
    for (std::size_t j = i + 1; j < windows.size(); ++j) {
      std::optional<Span> first;
      for (Timestamp anchor : anchors) {
        std::vector<Span> a, b;
        window_spans(windows[i], anchor, 8, a);
        window_spans(windows[j], anchor, 8, b);
        for (const Span& x : a)
          for (const Span& y : b) {
            const Span both{std::max({x.from, y.from, now}), std::min(x.until, y.until)};
            if (both.from < both.until && (!first || both.from < first->from)) first = both;
          }
      }
      if (first)
        out.push_back(fmt::format("'{}' and '{}' overlap from {} to {}", windows[i].name, windows[j].name,
                                  format_timestamp(first->from), format_timestamp(first->until)));
    }
  }
  return out;
}

std::vector<std::string> freeze_window_problems(const std::vector<FreezeWindow>& windows) {
  std::vector<std::string> problems;
  std::map<std::string, int> seen;
  for (const auto& w : windows) {
    if (w.name.empty())
      problems.push_back("a freeze window has no name: give it one (it is shown in gate reasons)");
    else if (++seen[w.name] == 2)
      problems.push_back(fmt::format("freeze window '{}' is defined more than once: names must be unique", w.name));
    if (const auto* once = std::get_if<OneOffWindow>(&w.when)) {
      if (once->until <= once->from)
        problems.push_back(fmt::format("freeze window '{}': until {} is not after from {}", w.name,
                                       format_timestamp(once->until), format_timestamp(once->from)));
      continue;
    }
    const auto& weekly = std::get<WeeklyWindow>(w.when);
    if (weekly.days.empty())
      problems.push_back(fmt::format("freeze window '{}': a weekly window needs at least one day", w.name));
    const bool bad_day = std::any_of(weekly.days.begin(), weekly.days.end(), [](auto d) { return !d.ok(); }) ||
                         (weekly.closes_day && !weekly.closes_day->ok());
    if (bad_day) problems.push_back(fmt::format("freeze window '{}': a day is not a day of the week", w.name));
    for (const auto& [what, time] : {std::pair{"opens", weekly.opens}, std::pair{"closes", weekly.closes}})
      if (time < 0min || time > std::chrono::minutes{24h})
        problems.push_back(fmt::format("freeze window '{}': {} at {} is outside 00:00 to 24:00", w.name, what,
                                       format_time_of_day(time)));
  }
  return problems;
}

}  // namespace promoter::core
