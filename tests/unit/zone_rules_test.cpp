// Zone rules as data: UTC offsets over time, local time from UTC, and UTC from local time across DST gaps
// and overlaps, with Europe/Amsterdam-like rules for 2026 and 2027 written by hand.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "core/time.hpp"
#include "core/zone_rules.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

Timestamp utc(int y, unsigned mo, unsigned d, int h, int mi = 0, int ms = 0) {
  return Timestamp{sys_days{year{y} / month{mo} / day{d}}} + hours{h} + minutes{mi} + milliseconds{ms};
}

LocalTime local(int y, unsigned mo, unsigned d, int h, int mi = 0, int ms = 0) {
  return LocalTime{local_days{year{y} / month{mo} / day{d}}} + hours{h} + minutes{mi} + milliseconds{ms};
}

ZoneTransition transition(Timestamp at, Duration offset) { return ZoneTransition{at, offset}; }

// CET (+1h) in winter, CEST (+2h) in summer; the clocks change at 01:00 UTC on the last Sundays of March and
// October.
ZoneRules amsterdam() {
  return ZoneRules{"Europe/Amsterdam",
                   1h,
                   {transition(utc(2026, 3, 29, 1), 2h), transition(utc(2026, 10, 25, 1), 1h),
                    transition(utc(2027, 3, 28, 1), 2h), transition(utc(2027, 10, 31, 1), 1h)}};
}

TEST_CASE("zone rules: offset_at is the initial offset, then each transition's from its instant on") {
  const ZoneRules z = amsterdam();
  CHECK(z.offset_at(utc(2026, 1, 15, 12)) == Duration{1h});
  CHECK(z.offset_at(utc(2026, 3, 29, 0, 59, 59'999)) == Duration{1h});
  CHECK(z.offset_at(utc(2026, 3, 29, 1)) == Duration{2h});
  CHECK(z.offset_at(utc(2026, 7, 1, 0)) == Duration{2h});
  CHECK(z.offset_at(utc(2026, 10, 25, 0, 59, 59'999)) == Duration{2h});
  CHECK(z.offset_at(utc(2026, 10, 25, 1)) == Duration{1h});
  CHECK(z.offset_at(utc(2027, 3, 28, 1)) == Duration{2h});
  CHECK(z.offset_at(utc(2027, 10, 31, 0, 59, 59'999)) == Duration{2h});
  CHECK(z.offset_at(utc(2028, 6, 1, 0)) == Duration{1h});  // after the last transition: its offset
}

TEST_CASE("zone rules: to_local adds the offset in force, and jumps at the transition instants") {
  const ZoneRules z = amsterdam();
  CHECK(to_local(utc(2026, 1, 15, 12), z) == local(2026, 1, 15, 13));
  CHECK(to_local(utc(2026, 3, 29, 0, 59, 59'999), z) == local(2026, 3, 29, 1, 59, 59'999));
  CHECK(to_local(utc(2026, 3, 29, 1), z) == local(2026, 3, 29, 3));  // 02:00 local is skipped
  CHECK(to_local(utc(2026, 10, 25, 0, 59, 59'999), z) == local(2026, 10, 25, 2, 59, 59'999));
  CHECK(to_local(utc(2026, 10, 25, 1), z) == local(2026, 10, 25, 2));  // 02:00 local comes again
  CHECK(to_local(utc(2027, 12, 31, 23), z) == local(2028, 1, 1, 0));
}

TEST_CASE("zone rules: from_local inverts to_local away from the clock changes") {
  const ZoneRules z = amsterdam();
  CHECK(from_local(local(2026, 1, 15, 13), z) == utc(2026, 1, 15, 12));
  CHECK(from_local(local(2026, 7, 1, 12), z) == utc(2026, 7, 1, 10));
  CHECK(from_local(local(2027, 11, 5, 8), z) == utc(2027, 11, 5, 7));
  CHECK(from_local(local(2025, 6, 1, 12), z) == utc(2025, 6, 1, 11));  // before the first transition
  // Every instant of both years, 17 minutes apart, makes the round trip except the second pass through an
  // overlap, which from_local maps to the first.
  int checked = 0;
  for (Timestamp t = utc(2026, 1, 1, 0); t < utc(2028, 1, 1, 0); t += 17min) {
    const bool second_pass = (t >= utc(2026, 10, 25, 1) && t < utc(2026, 10, 25, 2)) ||
                             (t >= utc(2027, 10, 31, 1) && t < utc(2027, 10, 31, 2));
    if (second_pass) {
      CHECK(from_local(to_local(t, z), z) == t - 1h);
    } else if (from_local(to_local(t, z), z) != t) {
      FAIL_CHECK("no round trip for " << format_timestamp(t));
    }
    ++checked;
  }
  CHECK(checked > 60'000);
}

TEST_CASE("zone rules: from_local in a spring-forward gap is the instant the gap ends") {
  const ZoneRules z = amsterdam();
  CHECK(from_local(local(2026, 3, 29, 1, 59, 59'999), z) == utc(2026, 3, 29, 0, 59, 59'999));
  CHECK(from_local(local(2026, 3, 29, 2), z) == utc(2026, 3, 29, 1));
  CHECK(from_local(local(2026, 3, 29, 2, 30), z) == utc(2026, 3, 29, 1));
  CHECK(from_local(local(2026, 3, 29, 2, 59, 59'999), z) == utc(2026, 3, 29, 1));
  CHECK(from_local(local(2026, 3, 29, 3), z) == utc(2026, 3, 29, 1));
  CHECK(from_local(local(2026, 3, 29, 3, 0, 1), z) == utc(2026, 3, 29, 1, 0, 1));
  CHECK(from_local(local(2027, 3, 28, 2, 30), z) == utc(2027, 3, 28, 1));
}

TEST_CASE("zone rules: from_local in a fall-back overlap is the earlier of the two instants") {
  const ZoneRules z = amsterdam();
  CHECK(from_local(local(2026, 10, 25, 1, 59, 59'999), z) == utc(2026, 10, 24, 23, 59, 59'999));
  CHECK(from_local(local(2026, 10, 25, 2), z) == utc(2026, 10, 25, 0));  // not 01:00Z
  CHECK(from_local(local(2026, 10, 25, 2, 30), z) == utc(2026, 10, 25, 0, 30));
  CHECK(from_local(local(2026, 10, 25, 2, 59, 59'999), z) == utc(2026, 10, 25, 0, 59, 59'999));
  CHECK(from_local(local(2026, 10, 25, 3), z) == utc(2026, 10, 25, 2));
  CHECK(from_local(local(2027, 10, 31, 2, 30), z) == utc(2027, 10, 31, 0, 30));
  CHECK(from_local(local(2027, 10, 31, 3), z) == utc(2027, 10, 31, 2));
}

TEST_CASE("zone rules: a fixed zone has one offset at every instant") {
  const ZoneRules utc_zone = fixed_zone("UTC", 0ms);
  CHECK(utc_zone.name == "UTC");
  CHECK(utc_zone.transitions.empty());
  CHECK(to_local(utc(2026, 3, 29, 1, 30), utc_zone) == local(2026, 3, 29, 1, 30));
  CHECK(from_local(local(2026, 3, 29, 2, 30), utc_zone) == utc(2026, 3, 29, 2, 30));

  const ZoneRules kolkata = fixed_zone("Asia/Kolkata", 5h + 30min);
  CHECK(kolkata.offset_at(utc(2026, 10, 25, 1)) == Duration{5h + 30min});
  CHECK(to_local(utc(2026, 12, 31, 20), kolkata) == local(2027, 1, 1, 1, 30));
  CHECK(from_local(local(2027, 1, 1, 1, 30), kolkata) == utc(2026, 12, 31, 20));
}

TEST_CASE("zone rules compare by value") {
  ZoneRules other = amsterdam();
  CHECK(other == amsterdam());
  other.transitions.pop_back();
  CHECK(other != amsterdam());
  CHECK(fixed_zone("UTC", 0ms) != fixed_zone("UTC", 1h));
}

}  // namespace
}  // namespace promoter::core
