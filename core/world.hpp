#pragma once
// What core decides on: the policy, the releases still at work (not terminal), the production release, and
// which release is promoting. The daemon keeps terminal releases out of memory (history is read from the
// store) and loads one back for the moment an event names it.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/freeze.hpp"
#include "core/policy.hpp"
#include "core/release.hpp"
#include "core/rollback.hpp"

namespace promoter::core {

struct World {
  Policy policy;
  std::map<std::string, Release> releases;     // by SHA
  std::set<std::string> active;                // SHAs of releases not in a terminal state: what decide scans
  std::map<std::int64_t, std::string> by_seq;  // SHAs in order of first sighting, for newest-first listings
  std::optional<Sha> production;
  std::optional<Sha> promoting;
  std::int64_t next_seq = 1;
  // The environment's stop-the-line freeze, if an operator set one (it may have passed its `until`).
  std::optional<LineStop> line_stop;
  // The pin a rollback left: no promotion starts until an operator resumes.
  std::optional<Pin> pin;
  // The rollback the environment owes or runs, if any.
  std::optional<Rollback> rollback;

  const Release* find(const Sha& sha) const;
  // Adds or replaces a release and keeps `active` in step.
  void put(Release release);
  // Drops a release from memory (not from history).
  void forget(const Sha&);
};

}  // namespace promoter::core
