#pragma once
// A commit made ready on staging through the API, for the end-to-end tests. Header-only, with doctest's
// assertions: the benches link the test support library without doctest's runner.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/test_support.hpp"

namespace promoter::testing {

// CI's reports for a commit: live (SUCCESS) on every one of `services` on staging, authored by alice-gh, with
// `ancestors` when not null, then (when `smoke`) the e2e smoke suite passed. Each report must be accepted.
inline void stage_release(const Daemon& daemon, const std::string& sha, const std::vector<std::string>& services,
                          const nlohmann::json& ancestors = nullptr, bool smoke = true) {
  for (const auto& s : services) {
    nlohmann::json body{{"service", s},
                        {"sha", sha},
                        {"deployment_id", "dep-" + sha.substr(0, 6) + "-" + s},
                        {"status", "SUCCESS"},
                        {"author", "alice-gh"}};
    if (!ancestors.is_null()) body["ancestors"] = ancestors;
    auto r = daemon.post("/v1/staging-deployments", body, tokens::ci);
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  if (!smoke) return;
  auto r = daemon.post("/v1/releases/" + sha + "/smoke-results", {{"suite", "e2e"}, {"passed", true}}, tokens::ci);
  REQUIRE_MESSAGE(r.status == 200, r.body);
}

}  // namespace promoter::testing
