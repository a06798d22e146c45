#pragma once
// The gates fed by configuration that changes without a deploy (core/config_drift.hpp): env (production has
// every variable name staging has) and flag (a change to a guarded path names a feature flag production has).
// Pure functions of a release (its ConfigView and Evidence) and the policy. A gate the policy does not enable
// holds with "not required by policy".
#include <optional>

#include "core/gates.hpp"
#include "core/policy.hpp"
#include "core/release.hpp"
#include "core/sha.hpp"

namespace promoter::core {

// For every configured service whose names are observable, production has each name staging has (staging-only
// names aside). Waits until the first observation.
GateStatus env_gate(const Release&, const Policy&);
// Every PR of the range production..release that changes a guarded path names a flag ("Flag: <key>") and at
// least one named flag is in production's flag table. Waits for GitHub evidence and for production's flags.
GateStatus flag_gate(const Release&, const Policy&, const std::optional<Sha>& production);

}  // namespace promoter::core
