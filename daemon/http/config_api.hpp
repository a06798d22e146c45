#pragma once
// GET /v1/env and GET /v1/flags: environment-variable names and feature flags side by side, staging against
// production, with their history and the staging-first violations. Read from the store, so a standby answers
// as the leader would. Names, times and enabled states only: promoterd holds no value to show.
#include <nlohmann/json.hpp>

#include "core/config_drift.hpp"
#include "daemon/http/api.hpp"

namespace promoter::daemon {

void add_config_routes(Router&, ApiContext);

// One violation as /v1/env, /v1/flags and /v1/status show it.
nlohmann::json violation_json(const core::ConfigViolation&);

}  // namespace promoter::daemon
