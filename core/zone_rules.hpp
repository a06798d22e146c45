#pragma once
// A time zone's rules as data. Core reads no files, so it cannot read the IANA tz database: an adapter
// reads it and hands core the zone's UTC-offset transitions; core converts between UTC and local time with
// them alone (freeze windows are written in local time: "Friday 16:00 in Amsterdam").
#include <chrono>
#include <compare>
#include <string>
#include <vector>

#include "core/time.hpp"

namespace promoter::core {

// From `at` on, local time = UTC + offset (until the next transition).
struct ZoneTransition {
  Timestamp at{};
  Duration offset{};
  auto operator<=>(const ZoneTransition&) const = default;
};

struct ZoneRules {
  std::string name;                         // IANA name, for reasons people read ("Europe/Amsterdam")
  Duration initial_offset{};                // before the first transition
  std::vector<ZoneTransition> transitions;  // sorted by `at`
  // The offset in force at an instant: a transition's own instant already has the new offset.
  Duration offset_at(Timestamp) const;
  auto operator<=>(const ZoneRules&) const = default;
};

using LocalTime = std::chrono::local_time<Duration>;

LocalTime to_local(Timestamp, const ZoneRules&);
// The UTC instant of a local time. In a gap (spring forward: 02:30 does not exist) the instant the gap
// ends (the transition); in an overlap (fall back: 02:30 happens twice) the earlier of the two.
Timestamp from_local(LocalTime, const ZoneRules&);

// A fixed-offset zone ("UTC").
ZoneRules fixed_zone(std::string name, Duration offset);

}  // namespace promoter::core
