#pragma once
// The release state machine: decide(world, event, now) -> changes and effects. Pure: no clock, no I/O.
//
// The daemon persists a Decision (changed releases, audit notes) in one transaction, then apply()s it
// to its in-memory World, then performs the effects. A refused event changes nothing.
#include <optional>
#include <vector>

#include "core/effect.hpp"
#include "core/event.hpp"
#include "core/obligation.hpp"
#include "core/world.hpp"

namespace promoter::core {

struct Decision {
  std::vector<Release> changed;  // full new value of every release the event changed
  std::optional<Sha> production;
  std::optional<Sha> promoting;
  std::int64_t next_seq = 1;
  std::vector<Effect> effects;
  std::vector<AuditNote> audit;
  std::vector<Obligation> obligations;  // opened by a hotfix; the store assigns their ids

  bool empty() const { return changed.empty() && effects.empty() && audit.empty() && obligations.empty(); }
};

Result<Decision> decide(const World&, const Event&, Timestamp now);
void apply(World&, const Decision&);

// After a restart: the timers to re-arm and any promotion the last gate now allows.
Decision resume(const World&, Timestamp now);

}  // namespace promoter::core
