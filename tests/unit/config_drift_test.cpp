// Configuration drift: what changed between two observations of variable names and flags, whether production
// changed before staging, the env and flag gates with the reasons people read, and how decide() takes a
// ConfigObserved.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/config_drift.hpp"
#include "core/config_gates.hpp"
#include "core/flag_scan.hpp"
#include "core/preflight.hpp"
#include "tests/unit/core_fixtures.hpp"

namespace promoter::core::testing {

namespace {

// 2026-12-02T10:00:00Z: when the production changes of these tests happen.
Timestamp prod_time() { return Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 12 / 2}} + 10h; }

VariableSighting var(std::string name, std::optional<Timestamp> updated_at, std::string digest = "") {
  return VariableSighting{std::move(name), updated_at, std::move(digest)};
}

VariableSnapshot snapshot(std::string service, ConfigTier tier, std::vector<VariableSighting> vars, Timestamp at) {
  return VariableSnapshot{std::move(service), tier, std::move(vars), at};
}

VariableChange change(std::string service, ConfigTier tier, std::string name, ChangeKind kind,
                      std::optional<Timestamp> provider_at, Timestamp observed_at) {
  return VariableChange{std::move(service), tier, std::move(name), kind, observed_at, provider_at};
}

// STRIPE_KEY added in production on the api at prod_time().
VariableChange production_add(std::string name = "STRIPE_KEY") {
  return change("api", ConfigTier::production, std::move(name), ChangeKind::added, prod_time(), prod_time() + 1min);
}

VariableChange staging_change(std::string name, Timestamp at, ChangeKind kind = ChangeKind::added) {
  return change("api", ConfigTier::staging, std::move(name), kind, at, at + 1min);
}

ExemptName exempt(std::string name) { return ExemptName{std::move(name), "each environment has its own"}; }

FlagSighting flag(std::string key, bool enabled, std::optional<Timestamp> updated_at = std::nullopt) {
  return FlagSighting{std::move(key), enabled, updated_at};
}

FlagSnapshot flags(ConfigTier tier, std::vector<FlagSighting> rows, Timestamp at) {
  return FlagSnapshot{tier, std::move(rows), at};
}

FlagChange flag_change(ConfigTier tier, std::string key, FlagChangeKind kind, bool enabled) {
  return FlagChange{tier, std::move(key), kind, enabled, prod_time() + 1min, prod_time()};
}

ServiceNames names(std::set<std::string> staging, std::set<std::string> production) {
  return ServiceNames{std::move(staging), std::move(production)};
}

ConfigView view(std::map<std::string, ServiceNames> services,
                std::optional<std::set<std::string>> production_flags = std::nullopt, Timestamp at = t0()) {
  return ConfigView{std::move(services), std::move(production_flags), at};
}

Policy env_policy() {
  Policy p = standard_policy();
  p.env.require_env = true;
  return p;
}

Policy flag_policy() {
  Policy p = standard_policy();
  p.flags.require_flag = true;
  p.flags.guarded_globs = {"apps/api/src/billing/**", "apps/api/src/quota/**"};
  return p;
}

PullFilePatch file(std::string name) { return PullFilePatch{std::move(name), "modified", std::string("+x")}; }

// Evidence of the range production (sha_of(1)) .. release (sha_of(100)) with the PRs given, one commit each.
const Sha flag_production = sha_of(1);
const Sha flag_release = sha_of(100);

PullEvidence pr_with(int number, std::vector<std::string> guarded, std::vector<std::string> keys) {
  PullEvidence pr;
  pr.number = number;
  pr.merged = true;
  pr.base_ref = "main";
  pr.flags = FlagFinding{std::move(guarded), std::move(keys)};
  return pr;
}

Evidence range_of(std::vector<PullEvidence> prs) {
  Evidence e;
  e.head = flag_release.str();
  e.base = flag_production.str();
  for (auto& pr : prs) {
    e.commits.push_back(CommitEvidence{fmt::format("c{:039x}", pr.number), {pr.number}});
    e.pulls[pr.number] = std::move(pr);
  }
  e.observed_at = t0();
  return e;
}

Release flag_release_with(std::optional<Evidence> e, std::optional<std::set<std::string>> production_flags) {
  Release r(flag_release);
  r.evidence = std::move(e);
  r.config = view({}, std::move(production_flags));
  return r;
}

}  // namespace

// ---- names and texts

TEST_CASE("configuration enums read and print their texts") {
  for (auto t : {ConfigTier::staging, ConfigTier::production}) CHECK(parse_config_tier(to_string(t)) == t);
  CHECK(to_string(ConfigTier::production) == "production");
  for (auto k : {ChangeKind::added, ChangeKind::removed, ChangeKind::changed})
    CHECK(parse_change_kind(to_string(k)) == k);
  CHECK(to_string(ChangeKind::changed) == "changed");
  for (auto k : {FlagChangeKind::added, FlagChangeKind::removed, FlagChangeKind::enabled, FlagChangeKind::disabled})
    CHECK(parse_flag_change_kind(to_string(k)) == k);
  CHECK(to_string(FlagChangeKind::disabled) == "disabled");
  for (auto k : {ViolationKind::env_production_first, ViolationKind::flag_production_first})
    CHECK(parse_violation_kind(to_string(k)) == k);
  CHECK(to_string(ViolationKind::flag_production_first) == "flag_production_first");
  CHECK_FALSE(parse_config_tier("Production").has_value());
  CHECK_FALSE(parse_change_kind("").has_value());
  CHECK_FALSE(parse_flag_change_kind("on").has_value());
  CHECK_FALSE(parse_violation_kind("env").has_value());
}

TEST_CASE("exempt names are matched exactly") {
  EnvPolicy p;
  p.production_only = {exempt("DATABASE_URL")};
  p.staging_only = {exempt("SEED_DEMO_DATA")};
  CHECK(p.production_only_name("DATABASE_URL"));
  CHECK_FALSE(p.production_only_name("database_url"));
  CHECK_FALSE(p.production_only_name("SEED_DEMO_DATA"));
  CHECK(p.staging_only_name("SEED_DEMO_DATA"));
  CHECK_FALSE(p.staging_only_name("DATABASE_URL"));
}

// ---- diff_variables

TEST_CASE("the first observation is a baseline: no changes") {
  const auto now = snapshot("api", ConfigTier::production, {var("A", t0()), var("B", t0())}, t0());
  CHECK(diff_variables(std::nullopt, now).empty());
}

TEST_CASE("diff_variables names added, removed and changed variables in name order") {
  const Timestamp seen = t0() + 1h;
  const auto before = snapshot("api", ConfigTier::staging,
                               {var("KEEP", t0()), var("MOVED", t0()), var("OLD", t0()), var("ZED", t0())}, t0());
  const auto after = snapshot("api", ConfigTier::staging,
                              {var("KEEP", t0()), var("MOVED", t0() + 30min), var("NEW", t0() + 20min),
                               var("ZED", t0() - 1h)},  // an earlier time is no change
                              seen);
  const auto changes = diff_variables(before, after);
  REQUIRE(changes.size() == 3);
  CHECK(changes[0] == change("api", ConfigTier::staging, "MOVED", ChangeKind::changed, t0() + 30min, seen));
  CHECK(changes[1] == change("api", ConfigTier::staging, "NEW", ChangeKind::added, t0() + 20min, seen));
  CHECK(changes[2] == change("api", ConfigTier::staging, "OLD", ChangeKind::removed, std::nullopt, seen));
  CHECK(changes[2].at() == seen);  // a removal has no provider time: it happened when it was seen
  CHECK(changes[0].at() == t0() + 30min);
}

TEST_CASE("a changed digest is a change even when the provider's time did not move") {
  const auto before = snapshot("api", ConfigTier::production, {var("SECRET", std::nullopt, "d1")}, t0());
  const auto same = snapshot("api", ConfigTier::production, {var("SECRET", std::nullopt, "d1")}, t0() + 1h);
  CHECK(diff_variables(before, same).empty());
  const auto after = snapshot("api", ConfigTier::production, {var("SECRET", std::nullopt, "d2")}, t0() + 1h);
  const auto changes = diff_variables(before, after);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == ChangeKind::changed);
  CHECK(changes[0].name == "SECRET");
  CHECK(changes[0].tier == ConfigTier::production);
  CHECK_FALSE(changes[0].provider_at.has_value());
  CHECK(changes[0].at() == t0() + 1h);
  // A digest that appears where there was none (a provider without digests) is not news of a change.
  const auto railway = snapshot("api", ConfigTier::production, {var("SECRET", std::nullopt)}, t0());
  CHECK(diff_variables(railway, after).empty());
}

// ---- judge_production_change

TEST_CASE("a change made on staging first, then in production, is fine") {
  EnvPolicy p;
  const std::vector<VariableChange> staging{staging_change("OTHER", prod_time() - 1h),
                                            staging_change("STRIPE_KEY", prod_time() - 2h)};
  CHECK_FALSE(judge_production_change(production_add(), staging, std::nullopt, p).has_value());
}

TEST_CASE("a production change with no staging change before it is a violation, named by service, name and time") {
  EnvPolicy p;
  const std::vector<VariableChange> staging{staging_change("OTHER", prod_time() - 1h)};
  const auto v = judge_production_change(production_add(), staging, std::nullopt, p);
  REQUIRE(v.has_value());
  CHECK(v->kind == ViolationKind::env_production_first);
  CHECK(v->service == "api");
  CHECK(v->name == "STRIPE_KEY");
  CHECK(v->at == prod_time());
  CHECK(v->reason ==
        "api: STRIPE_KEY was added in production at 2026-12-02T10:00:00.000Z with no change on staging in the 14d "
        "before it");
  // The same name on another service's staging does not count.
  std::vector<VariableChange> elsewhere{
      change("worker", ConfigTier::staging, "STRIPE_KEY", ChangeKind::added, prod_time() - 1h, prod_time() - 1h)};
  CHECK(judge_production_change(production_add(), elsewhere, std::nullopt, p).has_value());
  // Nor does a staging removal of it.
  std::vector<VariableChange> removed{staging_change("STRIPE_KEY", prod_time() - 1h, ChangeKind::removed)};
  CHECK(judge_production_change(production_add(), removed, std::nullopt, p).has_value());
}

TEST_CASE("staging's latest list counts as a staging change at the provider's time") {
  EnvPolicy p;
  const auto staging_now =
      snapshot("api", ConfigTier::staging, {var("STRIPE_KEY", prod_time() - 3h)}, prod_time() + 1min);
  CHECK_FALSE(judge_production_change(production_add(), {}, staging_now, p).has_value());
  // Without a time, the sighting proves nothing about when.
  const auto timeless = snapshot("api", ConfigTier::staging, {var("STRIPE_KEY", std::nullopt)}, prod_time());
  CHECK(judge_production_change(production_add(), {}, timeless, p).has_value());
}

TEST_CASE("production-only names are never violations and never block the env gate") {
  EnvPolicy p;
  p.production_only = {exempt("DATABASE_URL")};
  CHECK_FALSE(judge_production_change(production_add("DATABASE_URL"), {}, std::nullopt, p).has_value());
  CHECK(judge_production_change(production_add("STRIPE_KEY"), {}, std::nullopt, p).has_value());

  Policy policy = env_policy();
  policy.env = p;
  policy.env.require_env = true;
  Release r(sha_of(1));
  r.config = view({{"api", names({"STRIPE_KEY"}, {"DATABASE_URL", "STRIPE_KEY"})}});
  const GateStatus g = env_gate(r, policy);
  CHECK(g.ok);
  CHECK(g.reason == "env: production has every variable staging has (1 service)");
}

TEST_CASE("staging-only names do not block the env gate") {
  Policy policy = env_policy();
  policy.env.staging_only = {exempt("SEED_DEMO_DATA")};
  Release r(sha_of(1));
  r.config = view({{"api", names({"SEED_DEMO_DATA", "STRIPE_KEY"}, {"STRIPE_KEY"})}});
  CHECK(env_gate(r, policy).ok);
  CHECK(missing_in_production(r.config->services.at("api"), policy.env).empty());
  policy.env.staging_only.clear();
  CHECK(missing_in_production(r.config->services.at("api"), policy.env) == std::vector<std::string>{"SEED_DEMO_DATA"});
  CHECK_FALSE(env_gate(r, policy).ok);
}

TEST_CASE("a name removed on staging while production still has it neither blocks nor violates") {
  EnvPolicy p;
  const auto before = snapshot("api", ConfigTier::staging, {var("LEGACY_KEY", t0()), var("STRIPE_KEY", t0())}, t0());
  const auto after = snapshot("api", ConfigTier::staging, {var("STRIPE_KEY", t0())}, t0() + 1h);
  const auto changes = diff_variables(before, after);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == ChangeKind::removed);
  CHECK_FALSE(judge_production_change(changes[0], {}, after, p).has_value());  // a staging change: never judged

  Release r(sha_of(1));
  r.config = view({{"api", names({"STRIPE_KEY"}, {"LEGACY_KEY", "STRIPE_KEY"})}});
  CHECK(env_gate(r, env_policy()).ok);
}

TEST_CASE("a name removed in production first is no violation but blocks the env gate") {
  EnvPolicy p;
  const auto before = snapshot("api", ConfigTier::production, {var("LEGACY_KEY", t0()), var("STRIPE_KEY", t0())}, t0());
  const auto after = snapshot("api", ConfigTier::production, {var("STRIPE_KEY", t0())}, t0() + 1h);
  const auto changes = diff_variables(before, after);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].kind == ChangeKind::removed);
  CHECK_FALSE(judge_production_change(changes[0], {}, std::nullopt, p).has_value());

  Release r(sha_of(1));
  r.config = view({{"api", names({"LEGACY_KEY", "STRIPE_KEY"}, {"STRIPE_KEY"})}});
  const GateStatus g = env_gate(r, env_policy());
  CHECK_FALSE(g.ok);
  CHECK(g.reason == "env: production lacks api: LEGACY_KEY (staging has them)");
}

TEST_CASE("a staging change up to the clock skew after the production one still counts as before it") {
  EnvPolicy p;
  p.clock_skew = 5min;
  CHECK_FALSE(
      judge_production_change(production_add(), {staging_change("STRIPE_KEY", prod_time() + 3min)}, std::nullopt, p)
          .has_value());
  CHECK_FALSE(
      judge_production_change(production_add(), {staging_change("STRIPE_KEY", prod_time() + 5min)}, std::nullopt, p)
          .has_value());
  const auto v =
      judge_production_change(production_add(), {staging_change("STRIPE_KEY", prod_time() + 10min)}, std::nullopt, p);
  REQUIRE(v.has_value());
  CHECK(v->kind == ViolationKind::env_production_first);
  p.clock_skew = 15min;
  CHECK_FALSE(
      judge_production_change(production_add(), {staging_change("STRIPE_KEY", prod_time() + 10min)}, std::nullopt, p)
          .has_value());
}

TEST_CASE("a staging change older than the window does not count") {
  EnvPolicy p;
  p.staging_window = std::chrono::hours{24 * 14};
  const Timestamp old = prod_time() - std::chrono::hours{24 * 15};
  const auto v = judge_production_change(production_add(), {staging_change("STRIPE_KEY", old)}, std::nullopt, p);
  REQUIRE(v.has_value());
  CHECK(v->reason ==
        "api: STRIPE_KEY was added in production at 2026-12-02T10:00:00.000Z with no change on staging in the 14d "
        "before it (staging last changed it at 2026-11-17T10:00:00.000Z)");
  // Exactly at the window's start still counts.
  CHECK_FALSE(judge_production_change(production_add(), {staging_change("STRIPE_KEY", prod_time() - p.staging_window)},
                                      std::nullopt, p)
                  .has_value());
  p.staging_window = 36h;
  const auto short_window =
      judge_production_change(production_add(), {staging_change("STRIPE_KEY", prod_time() - 40h)}, std::nullopt, p);
  REQUIRE(short_window.has_value());
  CHECK(short_window->reason.find("in the 36h before it") != std::string::npos);
}

TEST_CASE("a changed production variable is judged like an added one; removals and staging changes never are") {
  EnvPolicy p;
  const auto changed = change("api", ConfigTier::production, "STRIPE_KEY", ChangeKind::changed, std::nullopt,
                              prod_time());  // no provider time: when it was seen
  const auto v = judge_production_change(changed, {}, std::nullopt, p);
  REQUIRE(v.has_value());
  CHECK(v->reason.starts_with("api: STRIPE_KEY was changed in production at 2026-12-02T10:00:00.000Z"));
  CHECK_FALSE(judge_production_change(
                  change("api", ConfigTier::production, "X", ChangeKind::removed, std::nullopt, prod_time()), {},
                  std::nullopt, p)
                  .has_value());
  CHECK_FALSE(judge_production_change(staging_change("X", prod_time()), {}, std::nullopt, p).has_value());
}

// ---- flags

TEST_CASE("diff_flags names added, removed, enabled and disabled flags; the first observation is a baseline") {
  const auto before = flags(ConfigTier::production, {flag("a", false), flag("b", true), flag("c", true)}, t0());
  CHECK(diff_flags(std::nullopt, before).empty());
  const Timestamp seen = t0() + 1h;
  const auto after =
      flags(ConfigTier::production,
            {flag("a", true, t0() + 10min), flag("b", false, t0() + 20min), flag("d", true, t0() + 5min)}, seen);
  const auto changes = diff_flags(before, after);
  REQUIRE(changes.size() == 4);
  CHECK((changes[0] == FlagChange{ConfigTier::production, "a", FlagChangeKind::enabled, true, seen, t0() + 10min}));
  CHECK((changes[1] == FlagChange{ConfigTier::production, "b", FlagChangeKind::disabled, false, seen, t0() + 20min}));
  CHECK((changes[2] == FlagChange{ConfigTier::production, "c", FlagChangeKind::removed, false, seen, std::nullopt}));
  CHECK((changes[3] == FlagChange{ConfigTier::production, "d", FlagChangeKind::added, true, seen, t0() + 5min}));
  CHECK(diff_flags(after, after).empty());
}

TEST_CASE("a flag enabled in production before staging ever had it enabled is a violation") {
  const auto enabled = flag_change(ConfigTier::production, "billing_v2", FlagChangeKind::enabled, true);
  const auto v = judge_flag_change(enabled, {"other"});
  REQUIRE(v.has_value());
  CHECK(v->kind == ViolationKind::flag_production_first);
  CHECK(v->service.empty());
  CHECK(v->name == "billing_v2");
  CHECK(v->at == prod_time());
  CHECK(v->reason ==
        "flag billing_v2 was enabled in production at 2026-12-02T10:00:00.000Z but has never been "
        "enabled on staging");
  const auto added_on = flag_change(ConfigTier::production, "billing_v2", FlagChangeKind::added, true);
  CHECK(judge_flag_change(added_on, {}).has_value());
}

TEST_CASE("a flag enabled in production after staging had it enabled is fine") {
  const std::set<std::string> ever{"billing_v2"};
  CHECK_FALSE(judge_flag_change(flag_change(ConfigTier::production, "billing_v2", FlagChangeKind::enabled, true), ever)
                  .has_value());
  CHECK_FALSE(judge_flag_change(flag_change(ConfigTier::production, "billing_v2", FlagChangeKind::added, true), ever)
                  .has_value());
  // What leaves a flag off is never a violation; nor is anything on staging.
  CHECK_FALSE(
      judge_flag_change(flag_change(ConfigTier::production, "x", FlagChangeKind::added, false), {}).has_value());
  CHECK_FALSE(
      judge_flag_change(flag_change(ConfigTier::production, "x", FlagChangeKind::disabled, false), {}).has_value());
  CHECK_FALSE(
      judge_flag_change(flag_change(ConfigTier::production, "x", FlagChangeKind::removed, false), {}).has_value());
  CHECK_FALSE(judge_flag_change(flag_change(ConfigTier::staging, "x", FlagChangeKind::enabled, true), {}).has_value());
}

TEST_CASE("flag_keys_in reads Flag: and Feature flag: lines") {
  using Keys = std::vector<std::string>;
  CHECK(flag_keys_in("Flag: billing_v2") == Keys{"billing_v2"});
  CHECK(flag_keys_in("feature FLAG: quota.limits") == Keys{"quota.limits"});
  CHECK(flag_keys_in("Feature flag: `enterprise:sso`\r\n") == Keys{"enterprise:sso"});
  CHECK(flag_keys_in("  - Flag: a-b\n* flag:c_d\n") == Keys{"a-b", "c_d"});
  CHECK(flag_keys_in("Flag: one\nsome text\nFlag: two\nFlag: one\n") == Keys{"one", "two"});
  CHECK(flag_keys_in("Flag: billing_v2 (the new checkout)") == Keys{"billing_v2"});
  CHECK(flag_keys_in("").empty());
  CHECK(flag_keys_in("Flag:").empty());
  CHECK(flag_keys_in("Flag: <key>").empty());  // the placeholder of the gate's hint
  CHECK(flag_keys_in("Flag: `unclosed").empty());
  CHECK(flag_keys_in("Flags: billing_v2").empty());
  CHECK(flag_keys_in("Featureflag: billing_v2").empty());
  CHECK(flag_keys_in("This PR adds a flag: billing_v2").empty());  // only a line's label counts
  CHECK(flag_keys_in("Flag: bad!key").empty());
  CHECK(flag_keys_in("Red flag: x").empty());
}

TEST_CASE("scan_flags reads keys only for a PR that changes a guarded path") {
  const Policy p = flag_policy();
  const std::string body = "Adds invoices.\n\nFlag: billing_v2\n";
  const auto guarded = scan_flags(p.flags, {file("README.md"), file("apps/api/src/billing/invoice.ts")}, body);
  CHECK(guarded.guarded_files == std::vector<std::string>{"apps/api/src/billing/invoice.ts"});
  CHECK(guarded.keys == std::vector<std::string>{"billing_v2"});
  const auto plain = scan_flags(p.flags, {file("apps/api/src/users/user.ts")}, body);
  CHECK(plain.guarded_files.empty());
  CHECK(plain.keys.empty());
}

// ---- the env gate

TEST_CASE("env gate: not required, waiting, lacking, holding") {
  Release r(sha_of(1));
  CHECK(env_gate(r, standard_policy()).ok);
  CHECK(env_gate(r, standard_policy()).reason == "env: not required by policy");

  const Policy p = env_policy();  // services worker, api, www in restart order
  GateStatus g = env_gate(r, p);
  CHECK_FALSE(g.ok);
  CHECK(g.reason == "env: waiting for the first observation of variable names");

  r.config = view({{"api", names({"BAR", "FOO"}, {})},
                   {"worker", names({"BAZ", "QUEUE"}, {"QUEUE"})},
                   {"www", names({"X"}, {"X"})},
                   {"unconfigured", names({"NOPE"}, {})}});
  g = env_gate(r, p);
  CHECK_FALSE(g.ok);
  CHECK(g.reason == "env: production lacks worker: BAZ; api: BAR, FOO (staging has them)");

  r.config = view({{"api", names({"BAR", "FOO"}, {"BAR", "FOO"})}, {"www", names({"X"}, {"X", "Y"})}});
  g = env_gate(r, p);
  CHECK(g.ok);
  CHECK(g.reason == "env: production has every variable staging has (2 services)");

  r.config = view({});
  g = env_gate(r, p);
  CHECK(g.ok);
  CHECK(g.reason == "env: no service's variables are observable");
}

TEST_CASE("env gate caps a long list of missing names") {
  std::set<std::string> staging;
  for (int i = 0; i < 25; ++i) staging.insert(fmt::format("VAR_{:02}", i));
  Release r(sha_of(1));
  r.config = view({{"api", names(staging, {})}});
  const GateStatus g = env_gate(r, env_policy());
  CHECK_FALSE(g.ok);
  CHECK(g.reason.find("VAR_09, … and 15 more") != std::string::npos);
  CHECK(g.reason.find("VAR_10") == std::string::npos);
}

// ---- the flag gate

TEST_CASE("flag gate: not required, waiting for evidence, waiting for production's flags") {
  Release r = flag_release_with(std::nullopt, std::set<std::string>{"billing_v2"});
  CHECK(flag_gate(r, standard_policy(), flag_production).reason == "flag: not required by policy");
  const Policy p = flag_policy();
  GateStatus g = flag_gate(r, p, flag_production);
  CHECK_FALSE(g.ok);
  CHECK(g.reason == "flag: waiting for GitHub evidence");
  r.evidence = range_of({pr_with(12, {}, {})});
  CHECK_FALSE(flag_gate(r, p, sha_of(2)).ok);  // evidence of another range: production moved since
  r.config->production_flags.reset();
  g = flag_gate(r, p, flag_production);
  CHECK_FALSE(g.ok);
  CHECK(g.reason == "flag: waiting for production's feature flags");
  r.config.reset();
  CHECK(flag_gate(r, p, flag_production).reason == "flag: waiting for production's feature flags");
}

TEST_CASE("flag gate: a guarded change must name a flag production has") {
  const Policy p = flag_policy();
  const std::set<std::string> production_flags{"billing_v2", "quota_v3"};

  Release r = flag_release_with(range_of({pr_with(7, {}, {}), pr_with(12, {"apps/api/src/billing/x.ts"}, {})}),
                                production_flags);
  GateStatus g = flag_gate(r, p, flag_production);
  CHECK_FALSE(g.ok);
  CHECK(g.reason ==
        "flag: PR #12 changes apps/api/src/billing/x.ts but names no flag (add a line \"Flag: <key>\" to its "
        "description)");

  r.evidence = range_of({pr_with(12, {"apps/api/src/billing/x.ts"}, {"billing_v9"})});
  g = flag_gate(r, p, flag_production);
  CHECK_FALSE(g.ok);
  CHECK(g.reason == "flag: PR #12 names flag billing_v9, which production's feature flag table lacks");

  r.evidence =
      range_of({pr_with(12, {"apps/api/src/billing/x.ts"}, {"a", "b"}), pr_with(13, {"apps/api/src/quota/q.ts"}, {})});
  g = flag_gate(r, p, flag_production);
  CHECK_FALSE(g.ok);
  CHECK(g.reason ==
        "flag: PR #12 names flags a, b, which production's feature flag table lacks; PR #13 changes "
        "apps/api/src/quota/q.ts but names no flag (add a line \"Flag: <key>\" to its description)");

  r.evidence = range_of({pr_with(12, {"apps/api/src/billing/x.ts"}, {"nope", "billing_v2"}),
                         pr_with(13, {"apps/api/src/quota/q.ts"}, {"quota_v3"}), pr_with(14, {}, {})});
  g = flag_gate(r, p, flag_production);
  CHECK(g.ok);
  CHECK(g.reason == "flag: every guarded change names a flag production has");

  r.evidence = range_of({pr_with(14, {}, {})});
  g = flag_gate(r, p, flag_production);
  CHECK(g.ok);
  CHECK(g.reason == "flag: no PR in the range touches guarded paths");
}

TEST_CASE("evaluate_gates reports env and flag after ddl_rollback, applying as the policy says") {
  Release r(sha_of(1));
  GateReport plain = evaluate_gates(r, standard_policy(), t0());
  CHECK_FALSE(plain.env.applies);
  CHECK_FALSE(plain.flag.applies);
  const auto all = plain.all();
  REQUIRE(all.size() == 8);
  CHECK(all[6] == &plain.env);
  CHECK(all[7] == &plain.flag);

  Policy p = env_policy();
  p.flags = flag_policy().flags;
  const GateReport g = evaluate_gates(r, p, t0());
  CHECK(g.env.applies);
  CHECK(g.flag.applies);
  CHECK_FALSE(g.env.ok);
  CHECK_FALSE(g.flag.ok);
  CHECK_FALSE(g.all_ok());
  const std::string facts = gate_facts(g);
  CHECK(facts.find("env: waiting for the first observation of variable names") != std::string::npos);
  CHECK(facts.find("flag: waiting for GitHub evidence") != std::string::npos);
  CHECK(gate_facts(plain).find("env:") == std::string::npos);
}

// ---- the policy

TEST_CASE("check_policy refuses env windows that cannot work and contradictory exemptions") {
  Policy p = env_policy();
  CHECK(check_policy(p).has_value());
  p.env.staging_window = Duration::zero();
  auto r = check_policy(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "env.staging_window must be positive");

  p = env_policy();
  p.env.clock_skew = -1s;
  REQUIRE_FALSE(check_policy(p).has_value());
  CHECK(check_policy(p).error().message == "env.clock_skew must not be negative");
  p.env.clock_skew = Duration::zero();
  CHECK(check_policy(p).has_value());

  p = env_policy();
  p.env.production_only = {exempt("DATABASE_URL")};
  p.env.staging_only = {exempt("DATABASE_URL")};
  r = check_policy(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(
      r.error().message.starts_with("variable DATABASE_URL is listed in both env.production_only and "
                                    "env.staging_only"));
  p.env.staging_only = {exempt(" ")};
  CHECK_FALSE(check_policy(p).has_value());
}

TEST_CASE("check_policy: the flag gate needs guarded globs") {
  Policy p = flag_policy();
  CHECK(check_policy(p).has_value());
  p.flags.guarded_globs.clear();
  auto r = check_policy(p);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "flags.require_flag = true needs at least one glob in flags.guarded_globs");
  p.flags.require_flag = false;
  CHECK(check_policy(p).has_value());
}

// ---- decide

namespace {

// Live everywhere, smoke passed, approved, soak complete: only the env gate can hold it back.
void everything_but_config(Driver& d, const Sha& sha) {
  d.all_live(sha);
  d.ok(smoke_result(sha, "e2e", true));
  d.ok(approval(sha, "bob"));
  d.clock.advance(30min);
  d.ok(SoakDeadlineReached{sha});
}

ConfigView api_view(std::set<std::string> production, Timestamp at = t0()) {
  return view({{"api", names({"FOO", "STRIPE_KEY"}, std::move(production))}}, std::nullopt, at);
}

}  // namespace

TEST_CASE("config_observed names the event and its release") {
  const Event e = ConfigObserved{sha_of(3), view({})};
  CHECK(event_name(e) == "config_observed");
  CHECK(*event_sha(e) == sha_of(3));
}

TEST_CASE("a soaking release waiting only for the env gate promotes when production gets the name") {
  Driver d(env_policy());
  const Sha a = sha_of(1);
  everything_but_config(d, a);
  CHECK(d.release(a).state == ReleaseState::soaking);
  CHECK(d.release(a).state_reason == "waiting for env: waiting for the first observation of variable names");

  d.ok(ConfigObserved{a, api_view({"FOO"})});
  CHECK(d.release(a).state == ReleaseState::soaking);
  CHECK(d.release(a).state_reason == "waiting for env: production lacks api: STRIPE_KEY (staging has them)");
  CHECK(has_audit(d.last, "release.config"));
  CHECK(d.release(a).config == api_view({"FOO"}));

  // Seen again with nothing new but the moment: nothing happens.
  const Decision& again = d.ok(ConfigObserved{a, api_view({"FOO"}, t0() + 5min)});
  CHECK(again.empty());

  d.ok(ConfigObserved{a, api_view({"FOO", "STRIPE_KEY"})});
  CHECK(d.release(a).state == ReleaseState::promoting);
  CHECK(effects_of<StartPromotion>(d.last).size() == 1);
  CHECK(has_audit(d.last, "release.config"));
}

TEST_CASE("the preflight fails when the promoting release's config view lacks a name") {
  Driver d(env_policy());
  const Sha a = sha_of(1);
  everything_but_config(d, a);
  d.ok(ConfigObserved{a, api_view({"FOO", "STRIPE_KEY"})});
  REQUIRE(d.release(a).state == ReleaseState::promoting);
  record_promotion_id(d.world, a, 1);
  CHECK(preflight_verdict(d.world, a, PromotionId{1}, d.clock.now).has_value());

  // Someone deletes STRIPE_KEY in production while the promotion waits for its preflight: the promoting
  // release takes the new view (it stays promoting), and the preflight refuses.
  d.ok(ConfigObserved{a, api_view({"FOO"})});
  CHECK(d.release(a).state == ReleaseState::promoting);
  auto verdict = preflight_verdict(d.world, a, PromotionId{1}, d.clock.now);
  REQUIRE_FALSE(verdict.has_value());
  CHECK(verdict.error().code == ErrorCode::failed_precondition);
  CHECK(verdict.error().message == "gates no longer hold: env: production lacks api: STRIPE_KEY (staging has them)");
}

TEST_CASE("a ready release whose production loses a name goes back to soaking") {
  Driver d(env_policy());
  const Sha a = sha_of(1);
  const Sha b = sha_of(2);
  // b promotes first, so a (ready) waits for it.
  everything_but_config(d, b);
  d.ok(ConfigObserved{b, api_view({"FOO", "STRIPE_KEY"})});
  REQUIRE(d.release(b).state == ReleaseState::promoting);
  d.all_live(a);
  d.ok(smoke_result(a, "e2e", true));
  d.ok(approval(a, "bob"));
  d.clock.advance(30min);
  d.ok(SoakDeadlineReached{a});
  d.ok(ConfigObserved{a, api_view({"FOO", "STRIPE_KEY"})});
  REQUIRE(d.release(a).state == ReleaseState::ready);
  d.ok(ConfigObserved{a, api_view({"FOO"})});
  CHECK(d.release(a).state == ReleaseState::soaking);
  CHECK(d.release(a).state_reason.find("env: production lacks api: STRIPE_KEY") != std::string::npos);
}

TEST_CASE("config for an unknown release, or one past its gates, changes nothing") {
  Driver d(env_policy());
  const Sha a = sha_of(1);
  CHECK(d.ok(ConfigObserved{sha_of(9), api_view({})}).empty());
  d.all_live(a);
  d.ok(rejection(a, "carol"));
  REQUIRE(d.release(a).state == ReleaseState::rejected);
  CHECK(d.ok(ConfigObserved{a, api_view({"FOO", "STRIPE_KEY"})}).empty());
  CHECK_FALSE(d.release(a).config.has_value());
}

TEST_CASE("when production moves, a release under the flag gate waits for evidence of its new range") {
  Policy p = flag_policy();
  Driver d(p);
  const Sha a = sha_of(1);
  const Sha b = sha_of(2);
  const std::set<std::string> production_flags{"billing_v2"};
  auto evidence_for = [&](const Sha& head, std::optional<Sha> base) {
    Evidence e;
    e.head = head.str();
    if (base) e.base = base->str();
    e.observed_at = d.clock.now;
    return e;
  };
  everything_but_config(d, a);
  d.ok(ConfigObserved{a, view({}, production_flags)});
  d.ok(EvidenceObserved{a, evidence_for(a, std::nullopt)});
  REQUIRE(d.release(a).state == ReleaseState::promoting);
  record_promotion_id(d.world, a, 1);

  everything_but_config(d, b);
  d.ok(ConfigObserved{b, view({}, production_flags)});
  d.ok(EvidenceObserved{b, evidence_for(b, std::nullopt)});  // gathered while there was no production yet
  REQUIRE(d.release(b).state == ReleaseState::ready);

  d.ok(PromotionFinished{a, PromotionId{1}, PromotionOutcome::succeeded, ""});
  CHECK(d.release(b).state == ReleaseState::soaking);
  CHECK(d.release(b).state_reason == "waiting for flag: waiting for GitHub evidence");
}

}  // namespace promoter::core::testing
