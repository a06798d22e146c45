#pragma once
// Everything core knows: the policy, every release, and which release is production or promoting.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "core/policy.hpp"
#include "core/release.hpp"

namespace promoter::core {

struct World {
  Policy policy;
  std::map<std::string, Release> releases;  // by SHA
  std::set<std::string> active;             // SHAs of releases not in a terminal state: what decide scans
  std::map<std::int64_t, std::string> by_seq;  // SHAs in order of first sighting, for newest-first listings
  std::optional<Sha> production;
  std::optional<Sha> promoting;
  std::int64_t next_seq = 1;

  const Release* find(const Sha& sha) const;
  // Adds or replaces a release and keeps `active` in step.
  void put(Release release);
};

}  // namespace promoter::core
