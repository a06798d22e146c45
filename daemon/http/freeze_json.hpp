#pragma once
// Freeze windows, the line stop and what holds promotions back now, as /v1/freezes and /v1/status show them.
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "core/freeze.hpp"

namespace promoter::daemon {

// One [[policy.freeze]] entry: name, reason, kind ("one_off" | "weekly") and its times as configured
// (weekly: days, from "16:00", until "mon 08:00", time_zone; one-off: from and until as RFC 3339 UTC).
nlohmann::json freeze_window_json(const core::FreezeWindow&);

// {frozen, active: {name, reason, ends_at} | null, line_stop: {by, at, reason, until} | null, next_change}:
// whether a promotion may start at `now`, and when that next changes. A line stop past its `until` is shown as
// null: it holds nothing back.
nlohmann::json freeze_state_json(const std::vector<core::FreezeWindow>&, const std::optional<core::LineStop>&,
                                 core::Timestamp now);

}  // namespace promoter::daemon
