#pragma once
// The release state machine: decide(world, event, now) -> changes and effects. Pure: no clock, no I/O.
//
// The daemon persists a Decision's facts and audit notes in one transaction, then apply()s its changed
// releases to its in-memory World, then performs the effects. A refused event changes nothing.
#include <optional>
#include <vector>

#include "core/effect.hpp"
#include "core/event.hpp"
#include "core/fact.hpp"
#include "core/obligation.hpp"
#include "core/world.hpp"

namespace promoter::core {

struct Decision {
  std::vector<Release> changed;  // new value of every release the event touched: what apply() puts in the World
  std::optional<Sha> production;
  std::optional<Sha> promoting;
  std::int64_t next_seq = 1;
  std::optional<LineStop> line_stop;
  std::optional<Pin> pin;
  std::optional<Rollback> rollback;
  std::vector<Effect> effects;
  std::vector<Fact> facts;  // what to record: a release's own record first, then what hangs off it
  std::vector<AuditNote> audit;

  bool empty() const { return changed.empty() && effects.empty() && audit.empty() && facts.empty(); }
};

// The facts of one kind, in order.
template <class F>
std::vector<F> facts_of(const Decision& d) {
  std::vector<F> out;
  for (const auto& fact : d.facts)
    if (const auto* f = std::get_if<F>(&fact)) out.push_back(*f);
  return out;
}

Result<Decision> decide(const World&, const Event&, Timestamp now);
void apply(World&, const Decision&);

// After a restart: the timers to re-arm and any promotion the last gate now allows.
Decision resume(const World&, Timestamp now);

}  // namespace promoter::core
