#include "core/zone_rules.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace promoter::core {

namespace {

LocalTime local_of(Timestamp t, Duration offset) { return LocalTime{t.time_since_epoch() + offset}; }

Timestamp utc_of(LocalTime l, Duration offset) { return Timestamp{l.time_since_epoch() - offset}; }

}  // namespace

Duration ZoneRules::offset_at(Timestamp t) const {
  // The first transition after t; the one before it (if any) is in force.
  const auto next = std::upper_bound(transitions.begin(), transitions.end(), t,
                                     [](Timestamp at, const ZoneTransition& tr) { return at < tr.at; });
  return next == transitions.begin() ? initial_offset : std::prev(next)->offset;
}

LocalTime to_local(Timestamp t, const ZoneRules& zone) { return local_of(t, zone.offset_at(t)); }

Timestamp from_local(LocalTime l, const ZoneRules& zone) {
  const auto& tr = zone.transitions;
  // Period k runs from transition k-1 (period 0: from the beginning of time) to transition k, with
  // offset_of(k). The local instants at which periods start rise with k (real zones never move the clock
  // back by more than the time between two transitions), so the last period that has started in local time
  // by `l` is found by bisection.
  auto offset_of = [&](std::size_t k) { return k == 0 ? zone.initial_offset : tr[k - 1].offset; };
  const auto started = std::upper_bound(tr.begin(), tr.end(), l, [](LocalTime local, const ZoneTransition& t) {
    return local < local_of(t.at, t.offset);
  });
  const auto k = static_cast<std::size_t>(started - tr.begin());
  // An overlap: `l` is still on the clock of period k-1 too (the clock went back at tr[k-1]); the earlier
  // instant is in that period.
  if (k > 0 && l < local_of(tr[k - 1].at, offset_of(k - 1))) return utc_of(l, offset_of(k - 1));
  const Timestamp t = utc_of(l, offset_of(k));
  // A gap: on period k's clock, `l` comes after the clock jumped forward at tr[k], yet before the local
  // time period k+1 starts with. It does not exist; the gap ends at the transition.
  if (k < tr.size() && t >= tr[k].at) return tr[k].at;
  return t;
}

ZoneRules fixed_zone(std::string name, Duration offset) { return ZoneRules{std::move(name), offset, {}}; }

}  // namespace promoter::core
