// PgStore's config history (ports/config_history.hpp) against a real PostgreSQL: snapshots replace each other,
// changes and violations accumulate, staging's flags are remembered as ever enabled, and writes are fenced.
#include <utility>

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include "adapters/pg_store.hpp"
#include "core/config_drift.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace std::chrono_literals;

namespace {

const core::Timestamp t0 = *core::parse_timestamp("2026-12-01T10:00:00Z");

core::VariableSighting var(std::string name, core::Timestamp at, std::string digest = "") {
  return core::VariableSighting{std::move(name), at, std::move(digest)};
}

core::VariableSnapshot snapshot(std::string service, core::ConfigTier tier, std::vector<core::VariableSighting> vars,
                                core::Timestamp at) {
  return core::VariableSnapshot{std::move(service), tier, std::move(vars), at};
}

ports::JudgedVariableChange judged(core::VariableChange c, std::optional<core::ConfigViolation> v = std::nullopt) {
  return ports::JudgedVariableChange{std::move(c), std::move(v)};
}

core::VariableChange change(std::string service, core::ConfigTier tier, std::string name, core::ChangeKind kind,
                            core::Timestamp at) {
  return core::VariableChange{std::move(service), tier, std::move(name), kind, at, at};
}

core::AuditNote note(std::string action, std::string detail) {
  return core::AuditNote{"promoterd", std::move(action), std::nullopt, std::move(detail)};
}

}  // namespace

TEST_CASE("variable snapshots replace each other; changes and violations are kept in order") {
  adapters::PgStore store(testing::fresh_database("promoter_config_history_vars"));
  REQUIRE(store.migrate().has_value());
  // The first observation: a baseline with no changes.
  auto first = snapshot("api", core::ConfigTier::staging, {var("A", t0), var("B", t0)}, t0);
  REQUIRE(store.record_variables(first, {}, {}, t0).has_value());
  auto prod = snapshot("api", core::ConfigTier::production, {var("A", t0, "d1")}, t0);
  REQUIRE(store.record_variables(prod, {}, {}, t0).has_value());

  // Staging adds C; production adds X first (a violation).
  auto second =
      snapshot("api", core::ConfigTier::staging, {var("A", t0), var("B", t0), var("C", t0 + 1min)}, t0 + 2min);
  REQUIRE(store
              .record_variables(
                  second, {judged(change("api", core::ConfigTier::staging, "C", core::ChangeKind::added, t0 + 1min))},
                  {note("config.changed", "api staging variables: added C")}, t0 + 2min)
              .has_value());
  const auto violating = change("api", core::ConfigTier::production, "X", core::ChangeKind::added, t0 + 3min);
  const core::ConfigViolation v{core::ViolationKind::env_production_first, "api", "X", t0 + 3min,
                                "api: X was added in production first"};
  auto prod2 =
      snapshot("api", core::ConfigTier::production, {var("A", t0, "d1"), var("X", t0 + 3min, "d2")}, t0 + 4min);
  REQUIRE(store.record_variables(prod2, {judged(violating, v)}, {note("config.violation", v.reason)}, t0 + 4min)
              .has_value());

  auto state = store.config_state();
  REQUIRE(state.has_value());
  REQUIRE(state->variables.size() == 2);
  for (const auto& s : state->variables) {
    if (s.tier == core::ConfigTier::staging) {
      CHECK(s == second);
    } else {
      CHECK(s == prod2);  // digests and times come back as written
    }
  }

  auto staging = store.staging_changes("api", t0);
  REQUIRE(staging.has_value());
  REQUIRE(staging->size() == 1);
  CHECK(staging->front().name == "C");
  auto later = store.staging_changes("api", t0 + 90s);
  REQUIRE(later.has_value());
  CHECK(later->empty());  // C happened at t0+1m, before the window asked for

  auto history = store.variable_changes(std::nullopt, 10);
  REQUIRE(history.has_value());
  REQUIRE(history->size() == 2);
  CHECK(history->front().judged.change.name == "X");  // newest first
  REQUIRE(history->front().judged.violation.has_value());
  CHECK(history->front().judged.violation->reason == v.reason);
  CHECK_FALSE(history->back().judged.violation.has_value());
  auto other = store.variable_changes(std::string("worker"), 10);
  REQUIRE(other.has_value());
  CHECK(other->empty());

  auto violations = store.config_violations(std::nullopt, std::nullopt, 10);
  REQUIRE(violations.has_value());
  REQUIRE(violations->size() == 1);
  CHECK(violations->front() == v);
  // Filtered in the query, so a filtered list is never cut short by what it leaves out.
  CHECK(store.config_violations(core::ViolationKind::env_production_first, std::string("api"), 10).value() ==
        std::vector<core::ConfigViolation>{v});
  CHECK(store.config_violations(core::ViolationKind::flag_production_first, std::nullopt, 10).value().empty());
  CHECK(store.config_violations(std::nullopt, std::string("worker"), 10).value().empty());
  CHECK(store.config_violation_count().value() == 1);
  auto audit = store.audit(std::nullopt, 10, std::nullopt);
  REQUIRE(audit.has_value());
  REQUIRE(audit->size() == 2);
  CHECK(audit->front().action == "config.violation");
}

TEST_CASE("an observation with no change only moves observed_at; the variables stay as recorded") {
  const auto url = testing::fresh_database("promoter_config_history_unchanged");
  adapters::PgStore store(url);
  REQUIRE(store.migrate().has_value());
  auto first = snapshot("worker", core::ConfigTier::staging, {var("A", t0)}, t0);
  REQUIRE(store.record_variables(first, {}, {}, t0).has_value());
  auto again = first;
  again.observed_at = t0 + 5min;
  REQUIRE(store.record_variables(again, {}, {}, t0 + 5min).has_value());
  auto state = store.config_state();
  REQUIRE(state.has_value());
  REQUIRE(state->variables.size() == 1);
  CHECK(state->variables[0] == again);
}

TEST_CASE("flag snapshots, staging's ever-enabled keys and flag violations") {
  adapters::PgStore store(testing::fresh_database("promoter_config_history_flags"));
  REQUIRE(store.migrate().has_value());
  core::FlagSnapshot staging{core::ConfigTier::staging, {core::FlagSighting{"billing_v2", true, t0}}, t0};
  REQUIRE(store.record_flags(staging, {}, {}, t0).has_value());
  // Staging turns it off again: it was still once enabled there.
  core::FlagSnapshot staging_off{
      core::ConfigTier::staging, {core::FlagSighting{"billing_v2", false, t0 + 1min}}, t0 + 1min};
  const core::FlagChange off{
      core::ConfigTier::staging, "billing_v2", core::FlagChangeKind::disabled, false, t0 + 1min, t0 + 1min};
  REQUIRE(store.record_flags(staging_off, {ports::JudgedFlagChange{off, std::nullopt}}, {}, t0 + 1min).has_value());
  core::FlagSnapshot prod{
      core::ConfigTier::production, {core::FlagSighting{"quota_new", true, std::nullopt}}, t0 + 2min};
  const core::FlagChange on{
      core::ConfigTier::production, "quota_new", core::FlagChangeKind::added, true, t0 + 2min, std::nullopt};
  const core::ConfigViolation v{core::ViolationKind::flag_production_first, "", "quota_new", t0 + 2min,
                                "flag quota_new was enabled in production first"};
  REQUIRE(store.record_flags(prod, {ports::JudgedFlagChange{on, v}}, {}, t0 + 2min).has_value());

  auto state = store.config_state();
  REQUIRE(state.has_value());
  CHECK(state->staging_flags_ever_enabled == std::set<std::string>{"billing_v2"});
  REQUIRE(state->flags.size() == 2);
  for (const auto& f : state->flags) CHECK(f == (f.tier == core::ConfigTier::staging ? staging_off : prod));
  auto changes = store.flag_changes(10);
  REQUIRE(changes.has_value());
  REQUIRE(changes->size() == 2);
  CHECK(changes->front().judged.change == on);
  REQUIRE(changes->front().judged.violation.has_value());
  CHECK(*changes->front().judged.violation == v);
  CHECK(store.config_violation_count().value() == 1);
}

TEST_CASE("config history writes are fenced: a standby's store records nothing") {
  const auto url = testing::fresh_database("promoter_config_history_fenced");
  adapters::PgStore store(url);
  REQUIRE(store.migrate().has_value());
  store.enable_fencing("production");
  store.set_epoch(0);
  auto r = store.record_variables(snapshot("api", core::ConfigTier::staging, {var("A", t0)}, t0), {}, {}, t0);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == core::ErrorCode::not_leader);
  auto state = store.config_state();
  REQUIRE(state.has_value());
  CHECK(state->variables.empty());
}
