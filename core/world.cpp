#include "core/world.hpp"

namespace promoter::core {

const Release* World::find(const Sha& sha) const {
  auto it = releases.find(sha.str());
  return it == releases.end() ? nullptr : &it->second;
}

void World::put(Release release) {
  const std::string key = release.sha.str();
  if (is_terminal(release.state))
    active.erase(key);
  else
    active.insert(key);
  by_seq[release.seq] = key;
  releases.insert_or_assign(key, std::move(release));
}

void World::forget(const Sha& sha) {
  auto it = releases.find(sha.str());
  if (it == releases.end()) return;
  by_seq.erase(it->second.seq);
  active.erase(it->first);
  releases.erase(it);
}

}  // namespace promoter::core
