// Freeze windows and stop-the-line: what holds promotions back at an instant, until when, when to look again,
// the gate's reason text and the configuration checks. Weekly windows are in Europe/Amsterdam-like local
// time (rules written by hand for 2026-2027), across both clock changes.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/freeze.hpp"
#include "core/time.hpp"
#include "core/zone_rules.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

Timestamp utc(int y, unsigned mo, unsigned d, int h, int mi = 0, int ms = 0) {
  return Timestamp{sys_days{year{y} / month{mo} / day{d}}} + hours{h} + minutes{mi} + milliseconds{ms};
}

constexpr Duration tick = 1ms;

// CET (+1h) in winter, CEST (+2h) in summer; the clocks change at 01:00 UTC on the last Sundays of March and
// October.
ZoneRules amsterdam() {
  return ZoneRules{"Europe/Amsterdam",
                   1h,
                   {ZoneTransition{utc(2026, 3, 29, 1), 2h}, ZoneTransition{utc(2026, 10, 25, 1), 1h},
                    ZoneTransition{utc(2027, 3, 28, 1), 2h}, ZoneTransition{utc(2027, 10, 31, 1), 1h}}};
}

FreezeWindow weekly(std::string name, std::vector<weekday> days, minutes opens, std::optional<weekday> closes_day,
                    minutes closes, ZoneRules zone = amsterdam()) {
  std::string reason = "reason of " + name;  // before name is moved from
  return FreezeWindow{std::move(name), std::move(reason),
                      WeeklyWindow{std::move(days), opens, closes_day, closes, std::move(zone)}};
}

// Friday 16:00 to Monday 08:00, Amsterdam time.
FreezeWindow weekend() {
  FreezeWindow w = weekly("weekend", {Friday}, 16h, Monday, 8h);
  w.reason = "no Friday-evening deploys";
  return w;
}

// 22:00 to 06:00 the next morning, Amsterdam time.
FreezeWindow nightly(std::vector<weekday> days) { return weekly("nightly", std::move(days), 22h, std::nullopt, 6h); }

FreezeWindow once(std::string name, Timestamp from, Timestamp until) {
  std::string reason = "reason of " + name;  // before name is moved from
  return FreezeWindow{std::move(name), std::move(reason), OneOffWindow{from, until}};
}

LineStop stop(Timestamp at, std::optional<Timestamp> until = std::nullopt) {
  return LineStop{"alice", at, "payments incident", until};
}

using Windows = std::vector<FreezeWindow>;
const std::optional<LineStop> no_stop = std::nullopt;

bool frozen(const Windows& ws, Timestamp now, const std::optional<LineStop>& s = no_stop) {
  return active_freeze(ws, s, now).has_value();
}

// The name of what is active and when its stretch ends; "" when nothing is.
std::string active_name(const Windows& ws, Timestamp now, const std::optional<LineStop>& s = no_stop) {
  const auto f = active_freeze(ws, s, now);
  return f ? f->name : "";
}

std::optional<Timestamp> ends_at(const Windows& ws, Timestamp now, const std::optional<LineStop>& s = no_stop) {
  const auto f = active_freeze(ws, s, now);
  REQUIRE(f.has_value());
  return f->ends_at;
}

// ---- one-off windows

TEST_CASE("freeze: a one-off window holds from its start, not at its end") {
  const Timestamp from = utc(2026, 11, 27, 0), until = utc(2026, 11, 30, 6);
  const Windows ws = {once("black friday", from, until)};
  CHECK_FALSE(frozen(ws, from - tick));
  CHECK(frozen(ws, from));
  CHECK(frozen(ws, until - tick));
  CHECK_FALSE(frozen(ws, until));
  const auto f = active_freeze(ws, no_stop, from + 1h);
  REQUIRE(f.has_value());
  CHECK(f->name == "black friday");
  CHECK(f->reason == "reason of black friday");
  CHECK(f->ends_at == until);
}

TEST_CASE("freeze: nothing configured freezes nothing and never changes") {
  CHECK_FALSE(frozen({}, utc(2026, 12, 4, 15)));
  CHECK(next_freeze_change({}, no_stop, utc(2026, 12, 4, 15)) == std::nullopt);
  const Windows empty_once = {once("empty", utc(2026, 12, 1, 0), utc(2026, 12, 1, 0))};
  CHECK_FALSE(frozen(empty_once, utc(2026, 12, 1, 0)));
  CHECK(next_freeze_change(empty_once, no_stop, utc(2026, 11, 30, 0)) == std::nullopt);
}

// ---- weekly windows

TEST_CASE("freeze: the weekend window in winter runs Friday 15:00Z to Monday 07:00Z") {
  const Windows ws = {weekend()};
  // Friday 2026-12-04 16:00 CET to Monday 2026-12-07 08:00 CET.
  CHECK_FALSE(frozen(ws, utc(2026, 12, 2, 12)));  // Wednesday
  CHECK_FALSE(frozen(ws, utc(2026, 12, 4, 15) - tick));
  CHECK(active_name(ws, utc(2026, 12, 4, 15)) == "weekend");
  CHECK(ends_at(ws, utc(2026, 12, 4, 15)) == utc(2026, 12, 7, 7));
  CHECK(ends_at(ws, utc(2026, 12, 6, 12)) == utc(2026, 12, 7, 7));
  CHECK(frozen(ws, utc(2026, 12, 7, 7) - tick));
  CHECK_FALSE(frozen(ws, utc(2026, 12, 7, 7)));
  CHECK(freeze_reason(*active_freeze(ws, no_stop, utc(2026, 12, 5, 10))) ==
        "freeze: weekend (no Friday-evening deploys) until 2026-12-07T07:00:00.000Z");
}

TEST_CASE("freeze: a weekend across the October clock change is 65 hours long in UTC") {
  const Windows ws = {weekend()};
  // Friday 2026-10-23 16:00 CEST (14:00Z) to Monday 2026-10-26 08:00 CET (07:00Z): 64h of wall clock + 1h.
  const Timestamp opens = utc(2026, 10, 23, 14), closes = utc(2026, 10, 26, 7);
  CHECK(closes - opens == Duration{65h});
  CHECK_FALSE(frozen(ws, opens - tick));
  CHECK(frozen(ws, opens));
  CHECK(ends_at(ws, opens) == closes);
  CHECK(frozen(ws, utc(2026, 10, 25, 0, 30)));  // 02:30 local, the first time
  CHECK(frozen(ws, utc(2026, 10, 25, 1, 30)));  // 02:30 local, the second time
  CHECK(frozen(ws, closes - tick));
  CHECK_FALSE(frozen(ws, closes));
  CHECK(next_freeze_change(ws, no_stop, opens - tick) == opens);
  CHECK(next_freeze_change(ws, no_stop, opens) == closes);
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 10, 25, 1)) == closes);
}

TEST_CASE("freeze: a weekend across the March clock change is 63 hours long in UTC") {
  const Windows ws = {weekend()};
  // Friday 2026-03-27 16:00 CET (15:00Z) to Monday 2026-03-30 08:00 CEST (06:00Z).
  const Timestamp opens = utc(2026, 3, 27, 15), closes = utc(2026, 3, 30, 6);
  CHECK(closes - opens == Duration{63h});
  CHECK_FALSE(frozen(ws, opens - tick));
  CHECK(ends_at(ws, opens) == closes);
  CHECK(frozen(ws, utc(2026, 3, 29, 1)));  // the clock change itself
  CHECK(frozen(ws, closes - tick));
  CHECK_FALSE(frozen(ws, closes));
  // And a year later, on the 2027 rules: Friday 2027-03-26 15:00Z to Monday 2027-03-29 06:00Z.
  CHECK_FALSE(frozen(ws, utc(2027, 3, 26, 15) - tick));
  CHECK(ends_at(ws, utc(2027, 3, 26, 15)) == utc(2027, 3, 29, 6));
}

TEST_CASE("freeze: a 22:00-06:00 window spans midnight and opens only on its days") {
  const Windows ws = {nightly({Monday})};
  // Monday 2026-11-30 22:00 CET (21:00Z) to Tuesday 06:00 CET (05:00Z).
  CHECK_FALSE(frozen(ws, utc(2026, 11, 30, 21) - tick));
  CHECK(frozen(ws, utc(2026, 11, 30, 21)));
  CHECK(frozen(ws, utc(2026, 11, 30, 23)));  // midnight local has passed
  CHECK(ends_at(ws, utc(2026, 11, 30, 23, 30)) == utc(2026, 12, 1, 5));
  CHECK(frozen(ws, utc(2026, 12, 1, 5) - tick));
  CHECK_FALSE(frozen(ws, utc(2026, 12, 1, 5)));
  CHECK_FALSE(frozen(ws, utc(2026, 12, 1, 21)));  // Tuesday night is not a Monday night
  CHECK_FALSE(frozen(ws, utc(2026, 11, 30, 4)));  // nor is the night from Sunday to Monday
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 12, 1, 5)) == utc(2026, 12, 7, 21));
}

TEST_CASE("freeze: a night window that a clock change falls inside is an hour longer or shorter") {
  const Windows ws = {nightly({Saturday})};
  // Saturday 2026-10-24 22:00 CEST (20:00Z) to Sunday 06:00 CET (05:00Z): 9 hours.
  CHECK_FALSE(frozen(ws, utc(2026, 10, 24, 20) - tick));
  CHECK(ends_at(ws, utc(2026, 10, 24, 20)) == utc(2026, 10, 25, 5));
  CHECK_FALSE(frozen(ws, utc(2026, 10, 25, 5)));
  // Saturday 2026-03-28 22:00 CET (21:00Z) to Sunday 06:00 CEST (04:00Z): 7 hours.
  CHECK_FALSE(frozen(ws, utc(2026, 3, 28, 21) - tick));
  CHECK(ends_at(ws, utc(2026, 3, 28, 21)) == utc(2026, 3, 29, 4));
  CHECK(frozen(ws, utc(2026, 3, 29, 4) - tick));
  CHECK_FALSE(frozen(ws, utc(2026, 3, 29, 4)));
}

TEST_CASE("freeze: a window that opens inside the spring-forward gap opens when the gap ends") {
  // Sunday 02:30 to 04:00 local: on 2026-03-29 02:30 does not exist, so it opens at 03:00 CEST (01:00Z).
  const Windows ws = {weekly("maintenance", {Sunday}, 2h + 30min, std::nullopt, 4h)};
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1));
  CHECK_FALSE(frozen(ws, utc(2026, 3, 29, 1) - tick));
  CHECK(active_name(ws, utc(2026, 3, 29, 1)) == "maintenance");
  CHECK(ends_at(ws, utc(2026, 3, 29, 1)) == utc(2026, 3, 29, 2));
  CHECK_FALSE(frozen(ws, utc(2026, 3, 29, 2)));
  // A week later 02:30 CEST exists: 00:30Z.
  CHECK_FALSE(frozen(ws, utc(2026, 4, 5, 0, 30) - tick));
  CHECK(frozen(ws, utc(2026, 4, 5, 0, 30)));
}

TEST_CASE("freeze: a window wholly inside the spring-forward gap does not happen that day") {
  // Sunday 02:15 to 02:45 local: on 2026-03-29 both ends are the end of the gap.
  const Windows ws = {weekly("short", {Sunday}, 2h + 15min, std::nullopt, 2h + 45min)};
  CHECK_FALSE(frozen(ws, utc(2026, 3, 29, 1)));
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 3, 28, 12)) == utc(2026, 4, 5, 0, 15));
  CHECK(frozen(ws, utc(2026, 3, 22, 1, 15)));  // the Sunday before, on CET
}

TEST_CASE("freeze: a window that opens inside the fall-back overlap opens the first time") {
  // Sunday 02:30 to 03:00 local on 2026-10-25: 02:30 CEST (00:30Z) to 03:00 CET (02:00Z), 90 minutes.
  const Windows ws = {weekly("maintenance", {Sunday}, 2h + 30min, std::nullopt, 3h)};
  CHECK_FALSE(frozen(ws, utc(2026, 10, 25, 0, 30) - tick));
  CHECK(ends_at(ws, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 25, 2));
  CHECK(frozen(ws, utc(2026, 10, 25, 1, 30)));  // 02:30 CET, the second time
  CHECK_FALSE(frozen(ws, utc(2026, 10, 25, 2)));
}

TEST_CASE("freeze: closes_day equal to the opening day with an earlier time closes six days and more later") {
  // Monday 09:00 to the next Monday 08:00 UTC: promotions may start on Mondays 08:00-09:00 only.
  const Windows ws = {weekly("mostly", {Monday}, 9h, Monday, 8h, fixed_zone("UTC", 0ms))};
  CHECK(ends_at(ws, utc(2026, 11, 30, 9)) == utc(2026, 12, 7, 8));
  CHECK(frozen(ws, utc(2026, 12, 6, 23)));
  CHECK_FALSE(frozen(ws, utc(2026, 12, 7, 8)));
  CHECK_FALSE(frozen(ws, utc(2026, 12, 7, 9) - tick));
  CHECK(frozen(ws, utc(2026, 12, 7, 9)));
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 12, 7, 8)) == utc(2026, 12, 7, 9));
}

TEST_CASE("freeze: 24:00 closes at the end of the day") {
  const Windows ws = {weekly("tuesday", {Tuesday}, 0min, std::nullopt, 24h, fixed_zone("UTC", 0ms))};
  CHECK_FALSE(frozen(ws, utc(2026, 12, 1, 0) - tick));
  CHECK(ends_at(ws, utc(2026, 12, 1, 0)) == utc(2026, 12, 2, 0));
  CHECK_FALSE(frozen(ws, utc(2026, 12, 2, 0)));
}

TEST_CASE("freeze: a weekly window with no days never freezes") {
  const Windows ws = {weekly("never", {}, 0min, std::nullopt, 24h)};
  CHECK_FALSE(frozen(ws, utc(2026, 12, 1, 12)));
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 12, 1, 12)) == std::nullopt);
}

// ---- stretches: windows that overlap or touch

TEST_CASE("freeze: touching windows are one stretch, and a millisecond apart two") {
  const Timestamp a = utc(2026, 12, 1, 0), b = utc(2026, 12, 2, 0), c = utc(2026, 12, 3, 0);
  CHECK(ends_at({once("first", a, b), once("second", b, c)}, a) == c);
  CHECK(ends_at({once("second", b, c), once("first", a, b)}, a) == c);  // order does not matter
  CHECK(ends_at({once("first", a, b), once("second", b + tick, c)}, a) == b);
  CHECK(ends_at({once("first", a, c), once("inside", a + 1h, b)}, a + 2h) == c);
}

TEST_CASE("freeze: a stretch follows one-off and weekly windows that touch one after another") {
  // A code freeze up to the weekend (Friday 2026-12-04 15:00Z), the weekend, then a launch from Monday 08:00
  // local (07:00Z) to Tuesday noon.
  const Windows ws = {once("code freeze", utc(2026, 12, 3, 12), utc(2026, 12, 4, 15)), weekend(),
                      once("launch", utc(2026, 12, 7, 7), utc(2026, 12, 8, 12))};
  CHECK(active_name(ws, utc(2026, 12, 3, 12)) == "code freeze");
  CHECK(ends_at(ws, utc(2026, 12, 3, 12)) == utc(2026, 12, 8, 12));
  CHECK(active_name(ws, utc(2026, 12, 5, 12)) == "weekend");
  CHECK(ends_at(ws, utc(2026, 12, 5, 12)) == utc(2026, 12, 8, 12));
  CHECK(active_name(ws, utc(2026, 12, 7, 7)) == "launch");
  CHECK_FALSE(frozen(ws, utc(2026, 12, 8, 12)));
  // The code freeze alone, a minute short of the weekend, is a stretch of its own.
  const Windows apart = {once("code freeze", utc(2026, 12, 3, 12), utc(2026, 12, 4, 14, 59)), weekend()};
  CHECK(ends_at(apart, utc(2026, 12, 3, 12)) == utc(2026, 12, 4, 14, 59));
}

TEST_CASE("freeze: of several active windows the first configured one is named") {
  const Windows ws = {once("holiday", utc(2026, 12, 4, 0), utc(2026, 12, 6, 0)), weekend()};
  CHECK(active_name(ws, utc(2026, 12, 5, 0)) == "holiday");
  CHECK(active_name({weekend(), ws[0]}, utc(2026, 12, 5, 0)) == "weekend");
  CHECK(active_name(ws, utc(2026, 12, 6, 0)) == "weekend");
  CHECK(ends_at(ws, utc(2026, 12, 4, 0)) == utc(2026, 12, 7, 7));
}

TEST_CASE("freeze: weekly windows that cover the whole week have no end") {
  const Windows ws = {
      weekly("always", {Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday}, 0min, std::nullopt, 24h)};
  const auto f = active_freeze(ws, no_stop, utc(2026, 12, 1, 12));
  REQUIRE(f.has_value());
  CHECK(f->name == "always");
  CHECK(f->ends_at == std::nullopt);
  CHECK(freeze_reason(*f) == "freeze: always (reason of always) until further notice");
}

// ---- stop-the-line

TEST_CASE("freeze: a line stop with no until holds until lifted, over any window") {
  const Timestamp at = utc(2026, 12, 2, 10);
  CHECK_FALSE(frozen({}, at - tick, stop(at)));
  const auto f = active_freeze({}, stop(at), at);
  REQUIRE(f.has_value());
  CHECK(f->name == "stop-the-line");
  CHECK(f->reason == "alice: payments incident");
  CHECK(f->ends_at == std::nullopt);
  CHECK(freeze_reason(*f) == "freeze: stop-the-line (alice: payments incident) until further notice");
  CHECK(frozen({}, at + 24h * 400, stop(at)));
  // A window active at the same time: the line stop is what is named, and there is still no end.
  const Windows ws = {weekend()};
  CHECK(active_name(ws, utc(2026, 12, 5, 12), stop(at)) == "stop-the-line");
  CHECK(ends_at(ws, utc(2026, 12, 5, 12), stop(at)) == std::nullopt);
  // A window active before a line stop that starts where it ends: one stretch, with no end.
  CHECK(active_name(ws, utc(2026, 12, 6, 12), stop(utc(2026, 12, 7, 7))) == "weekend");
  CHECK(ends_at(ws, utc(2026, 12, 6, 12), stop(utc(2026, 12, 7, 7))) == std::nullopt);
}

TEST_CASE("freeze: a line stop with until joins the windows it overlaps or touches") {
  const Windows ws = {weekend()};
  // Friday 2026-12-04 12:00Z until the weekend opens (15:00Z): one stretch to Monday 07:00Z.
  const LineStop touching = stop(utc(2026, 12, 4, 12), utc(2026, 12, 4, 15));
  CHECK(active_name(ws, utc(2026, 12, 4, 12), touching) == "stop-the-line");
  CHECK(ends_at(ws, utc(2026, 12, 4, 12), touching) == utc(2026, 12, 7, 7));
  // Lifted an hour before the weekend: the stretch ends with it.
  const LineStop before = stop(utc(2026, 12, 4, 12), utc(2026, 12, 4, 14));
  CHECK(ends_at(ws, utc(2026, 12, 4, 12), before) == utc(2026, 12, 4, 14));
  CHECK_FALSE(frozen(ws, utc(2026, 12, 4, 14), before));
  // Pulled during the weekend until Tuesday: from then on the line stop is named, and the stretch runs to
  // Tuesday.
  const LineStop longer = stop(utc(2026, 12, 6, 12), utc(2026, 12, 8, 12));
  CHECK(active_name(ws, utc(2026, 12, 6, 12), longer) == "stop-the-line");
  CHECK(active_name(ws, utc(2026, 12, 6, 12) - tick, longer) == "weekend");
  CHECK(ends_at(ws, utc(2026, 12, 5, 12), longer) == utc(2026, 12, 8, 12));
  CHECK(active_name(ws, utc(2026, 12, 7, 7), longer) == "stop-the-line");
  CHECK_FALSE(frozen(ws, utc(2026, 12, 8, 12), longer));
}

TEST_CASE("freeze: a line stop whose until has passed, or is not after it, holds nothing") {
  const Timestamp at = utc(2026, 12, 2, 10);
  CHECK_FALSE(frozen({}, at + 2h, stop(at, at + 2h)));
  CHECK(frozen({}, at + 2h - tick, stop(at, at + 2h)));
  CHECK_FALSE(frozen({}, at, stop(at, at)));
  CHECK(next_freeze_change({}, stop(at, at + 2h), at + 2h) == std::nullopt);
}

// ---- when to look again

TEST_CASE("freeze: next_freeze_change at and just before each boundary of a one-off window") {
  const Timestamp from = utc(2026, 12, 1, 0), until = utc(2026, 12, 2, 0);
  const Windows ws = {once("holiday", from, until)};
  CHECK(next_freeze_change(ws, no_stop, from - 24h * 30) == from);
  CHECK(next_freeze_change(ws, no_stop, from - tick) == from);
  CHECK(next_freeze_change(ws, no_stop, from) == until);
  CHECK(next_freeze_change(ws, no_stop, until - tick) == until);
  CHECK(next_freeze_change(ws, no_stop, until) == std::nullopt);
}

TEST_CASE("freeze: next_freeze_change finds the next weekly opening or closing") {
  const Windows ws = {weekend()};
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 12, 2, 12)) == utc(2026, 12, 4, 15));  // Wednesday
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 12, 4, 15) - tick) == utc(2026, 12, 4, 15));
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 12, 4, 15)) == utc(2026, 12, 7, 7));
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 12, 7, 7) - tick) == utc(2026, 12, 7, 7));
  CHECK(next_freeze_change(ws, no_stop, utc(2026, 12, 7, 7)) == utc(2026, 12, 11, 15));
  // With a one-off window too: whichever comes first.
  const Windows both = {weekend(), once("release party", utc(2026, 12, 3, 9), utc(2026, 12, 3, 18))};
  CHECK(next_freeze_change(both, no_stop, utc(2026, 12, 2, 12)) == utc(2026, 12, 3, 9));
  CHECK(next_freeze_change(both, no_stop, utc(2026, 12, 3, 9)) == utc(2026, 12, 3, 18));
  CHECK(next_freeze_change(both, no_stop, utc(2026, 12, 3, 18)) == utc(2026, 12, 4, 15));
}

TEST_CASE("freeze: next_freeze_change includes the line stop's start and end") {
  const Windows ws = {weekend()};
  const Timestamp at = utc(2026, 12, 2, 10);
  CHECK(next_freeze_change({}, stop(at), at - tick) == at);
  CHECK(next_freeze_change({}, stop(at), at) == std::nullopt);  // held until lifted: nothing to wait for
  CHECK(next_freeze_change(ws, stop(at), at) == utc(2026, 12, 4, 15));
  CHECK(next_freeze_change(ws, stop(at, at + 2h), at) == at + 2h);
  CHECK(next_freeze_change(ws, stop(at, at + 2h), at + 2h) == utc(2026, 12, 4, 15));
}

// ---- configuration checks

TEST_CASE("freeze: freeze_window_problems accepts a sound configuration") {
  const Windows ws = {weekend(), nightly({Monday, Tuesday}), once("holiday", utc(2026, 12, 1, 0), utc(2026, 12, 2, 0)),
                      weekly("all day", {Sunday}, 0min, std::nullopt, 24h)};
  CHECK(freeze_window_problems(ws) == std::vector<std::string>{});
}

TEST_CASE("freeze: freeze_window_problems names each problem") {
  const Timestamp t = utc(2026, 12, 1, 0);
  CHECK(freeze_window_problems({once("backwards", t, t - 1h)}) ==
        std::vector<std::string>{
            "freeze window 'backwards': until 2026-11-30T23:00:00.000Z is not after from 2026-12-01T00:00:00.000Z"});
  CHECK(freeze_window_problems({once("empty", t, t)}) ==
        std::vector<std::string>{
            "freeze window 'empty': until 2026-12-01T00:00:00.000Z is not after from 2026-12-01T00:00:00.000Z"});
  CHECK(freeze_window_problems({weekly("no days", {}, 1h, std::nullopt, 2h)}) ==
        std::vector<std::string>{"freeze window 'no days': a weekly window needs at least one day"});
  CHECK(freeze_window_problems({weekly("late", {Monday}, 24h + 1min, std::nullopt, -1min)}) ==
        std::vector<std::string>{"freeze window 'late': opens at 24:01 is outside 00:00 to 24:00",
                                 "freeze window 'late': closes at -00:01 is outside 00:00 to 24:00"});
  CHECK(freeze_window_problems({weekly("odd day", {weekday{9}}, 1h, std::nullopt, 2h)}) ==
        std::vector<std::string>{"freeze window 'odd day': a day is not a day of the week"});
  CHECK(freeze_window_problems({weekly("odd close", {Monday}, 1h, weekday{8}, 2h)}) ==
        std::vector<std::string>{"freeze window 'odd close': a day is not a day of the week"});
  CHECK(freeze_window_problems({once("", t, t + 1h)}) ==
        std::vector<std::string>{"a freeze window has no name: give it one (it is shown in gate reasons)"});
}

TEST_CASE("freeze: freeze_window_problems reports a name used twice once") {
  const Windows ws = {weekend(), once("weekend", utc(2026, 12, 1, 0), utc(2026, 12, 2, 0)), weekend(),
                      nightly({Monday})};
  CHECK(freeze_window_problems(ws) ==
        std::vector<std::string>{"freeze window 'weekend' is defined more than once: names must be unique"});
}

}  // namespace
}  // namespace promoter::core
