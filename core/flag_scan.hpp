#pragma once
// Reduces a PR's files and description to what the flag gate needs: which files it changes under a guarded
// glob (billing, quota, enterprise), and which feature flags its description names.
#include <string>
#include <string_view>
#include <vector>

#include "core/evidence.hpp"
#include "core/policy.hpp"

namespace promoter::core {

// The keys named on lines "Flag: key" or "Feature flag: key" (label in any case; an optional "-" or "*" list
// marker; the key optionally in backticks, of [A-Za-z0-9_.:-]). Each key once, in order of first appearance.
std::vector<std::string> flag_keys_in(std::string_view body);
// The finding for one PR: files under a guarded glob, and the keys its description names when there are any.
FlagFinding scan_flags(const FlagPolicy&, const std::vector<PullFilePatch>& files, std::string_view body);

}  // namespace promoter::core
