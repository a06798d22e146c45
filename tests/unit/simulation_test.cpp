// A deterministic simulation: thousands of random event orders, duplicate and late webhooks, timers,
// promotions with crashes between journal writes and side effects, and daemon restarts, driven through
// core with a fake clock. On every step an independent oracle — its own record of the event history,
// never core's gate functions — checks the safety rules of ARCHITECTURE.md.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/promotion_plan.hpp"
#include "core/promotion_rules.hpp"
#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono_literals;
using testing::sha_of;

constexpr std::uint64_t base_seed = 0x20261125;

// PROMOTER_SIM_SEED=<n> replays one scenario; PROMOTER_SIM_SCENARIOS=<n> changes how many run.
std::optional<std::uint64_t> seed_from_env() {
  if (const char* s = std::getenv("PROMOTER_SIM_SEED")) return std::strtoull(s, nullptr, 0);
  return std::nullopt;
}
int scenarios_from_env(int fallback) {
  if (const char* s = std::getenv("PROMOTER_SIM_SCENARIOS")) return std::atoi(s);
  return fallback;
}

std::string describe(const Event& e) {
  struct V {
    std::string operator()(const StagingDeploymentObserved& x) const {
      return fmt::format("staging {} {} {} {} author='{}'{}", x.sha.abbrev(), x.service, x.deployment_id,
                         to_string(x.status), x.author, x.created_at ? "" : " (no created_at)");
    }
    std::string operator()(const SmokeResultReported& x) const {
      return fmt::format("smoke {} {} {}", x.sha.abbrev(), x.suite, x.passed ? "passed" : "failed");
    }
    std::string operator()(const ApprovalGiven& x) const {
      return fmt::format("approval {} by {} git=[{}]", x.sha.abbrev(), x.by, fmt::join(x.by_git_authors, ","));
    }
    std::string operator()(const RejectionGiven& x) const {
      return fmt::format("rejection {} by {} reason='{}'", x.sha.abbrev(), x.by, x.reason);
    }
    std::string operator()(const SoakDeadlineReached& x) const {
      return fmt::format("soak deadline {}", x.sha.abbrev());
    }
    std::string operator()(const PromotionFinished& x) const {
      return fmt::format("promotion {} of {} finished {}{}", x.promotion_id, x.sha.abbrev(), to_string(x.outcome),
                         x.verify_failed ? " (verify failed)" : "");
    }
    std::string operator()(const HotfixRequested& x) const {
      return fmt::format("hotfix {} by {}", x.sha.abbrev(), x.by);
    }
    std::string operator()(const EvidenceObserved& x) const {
      return fmt::format("evidence {} base={} test={}", x.sha.abbrev(), x.evidence.base.value_or("-").substr(0, 12),
                         x.evidence.checks.empty() ? "-" : x.evidence.checks[0].conclusion);
    }
    std::string operator()(const ConfigObserved& x) const {
      return fmt::format("config {} services={}", x.sha.abbrev(), x.view.services.size());
    }
    std::string operator()(const LineStopRequested& x) const { return fmt::format("line stop by {}", x.by); }
    std::string operator()(const LineStopLifted& x) const { return fmt::format("line stop lifted by {}", x.by); }
    std::string operator()(const RollbackRequested& x) const {
      return fmt::format("rollback to {} by {}{} (history {})", x.to ? x.to->abbrev() : "the release before", x.by,
                         x.accept_schema ? " accepting the schema" : "", x.history.size());
    }
    std::string operator()(const ResumeRequested& x) const { return fmt::format("resume by {}", x.by); }
    std::string operator()(const FreezeBoundaryReached&) const { return "freeze boundary"; }
  };
  return std::visit(V{}, e);
}

// Everything about a release that matters (not the wording of state_reason, not updated_at).
std::string fingerprint(const Release& r, bool with_reason = false) {
  std::string s = fmt::format("{}|{}|{}|{}|", r.seq, r.author, to_string(r.state), r.soak_resets);
  for (const auto& [svc, d] : r.deployments)
    s += fmt::format("{}={}:{}:{};", svc, d.deployment_id, to_string(d.status),
                     d.created_at ? d.created_at->time_since_epoch().count() : -1);
  s += fmt::format("|{}|{}|", r.live_at ? r.live_at->time_since_epoch().count() : -1,
                   r.soak_started_at ? r.soak_started_at->time_since_epoch().count() : -1);
  for (const auto& [suite, res] : r.smoke)
    s += fmt::format("{}={}@{};", suite, res.passed, res.at.time_since_epoch().count());
  for (const auto& a : r.approvals) s += a.by + ",";
  s += r.rejection ? "|rejected by " + r.rejection->by : "|";
  s += fmt::format("|{}", r.promotion_id ? r.promotion_id->value() : -1);
  if (r.evidence)
    s += fmt::format("|ev:{}:{}", r.evidence->base.value_or("-"),
                     r.evidence->checks.empty() ? "" : r.evidence->checks[0].conclusion);
  if (with_reason) s += "|" + r.state_reason;
  return s;
}

std::map<std::string, std::string> fingerprints(const World& w, bool with_reason = false) {
  std::map<std::string, std::string> out;
  for (const auto& [sha, r] : w.releases) out[sha] = fingerprint(r, with_reason);
  out["~production"] = w.production ? w.production->str() : "";
  out["~promoting"] = w.promoting ? w.promoting->str() : "";
  out["~next_seq"] = std::to_string(w.next_seq);
  return out;
}

// The same facts as fingerprint(), compared field by field (the simulation does this on every event).
bool same_facts(const Release& a, const Release& b) {
  auto deps_equal = [](const StagingDeployment& x, const StagingDeployment& y) {
    return x.service == y.service && x.deployment_id == y.deployment_id && x.status == y.status &&
           x.created_at == y.created_at;
  };
  auto smoke_equal = [](const SmokeResult& x, const SmokeResult& y) {
    return x.suite == y.suite && x.passed == y.passed && x.at == y.at;
  };
  auto verdict_equal = [](const Verdict& x, const Verdict& y) { return x.by == y.by && x.at == y.at; };
  return a.seq == b.seq && a.author == b.author && a.state == b.state && a.soak_resets == b.soak_resets &&
         a.live_at == b.live_at && a.soak_started_at == b.soak_started_at && a.promotion_id == b.promotion_id &&
         std::ranges::equal(
             a.deployments, b.deployments,
             [&](const auto& x, const auto& y) { return x.first == y.first && deps_equal(x.second, y.second); }) &&
         std::ranges::equal(
             a.smoke, b.smoke,
             [&](const auto& x, const auto& y) { return x.first == y.first && smoke_equal(x.second, y.second); }) &&
         std::ranges::equal(a.approvals, b.approvals, verdict_equal) &&
         a.rejection.has_value() == b.rejection.has_value() &&
         (!a.rejection || verdict_equal(*a.rejection, *b.rejection));
}

// Everything a rollback records, field by field (Rollback has no operator==).
bool same_rollback(const std::optional<Rollback>& a, const std::optional<Rollback>& b) {
  if (!a || !b) return a.has_value() == b.has_value();
  return a->target == b->target && a->by == b->by && a->reason == b->reason && a->trigger == b->trigger &&
         a->requested_at == b->requested_at && a->after == b->after && a->promotion_id == b->promotion_id &&
         a->migrations_since == b->migrations_since && a->schema_state == b->schema_state;
}

// What the store would hold after writing these facts: the decision's facts alone, never its releases.
void replay(std::map<std::string, Release>& recorded, std::optional<Sha>& production,
            std::optional<LineStop>& line_stop, std::optional<Pin>& pin, std::optional<Rollback>& rollback,
            const Decision& d) {
  for (const auto& fact : d.facts)
    std::visit(
        [&](const auto& f) {
          using F = std::decay_t<decltype(f)>;
          if constexpr (std::is_same_v<F, ReleaseStateChanged>) {
            if (f.discovered) {
              Release fresh(f.sha);
              fresh.seq = f.seq;
              fresh.first_seen_at = f.first_seen_at;
              recorded.insert_or_assign(f.sha.str(), std::move(fresh));
            }
            Release& r = recorded.at(f.sha.str());
            r.author = f.author;
            r.ancestors = f.ancestors;
            r.live_at = f.live_at;
            r.soak_started_at = f.soak_started_at;
            r.soak_resets = f.soak_resets;
            r.awaiting_approval_since = f.awaiting_approval_since;
            r.state = f.state;
            r.state_reason = f.state_reason;
          } else if constexpr (std::is_same_v<F, DeploymentObserved>) {
            recorded.at(f.sha.str()).deployments[f.deployment.service] = f.deployment;
          } else if constexpr (std::is_same_v<F, SmokeRecorded>) {
            recorded.at(f.sha.str()).smoke[f.result.suite] = f.result;
          } else if constexpr (std::is_same_v<F, ApprovalAdded>) {
            recorded.at(f.sha.str()).approvals.push_back(f.approval);
          } else if constexpr (std::is_same_v<F, RejectionAdded>) {
            recorded.at(f.sha.str()).rejection = f.rejection;
          } else if constexpr (std::is_same_v<F, HotfixDeclared>) {
            recorded.at(f.sha.str()).hotfix = f.hotfix;
          } else if constexpr (std::is_same_v<F, EvidenceRecorded>) {
            recorded.at(f.sha.str()).evidence = f.evidence;
          } else if constexpr (std::is_same_v<F, ConfigRecorded>) {
            recorded.at(f.sha.str()).config = f.view;
          } else if constexpr (std::is_same_v<F, ProductionSet>) {
            production = f.sha;
          } else if constexpr (std::is_same_v<F, LineStopChanged>) {
            line_stop = f.stop;
          } else if constexpr (std::is_same_v<F, RollbackOpened>) {
            rollback = f.rollback;
          } else if constexpr (std::is_same_v<F, RollbackStarted>) {
            // The store creates the rollback's promotion here; its number comes back as the simulation's
            // StartPromotion turns into a promotion id (Simulation::start_rollback).
          } else if constexpr (std::is_same_v<F, RollbackEnded>) {
            rollback.reset();
          } else if constexpr (std::is_same_v<F, PinChanged>) {
            pin = f.pin;
          }
        },
        fact);
}

World reload(const World& persisted) {
  World w;
  w.policy = persisted.policy;
  w.production = persisted.production;
  w.promoting = persisted.promoting;
  w.next_seq = persisted.next_seq;
  w.line_stop = persisted.line_stop;
  w.pin = persisted.pin;
  w.rollback = persisted.rollback;  // with its promotion's id, so that its PromotionFinished still ends it
  for (const auto& [sha, r] : persisted.releases) w.put(r);
  return w;
}

// ---------------------------------------------------------------------------------------------------------
// The oracle: its own model of staging and of the gates, written from the policy's words.

// Where a deployment is in its life on Railway. A report from an earlier phase than one already seen for
// the same deployment is late, not news. Live and crashed are the same phase: a service can crash and
// come back.
int lifecycle_phase(DeployStatus s) {
  switch (s) {
    case DeployStatus::initializing:
    case DeployStatus::building:
      return 1;
    case DeployStatus::deploying:
      return 2;
    case DeployStatus::success:
    case DeployStatus::sleeping:
    case DeployStatus::crashed:
      return 3;
    case DeployStatus::failed:
      return 4;
    case DeployStatus::removing:
      return 5;
    case DeployStatus::removed:
      return 6;
    default:
      return 0;  // queued, waiting, needs approval, skipped, unknown
  }
}
bool serving(DeployStatus s) { return s == DeployStatus::success || s == DeployStatus::sleeping; }

struct OracleDeployment {
  std::string id;
  std::optional<Timestamp> created;
  DeployStatus status;
};

struct OracleApproval {
  std::string by;
  std::vector<std::string> git;
};

struct OracleRelease {
  std::string author;
  std::map<std::string, OracleDeployment> current;  // by service
  std::optional<Timestamp> healthy_since;           // start of the current run of every service serving
  std::optional<Timestamp> first_live;
  std::map<std::string, std::pair<bool, Timestamp>> smoke;  // latest by delivery
  std::vector<OracleApproval> approvals;                    // accepted ones
  bool rejected = false;
  bool finished = false;  // its promotion finished (either way)
  bool hotfix = false;
  bool overrides_freeze = false;  // the hotfix may start inside a freeze
  std::vector<std::string> ancestors;
  // The latest CI evidence accepted for it: the range it was read for, and whether "test" succeeded.
  bool ci_known = false;
  std::optional<std::string> ci_base;
  bool ci_green = false;
};

// A rollback the environment owes, by the oracle's reading: where it goes, whether a failed verify set it off,
// and its own promotion once it started (it runs in place of any promotion of a release, never beside one).
struct OracleRollback {
  Sha target;
  bool automatic = false;
  std::optional<PromotionId> promotion{};
};

// What the oracle makes of an operator's rollback request.
struct RollbackVerdict {
  std::optional<ErrorCode> refused;  // the code it must be refused with, if any
  std::optional<Sha> target;         // where it goes (also when only the schema refuses it)
  bool schema = false;               // refused because migrations ran since the target was production
};

class Oracle {
 public:
  explicit Oracle(const Policy& p) : policy_(p) {}

  bool knows(const Sha& sha) const { return releases.contains(sha.str()); }

  void staging(const StagingDeploymentObserved& e, Timestamp now) {
    OracleRelease& r = releases[e.sha.str()];
    if (r.author.empty()) r.author = e.author;
    if (r.ancestors.empty())
      for (const auto& a : e.ancestors) r.ancestors.push_back(a.str());
    auto it = r.current.find(e.service);
    if (it == r.current.end()) {
      r.current.emplace(e.service, OracleDeployment{e.deployment_id, e.created_at, e.status});
    } else if (it->second.id == e.deployment_id) {
      if (e.created_at) it->second.created = e.created_at;  // any report of it may say when it was created
      if (lifecycle_phase(e.status) >= lifecycle_phase(it->second.status)) it->second.status = e.status;
    } else if (!(e.created_at && it->second.created && *it->second.created > *e.created_at)) {
      it->second = OracleDeployment{e.deployment_id, e.created_at, e.status};
    }
    bool all = true;
    for (const auto& svc : policy_.services) {
      auto d = r.current.find(svc);
      all = all && d != r.current.end() && serving(d->second.status);
    }
    if (!all) {
      r.healthy_since.reset();
    } else {
      if (!r.healthy_since) r.healthy_since = now;
      if (!r.first_live) r.first_live = now;
    }
  }

  void smoke(const SmokeResultReported& e, Timestamp now) { releases[e.sha.str()].smoke[e.suite] = {e.passed, now}; }
  void approval(const ApprovalGiven& e) { releases[e.sha.str()].approvals.push_back({e.by, e.by_git_authors}); }
  void rejection(const RejectionGiven& e) { releases[e.sha.str()].rejected = true; }
  void hotfix(const HotfixRequested& e) {
    releases[e.sha.str()].hotfix = true;
    releases[e.sha.str()].overrides_freeze = e.override_freeze;
  }

  // Freezes by the oracle's own reading: one-off windows [from, until) and the operator's line stop.
  bool frozen(Timestamp now) const {
    for (const auto& [from, until] : windows)
      if (from <= now && now < until) return true;
    return line_stopped(now);
  }
  bool line_stopped(Timestamp now) const { return line_stop && (!line_stop->second || now < *line_stop->second); }
  // Core keeps evidence only for releases still gathering gates; a finished or rejected one ignores it.
  void evidence(const EvidenceObserved& e) {
    auto it = releases.find(e.sha.str());
    if (it == releases.end() || it->second.rejected || it->second.finished) return;
    if (running && running->first == e.sha) return;
    OracleRelease& r = it->second;
    r.ci_known = true;
    r.ci_base = e.evidence.base;
    r.ci_green = false;
    for (const auto& c : e.evidence.checks)
      if (c.name == "test") r.ci_green = c.completed && c.conclusion == "success";
  }

  // Empty when the policy does not ask for CI, or the evidence for the range from production shows "test"
  // passed; otherwise why not. Hotfixes too: they may skip review, never CI.
  std::string ci_missing(const OracleRelease& r) const {
    if (!policy_.evidence.require_ci) return {};
    const std::optional<std::string> from = production ? std::optional<std::string>(production->str()) : std::nullopt;
    if (!r.ci_known || r.ci_base != from) return "no CI evidence for the range from production";
    if (!r.ci_green) return "CI evidence says test did not pass";
    return {};
  }

  // Empty when every required suite passed after the release went live; otherwise why not.
  std::string smoke_missing(const OracleRelease& r) const {
    if (!policy_.require_smoke) return {};
    for (const auto& suite : policy_.required_smoke_suites) {
      auto s = r.smoke.find(suite);
      if (s == r.smoke.end()) return "suite " + suite + " never reported";
      if (!s->second.first) return "suite " + suite + " last reported failed";
      if (!r.first_live || s->second.second < *r.first_live) return "suite " + suite + " reported before live";
    }
    return {};
  }

  // Why a hotfix of `sha` must be refused now, or empty. The release is known and not yet hotfixed.
  std::string why_no_hotfix(const Sha& sha) const {
    const OracleRelease& r = releases.at(sha.str());
    if (r.rejected || r.finished) return "it is finished or rejected";
    if (running) return "a promotion is running";
    if (!r.healthy_since) return "not every service is serving on staging";
    if (production) {
      if (*production == sha) return "it is production";
      if (std::find(r.ancestors.begin(), r.ancestors.end(), production->str()) == r.ancestors.end())
        return "it does not descend from production, as far as staging said";
    }
    if (policy_.hotfix.require_smoke) return smoke_missing(r);
    return {};
  }

  int approvals_needed(const OracleRelease& r) const {
    int needed = policy_.approvals_required;
    for (const auto& rule : policy_.approval_rules)
      for (const auto& svc : rule.services)
        if (r.current.contains(svc)) needed = std::max(needed, rule.approvals_required);
    return needed;
  }

  bool is_author(const OracleRelease& r, const std::string& by, const std::vector<std::string>& git) const {
    return !r.author.empty() && (by == r.author || std::find(git.begin(), git.end(), r.author) != git.end());
  }

  // Empty when the policy allows promoting `sha` at `now`; otherwise why not.
  std::string why_not_promotable(const Sha& sha, Timestamp now) const {
    auto it = releases.find(sha.str());
    if (it == releases.end()) return "the oracle never saw it on staging";
    const OracleRelease& r = it->second;
    if (r.rejected) return "it was rejected";
    if (r.finished) return "its promotion already finished";
    if (running) return fmt::format("promotion of {} is still running", running->first.abbrev());
    if (rollback) return fmt::format("a rollback to {} is owed", rollback->target.abbrev());
    if (pinned) return "production is pinned after a rollback";
    if (!r.healthy_since) return "not every service is serving on staging";
    if (auto why = ci_missing(r); !why.empty()) return why;
    if (frozen(now) && !(r.hotfix && r.overrides_freeze)) return "production is frozen";
    if (r.hotfix) {  // procedure 5: soak and approval waived, smoke as the hotfix policy says
      if (policy_.hotfix.require_smoke) return smoke_missing(r);
      return {};
    }
    if (now - *r.healthy_since < policy_.soak)
      return fmt::format("healthy for only {} of {}", format_duration(now - *r.healthy_since),
                         format_duration(policy_.soak));
    if (auto why = smoke_missing(r); !why.empty()) return why;
    if (r.author.empty()) return "author unknown: separation of duties cannot be shown";
    std::set<std::string> approvers;
    for (const auto& a : r.approvals)
      if (!is_author(r, a.by, a.git)) approvers.insert(a.by);
    if (static_cast<int>(approvers.size()) < approvals_needed(r))
      return fmt::format("{} approvals by non-authors of {} needed", approvers.size(), approvals_needed(r));
    return {};
  }

  // Where an operator's rollback goes, read from the history it carries (newest first, a running promotion
  // first): the newest release that was production and is not now, or the one named if it is such a release.
  RollbackVerdict rollback_verdict(const RollbackRequested& e) const {
    if (e.reason.find_first_not_of(' ') == std::string::npos) return {ErrorCode::invalid_argument, {}, false};
    if (rollback) return {ErrorCode::conflict, {}, false};
    const auto& h = e.history;
    std::optional<Sha> target;
    for (std::size_t i = 1; i < h.size() && !target; ++i)
      if (h[i].sha != h[0].sha && (!e.to || h[i].sha == *e.to)) target = h[i].sha;
    if (!target) return {ErrorCode::failed_precondition, {}, false};
    // Migrations never run backwards: whatever ran since the target first became production is still applied,
    // rollbacks to it in between or not.
    std::size_t first = 0;
    for (std::size_t i = 0; i < h.size(); ++i)
      if (h[i].sha == *target) first = i;
    bool migrated = false;
    for (std::size_t i = 0; i < first; ++i) migrated = migrated || !h[i].migrations.empty();
    if (migrated && !e.accept_schema) return {ErrorCode::failed_precondition, target, true};
    return {std::nullopt, target, false};
  }

  // A promotion ended: a release's, or the rollback's own. A release's verify that failed once every service
  // deployed rolls production back at once when the policy says so (and there is a production to go back to);
  // a rollback's end pins production whatever its outcome.
  void finished(const PromotionFinished& e) {
    if (rollback && rollback->promotion == e.promotion_id) {
      if (e.outcome == PromotionOutcome::succeeded) production = rollback->target;
      rollback.reset();
      pinned = true;
      return;
    }
    releases[e.sha.str()].finished = true;
    if (e.outcome == PromotionOutcome::succeeded) production = e.sha;
    running.reset();
    if (!rollback && e.outcome == PromotionOutcome::failed && e.verify_failed && policy_.rollback_on_verify_failure &&
        production)
      rollback = OracleRollback{*production, true};
  }

  std::map<std::string, OracleRelease> releases;
  std::optional<std::pair<Sha, PromotionId>> running;  // a release's promotion (a rollback's is in `rollback`)
  std::optional<OracleRollback> rollback;
  bool pinned = false;  // a rollback ended and no operator resumed since
  std::optional<Sha> production;
  std::vector<std::pair<Timestamp, Timestamp>> windows;                     // the policy's one-off freeze windows
  std::optional<std::pair<Timestamp, std::optional<Timestamp>>> line_stop;  // since, until

 private:
  const Policy& policy_;
};

// ---------------------------------------------------------------------------------------------------------
// A promotion executor with crashes: the journal and the world's side effects survive a crash, the
// executor's memory does not.

struct SimPromotion {
  Sha sha;
  PromotionId id;
  PromotionPlan plan;
  std::vector<StepState> journal;        // durable
  std::map<std::string, int> performed;  // the world: how often each side effect happened, by idempotency key
  enum class Phase { idle, effect_due, outcome_due } phase = Phase::idle;
  int current = -1;
  bool outcome_ok = false;
  std::optional<AbortRequest> abort{};  // durable: an operator's request, on the promotion's row
  bool rollback = false;                // the rollback's own promotion
  Timestamp started_at{};
  std::vector<std::string> migrations{};  // what its migrate step applies, as the step's output names them
};

struct Stats {
  long events = 0, accepted = 0, refused = 0, promotions_started = 0, promoted = 0, promotion_failed = 0;
  long soak_resets = 0, superseded = 0, rejected = 0, restarts = 0, executor_crashes = 0;
  long reconciled_done = 0, reconciled_redo = 0, steps_failed = 0, started_by_resume = 0, self_approvals_refused = 0;
  long duplicates = 0, timers_fired = 0, hotfixes = 0, hotfixes_refused = 0, aborted = 0;
  long line_stops = 0, freeze_boundaries = 0, frozen_scenarios = 0, started_at_freeze_end = 0;
  long seeded_production = 0, rollbacks_requested = 0, rollbacks_refused = 0, rollbacks_refused_for_schema = 0;
  long rollbacks_waited = 0, aborts_for_rollback = 0, verify_failures = 0, automatic_rollbacks = 0;
  long rollbacks_started = 0, rollbacks_succeeded = 0, rollbacks_failed = 0, restarts_mid_rollback = 0;
  long pins = 0, resumes = 0, resumes_refused = 0;
};

class Simulation {
 public:
  Simulation(std::uint64_t seed, Stats& stats) : seed_(seed), rng_(seed), stats_(stats), oracle_(world_.policy) {
    world_.policy = random_policy();
    REQUIRE(check_policy(world_.policy).has_value());
    oracle_.windows = oracle_windows_;
    if (!oracle_windows_.empty()) ++stats_.frozen_scenarios;
    now_ = testing::t0();
    if (chance(0.75)) {
      // The environment has a past: production is the root commit, and the history (newest first) holds up to
      // two releases before it, the oldest set before promoterd ran (no promotion). Their releases are retired
      // from the World, as the daemon retires finished ones; some of their promotions brought a migration.
      ++stats_.seeded_production;
      world_.production = commit_sha(0);
      oracle_.production = world_.production;
      recorded_production_ = world_.production;
      const int past = roll(3);
      for (int age = past; age >= 0; --age) {  // oldest first, each inserted before the older ones
        const Sha sha = age == 0 ? commit_sha(0) : *Sha::parse(fmt::format("b{:039x}", age));
        const std::optional<PromotionId> id =
            age == past ? std::nullopt : std::optional<PromotionId>(PromotionId{++next_promotion_id_});
        std::vector<std::string> migrations;
        if (id && chance(0.4)) migrations.push_back(fmt::format("{:04}_past.sql", ++migrations_));
        history_.insert(history_.begin(),
                        ProductionEntry{sha, id, now_ - std::chrono::days{7 * (age + 1)}, std::move(migrations)});
      }
    }
    commits_ = 1;
    authors_[1] = pick(operators_);
    ancestry_[1] = random_ancestry(1);
  }

  // Runs one scenario; returns the first violated rule, or empty.
  std::string run(int events) {
    take(resume(world_, now_), /*from_event=*/false, std::nullopt);  // the daemon starts: timers armed
    for (step_ = 0; step_ < events && failure_.empty(); ++step_) one_step();
    if (failure_.empty()) drain();
    return failure_;
  }

 private:
  // ----- randomness
  int roll(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class C>
  auto pick(const C& c) -> decltype(*std::begin(c)) {
    return c[static_cast<std::size_t>(roll(static_cast<int>(std::size(c))))];
  }

  Policy random_policy() {
    Policy p;
    std::vector<std::string> services = {"worker", "api", "www"};
    std::shuffle(services.begin(), services.end(), rng_);
    services.resize(static_cast<std::size_t>(1 + roll(3)));
    p.services = services;
    p.approvals_required = chance(0.7) ? 1 : 2;
    p.require_smoke = chance(0.85);
    p.required_smoke_suites =
        chance(0.6) ? std::vector<std::string>{"e2e"} : std::vector<std::string>{"e2e", "checkout"};
    p.run_migrations = chance(0.8);
    p.verify_after_deploy = chance(0.8);
    p.rollback_on_verify_failure = chance(0.5);
    if (chance(0.3)) {  // a rollback order of its own; otherwise restart order reversed
      p.rollback_order = services;
      std::shuffle(p.rollback_order.begin(), p.rollback_order.end(), rng_);
    }
    if (chance(0.15)) {
      p.allow_short_soak = true;
      p.soak = chance(0.5) ? Duration{0ms} : Duration{5min};
    }
    p.hotfix.require_smoke = chance(0.7);
    if (chance(0.25)) p.approval_rules.push_back(ApprovalRule{{services.front()}, 2});
    if (chance(0.4)) {
      p.evidence.require_ci = true;
      p.evidence.required_checks = {"test"};
    }
    if (chance(0.3)) {  // one or two one-off freeze windows in the first hours
      for (int i = 0, n = 1 + roll(2); i < n; ++i) {
        const Timestamp from = testing::t0() + Duration{std::uniform_int_distribution<int>(0, 6 * 3'600'000)(rng_)};
        const Duration length{std::uniform_int_distribution<int>(10 * 60'000, 3 * 3'600'000)(rng_)};
        p.freezes.push_back(FreezeWindow{fmt::format("window{}", i), "sim", OneOffWindow{from, from + length}});
        oracle_windows_.emplace_back(from, from + length);
      }
    }
    storm_ = chance(0.3);  // a stormy scenario crashes staging more often
    return p;
  }

  void fail(std::string rule, std::string detail) {
    if (!failure_.empty()) return;
    failure_ = fmt::format("seed {:#x} step {} at {}: {}: {}", seed_, step_, format_timestamp(now_), rule, detail);
  }

  // ----- event generation
  // "c00000000003000...": the abbreviation names the commit.
  const Sha& commit_sha(int k) const {
    static const std::vector<Sha> shas = [] {
      std::vector<Sha> v;
      for (int i = 0; i <= 16; ++i) v.push_back(*Sha::parse(fmt::format("c{:011x}{:028x}", i, 0)));
      return v;
    }();
    return shas.at(static_cast<std::size_t>(k));
  }

  // What staging reports a commit descends from: on main, every earlier commit down to the root (commit 0,
  // production in some scenarios before any promotion); sometimes nothing (a source that does not say);
  // sometimes a branch that left main before any of them.
  std::vector<Sha> random_ancestry(int k) {
    const int kind = roll(20);
    if (kind < 2) return {};
    if (kind < 4) return {*Sha::parse(std::string(40, 'f'))};
    std::vector<Sha> out;
    for (int j = k - 1; j >= 0; --j) out.push_back(commit_sha(j));
    return out;
  }

  int pick_commit() {
    if (chance(0.04) && commits_ < 6) {
      ++commits_;
      authors_[commits_] = pick(operators_);
      ancestry_[commits_] = random_ancestry(commits_);
    }
    // mostly the newest commit, sometimes an older one (a late or re-run deployment)
    return chance(0.75) ? commits_ : 1 + roll(commits_);
  }

  StagingDeploymentObserved new_staging_event() {
    const int k = pick_commit();
    const std::string& service = pick(world_.policy.services);
    auto& deps = deployments_[{k, service}];
    if (deps.empty() || chance(0.08)) deps.push_back(now_);  // a new deployment; created now
    const int d = chance(0.85) ? static_cast<int>(deps.size()) - 1 : roll(static_cast<int>(deps.size()));
    static constexpr DeployStatus calm[] = {
        DeployStatus::success,   DeployStatus::success,   DeployStatus::success,  DeployStatus::success,
        DeployStatus::success,   DeployStatus::success,   DeployStatus::success,  DeployStatus::success,
        DeployStatus::success,   DeployStatus::success,   DeployStatus::sleeping, DeployStatus::sleeping,
        DeployStatus::building,  DeployStatus::deploying, DeployStatus::queued,   DeployStatus::initializing,
        DeployStatus::deploying, DeployStatus::unknown,   DeployStatus::crashed,  DeployStatus::success,
        DeployStatus::success,   DeployStatus::success,   DeployStatus::success,  DeployStatus::success,
    };
    if (!storm_ && chance(0.02))
      return with_status(k, service, d, chance(0.5) ? DeployStatus::failed : DeployStatus::removed);
    static constexpr DeployStatus stormy[] = {
        DeployStatus::success,  DeployStatus::success,   DeployStatus::success, DeployStatus::crashed,
        DeployStatus::crashed,  DeployStatus::failed,    DeployStatus::removed, DeployStatus::removing,
        DeployStatus::building, DeployStatus::deploying,
    };
    return with_status(k, service, d, storm_ ? pick(stormy) : pick(calm));
  }

  StagingDeploymentObserved with_status(int k, const std::string& service, int d, DeployStatus status) {
    const auto& deps = deployments_[{k, service}];
    StagingDeploymentObserved e{
        commit_sha(k),
        service,
        fmt::format("dep-{}-{}-{}", k, service, d),
        status,
        chance(0.1) ? std::string{} : authors_[k],
        chance(0.8) ? std::optional<Timestamp>{deps[static_cast<std::size_t>(d)]} : std::nullopt,
        "railway",
        ancestry_[k]};
    return e;
  }

  // Gate facts mostly concern the newest commit; sometimes an older one or one never seen.
  Sha some_sha() {
    if (chance(0.05)) return *Sha::parse(std::string(40, 'e'));
    return commit_sha(chance(0.7) ? commits_ : 1 + roll(commits_));
  }

  Event random_approval() {
    const std::string& op = pick(operators_);
    ApprovalGiven a{some_sha(), op, {}, "lgtm"};
    if (chance(0.4)) {  // an SSO identity with its git logins
      a.by = op + "@example.com";
      a.by_git_authors = {op};
    }
    return a;
  }

  // ----- one step
  void one_step() {
    advance(Duration{std::uniform_int_distribution<int>(0, 240'000)(rng_)});
    const int r = roll(100);
    if (r < 40) {
      auto e = new_staging_event();
      if (chance(0.2)) {
        outbox_.push_back(e);  // delayed: delivered later, out of order
      } else {
        deliver(e);
        delivered_staging_.push_back(e);
      }
    } else if (r < 50) {
      if (!outbox_.empty()) {
        const std::size_t i = static_cast<std::size_t>(roll(static_cast<int>(outbox_.size())));
        auto e = outbox_[i];
        if (chance(0.7)) outbox_.erase(outbox_.begin() + static_cast<std::ptrdiff_t>(i));  // else: delivered twice
        deliver(e);
        delivered_staging_.push_back(e);
      }
    } else if (r < 54) {
      if (!delivered_staging_.empty()) {  // a webhook retry of something delivered before
        ++stats_.duplicates;
        deliver(pick(delivered_staging_));
      }
    } else if (r < 62) {
      static const std::string suites[] = {"e2e", "e2e", "e2e", "checkout", "checkout", "checkout", "extra", ""};
      deliver(SmokeResultReported{some_sha(), pick(suites), chance(0.85), "smoke-runner", ""});
    } else if (r < 72) {
      deliver(random_approval());
    } else if (r < 73) {
      if (chance(0.5)) deliver(RejectionGiven{some_sha(), pick(operators_), chance(0.8) ? "breaks checkout" : ""});
    } else if (r < 74) {
      deliver(HotfixRequested{some_sha(), pick(operators_), chance(0.95) ? "checkout is down" : " ",
                              "https://status.example.com/incidents/1", chance(0.5)});
    } else if (r < 75) {
      deliver(SoakDeadlineReached{some_sha()});  // a stale or spurious timer
    } else if (r < 76) {
      auto e = new_staging_event();
      e.service = "db";  // not configured
      deliver(e);
    } else if (r < 78) {
      // a promotion result nobody asked for, or with a stale id
      PromotionFinished f{some_sha(), PromotionId{1 + roll(next_promotion_id_ + 1)},
                          chance(0.5) ? PromotionOutcome::succeeded : PromotionOutcome::failed, "bogus"};
      // Not the rollback's id either: core ends the rollback on its promotion id alone (only the executor, which
      // knows the target, reports it).
      const bool rollbacks = oracle_.rollback && oracle_.rollback->promotion == f.promotion_id;
      if (!(oracle_.running && oracle_.running->first == f.sha && oracle_.running->second == f.promotion_id) &&
          !rollbacks)
        deliver(f);
    } else if (r < 79 && world_.policy.evidence.require_ci) {
      deliver(random_evidence());
    } else if (r < 81) {
      restart();
    } else if (r < 82) {
      if (chance(0.5)) {
        std::optional<Timestamp> until;
        if (chance(0.5)) until = now_ + Duration{std::uniform_int_distribution<int>(-5 * 60'000, 2 * 3'600'000)(rng_)};
        deliver(LineStopRequested{pick(operators_), chance(0.9) ? "incident" : " ", until});
      } else {
        deliver(LineStopLifted{pick(operators_), chance(0.9) ? "all clear" : ""});
      }
    } else if (r < 84) {
      if (chance(0.75)) deliver(random_rollback());
    } else if (r < 87) {
      deliver(ResumeRequested{pick(operators_), chance(0.9) ? "fixed forward" : " "});
    } else {
      executor_step();
    }
  }

  // An operator's rollback, with the history the store reads for it: a running promotion of a release first (it
  // may have changed production in part; with the migrations its migrate step began), then every promotion and
  // rollback that made a release production here, newest first.
  RollbackRequested random_rollback() {
    RollbackRequested e{pick(operators_), chance(0.95) ? "checkout broke" : " ", std::nullopt, chance(0.5), {}, ""};
    if (promotion_ && !promotion_->rollback) {
      const SimPromotion& p = *promotion_;
      ProductionEntry running{p.sha, p.id, p.started_at, {}};
      for (std::size_t i = 0; i < p.plan.steps.size(); ++i)
        if (p.plan.steps[i].kind == StepKind::migrate && p.journal[i] != StepState::planned)
          running.migrations = p.migrations;
      e.history.push_back(std::move(running));
    }
    e.history.insert(e.history.end(), history_.begin(), history_.end());
    const int to = roll(10);
    if (to < 3 && !e.history.empty())
      e.to = pick(e.history).sha;  // perhaps production itself, or the running release: not a valid target
    else if (to < 4)
      e.to = commit_sha(1 + roll(commits_));  // perhaps never production
    for (const auto& entry : e.history)
      if (!entry.migrations.empty() && e.schema_state.empty())
        e.schema_state = fmt::format("db:migrate: {} applied", entry.migrations.back());
    return e;
  }

  // Moves the clock forward, firing every armed timer at its exact deadline on the way.
  void advance(Duration d) {
    const Timestamp target = now_ + d;
    for (;;) {
      if (!failure_.empty()) return;
      const bool soak_due = !timers_.empty() && timers_.begin()->first <= target;
      const bool freeze_due = freeze_timer_ && *freeze_timer_ <= target;
      if (freeze_due && (!soak_due || *freeze_timer_ <= timers_.begin()->first)) {
        now_ = std::max(now_, *freeze_timer_);
        freeze_timer_.reset();
        ++stats_.freeze_boundaries;
        deliver(FreezeBoundaryReached{});
      } else if (soak_due) {
        auto [deadline, sha] = *timers_.begin();
        timers_.erase(timers_.begin());
        now_ = std::max(now_, deadline);
        ++stats_.timers_fired;
        deliver(SoakDeadlineReached{sha});
      } else {
        break;
      }
    }
    now_ = std::max(now_, target);
  }

  // What the GitHub reconciler reads for a release: mostly for the range from the current production,
  // sometimes for a stale one; "test" passed, failed or still running.
  EvidenceObserved random_evidence() {
    const Sha sha = some_sha();
    Evidence ev;
    ev.head = sha.str();
    if (chance(0.85)) {
      if (world_.production) ev.base = world_.production->str();
    } else {
      ev.base = commit_sha(1 + roll(16)).str();
    }
    CheckEvidence test;
    test.name = "test";
    test.completed = chance(0.9);
    test.conclusion = !test.completed ? "" : chance(0.8) ? "success" : "failure";
    test.at = now_;
    ev.checks = {test};
    ev.observed_at = now_;
    return EvidenceObserved{sha, std::move(ev)};
  }

  // ----- delivering one event to core and checking the rules
  std::optional<std::set<ErrorCode>> expected_refusal(const Event& e) const {
    using Codes = std::set<ErrorCode>;
    if (std::holds_alternative<EvidenceObserved>(e)) return std::nullopt;  // never refused: it names its own head
    if (auto* s = std::get_if<StagingDeploymentObserved>(&e)) {
      const auto& svcs = world_.policy.services;
      if (std::find(svcs.begin(), svcs.end(), s->service) == svcs.end()) return Codes{ErrorCode::invalid_argument};
      return std::nullopt;
    }
    if (std::holds_alternative<SoakDeadlineReached>(e) || std::holds_alternative<FreezeBoundaryReached>(e))
      return std::nullopt;
    if (auto* stop = std::get_if<LineStopRequested>(&e)) {
      if (stop->reason.find_first_not_of(' ') == std::string::npos || (stop->until && *stop->until <= now_))
        return Codes{ErrorCode::invalid_argument};
      return std::nullopt;
    }
    if (auto* lift = std::get_if<LineStopLifted>(&e)) {
      if (lift->reason.empty()) return Codes{ErrorCode::invalid_argument, ErrorCode::failed_precondition};
      if (!oracle_.line_stopped(now_)) return Codes{ErrorCode::failed_precondition};
      return std::nullopt;
    }
    if (auto* rollback = std::get_if<RollbackRequested>(&e)) {
      if (auto code = oracle_.rollback_verdict(*rollback).refused) return Codes{*code};
      return std::nullopt;
    }
    if (auto* resume = std::get_if<ResumeRequested>(&e)) {
      if (resume->reason.find_first_not_of(' ') == std::string::npos) return Codes{ErrorCode::invalid_argument};
      if (!oracle_.pinned || oracle_.rollback) return Codes{ErrorCode::failed_precondition};
      return std::nullopt;
    }
    // The rollback's own promotion ended (its target may be a release this daemon never saw on staging).
    if (auto* f = std::get_if<PromotionFinished>(&e);
        f && oracle_.rollback && oracle_.rollback->promotion == f->promotion_id)
      return std::nullopt;
    const Sha& sha = *event_sha(e);
    if (!oracle_.knows(sha)) return Codes{ErrorCode::not_found};
    const OracleRelease& r = oracle_.releases.at(sha.str());
    const bool running_here = oracle_.running && oracle_.running->first == sha;
    const bool frozen = r.rejected || r.finished || running_here;
    if (auto* a = std::get_if<ApprovalGiven>(&e)) {
      if (frozen) return Codes{ErrorCode::failed_precondition};
      if (r.author.empty()) return Codes{ErrorCode::failed_precondition};  // separation of duties unknowable
      if (oracle_.is_author(r, a->by, a->by_git_authors))
        return Codes{ErrorCode::forbidden, ErrorCode::failed_precondition};
    }
    if (auto* j = std::get_if<RejectionGiven>(&e)) {
      if (frozen) return Codes{ErrorCode::failed_precondition};
      if (j->reason.empty()) return Codes{ErrorCode::invalid_argument, ErrorCode::failed_precondition};
    }
    if (auto* s = std::get_if<SmokeResultReported>(&e); s && s->suite.empty())
      return Codes{ErrorCode::invalid_argument};
    if (auto* h = std::get_if<HotfixRequested>(&e)) {
      if (r.hotfix) return std::nullopt;  // a retry: accepted, changes nothing
      if (frozen) return Codes{ErrorCode::failed_precondition};
      // States the oracle does not model (superseded, staging_failed) are refused before the reason is read.
      if (h->reason.find_first_not_of(' ') == std::string::npos)
        return Codes{ErrorCode::invalid_argument, ErrorCode::failed_precondition};
      if (!oracle_.why_no_hotfix(sha).empty()) return Codes{ErrorCode::failed_precondition};
      if (oracle_.frozen(now_) && !h->override_freeze) return Codes{ErrorCode::failed_precondition};
    }
    if (auto* f = std::get_if<PromotionFinished>(&e)) {
      if (!running_here) return Codes{ErrorCode::failed_precondition};
      if (oracle_.running->second != f->promotion_id) return Codes{ErrorCode::conflict};
    }
    return std::nullopt;
  }

  void deliver(const Event& e) {
    if (!failure_.empty()) return;
    ++stats_.events;
    if (trace_) fmt::print("{} #{} {}\n", format_timestamp(now_), step_, describe(e));
    // What the event is about, as it was: for the refusal and audit checks below.
    const Sha* named_sha = event_sha(e);  // none for the environment's events (line stops, freeze boundaries)
    const Release* named_ptr = named_sha ? world_.find(*named_sha) : nullptr;
    const std::optional<Release> named = named_ptr ? std::optional<Release>(*named_ptr) : std::nullopt;
    const auto scalars = std::tuple(world_.production, world_.promoting, world_.next_seq, world_.releases.size());
    const auto refusal = expected_refusal(e);
    auto d = decide(world_, e, now_);

    if (!d) {
      ++stats_.refused;
      // (c) a refused event changes nothing, and the oracle agrees it had to be refused
      const Release* now_named = named_sha ? world_.find(*named_sha) : nullptr;
      if (scalars != std::tuple(world_.production, world_.promoting, world_.next_seq, world_.releases.size()) ||
          named.has_value() != (now_named != nullptr) ||
          (named && (!same_facts(*named, *now_named) || named->state_reason != now_named->state_reason)))
        fail("refused events change nothing", describe(e));
      if (!refusal) {
        // Two refusals the oracle does not model itself: a release core superseded, and an approval while
        // core has not yet learned the author (the oracle also learns it from late webhooks).
        const Release* cr =
            std::holds_alternative<StagingDeploymentObserved>(e) || !named_sha ? nullptr : world_.find(*named_sha);
        const bool explained =
            cr && d.error().code == ErrorCode::failed_precondition &&
            ((cr->state == ReleaseState::superseded && !std::holds_alternative<SmokeResultReported>(e)) ||
             (cr->author.empty() && std::holds_alternative<ApprovalGiven>(e)));
        if (!explained)
          return fail("refusal", fmt::format("{} was refused ({}: {}) but the oracle accepts it", describe(e),
                                             to_string(d.error().code), d.error().message));
      }
      if (refusal && !refusal->contains(d.error().code))
        return fail("refusal code",
                    fmt::format("{} refused with {} ({})", describe(e), to_string(d.error().code), d.error().message));
      if (d.error().message.empty()) return fail("refusal message", describe(e) + " refused without a message");
      if (auto* a = std::get_if<ApprovalGiven>(&e); a && d.error().code == ErrorCode::forbidden)
        ++stats_.self_approvals_refused;
      if (std::holds_alternative<HotfixRequested>(e)) ++stats_.hotfixes_refused;
      if (auto* rollback = std::get_if<RollbackRequested>(&e)) {
        ++stats_.rollbacks_refused;
        if (oracle_.rollback_verdict(*rollback).schema) ++stats_.rollbacks_refused_for_schema;
      }
      if (std::holds_alternative<ResumeRequested>(e)) ++stats_.resumes_refused;
      return;
    }
    ++stats_.accepted;
    if (refusal)
      return fail("refusal",
                  fmt::format("{} was accepted but had to be refused ({})", describe(e), to_string(*refusal->begin())));

    // The rollback this event ends, if it is the end of the rollback's own promotion.
    std::optional<OracleRollback> ending;
    if (auto* f = std::get_if<PromotionFinished>(&e);
        f && oracle_.rollback && oracle_.rollback->promotion == f->promotion_id)
      ending = oracle_.rollback;

    // The oracle records the accepted event before judging the effects it caused.
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, StagingDeploymentObserved>) oracle_.staging(x, now_);
          if constexpr (std::is_same_v<T, SmokeResultReported>) oracle_.smoke(x, now_);
          if constexpr (std::is_same_v<T, ApprovalGiven>) oracle_.approval(x);
          if constexpr (std::is_same_v<T, RejectionGiven>) oracle_.rejection(x);
          if constexpr (std::is_same_v<T, EvidenceObserved>) oracle_.evidence(x);
          if constexpr (std::is_same_v<T, HotfixRequested>) {
            if (!oracle_.releases.at(x.sha.str()).hotfix) {
              ++stats_.hotfixes;
              oracle_.hotfix(x);
            }
          }
          if constexpr (std::is_same_v<T, LineStopRequested>) {
            oracle_.line_stop = std::pair(now_, x.until);
            ++stats_.line_stops;
          }
          if constexpr (std::is_same_v<T, LineStopLifted>) oracle_.line_stop.reset();
          if constexpr (std::is_same_v<T, RollbackRequested>) {
            ++stats_.rollbacks_requested;
            if (oracle_.running) ++stats_.rollbacks_waited;
            oracle_.rollback = OracleRollback{*oracle_.rollback_verdict(x).target, false};
          }
          if constexpr (std::is_same_v<T, ResumeRequested>) {
            ++stats_.resumes;
            oracle_.pinned = false;
          }
          if constexpr (std::is_same_v<T, PromotionFinished>) {
            // The store's production history: each promotion and rollback that made a release production.
            if (x.outcome == PromotionOutcome::succeeded)
              history_.insert(history_.begin(), ProductionEntry{ending ? ending->target : x.sha, x.promotion_id, now_,
                                                                promotion_ && promotion_->id == x.promotion_id
                                                                    ? promotion_->migrations
                                                                    : std::vector<std::string>{}});
            if (ending) {
              ++stats_.pins;
              ++(x.outcome == PromotionOutcome::succeeded ? stats_.rollbacks_succeeded : stats_.rollbacks_failed);
            } else {
              ++(x.outcome == PromotionOutcome::succeeded ? stats_.promoted
                 : x.outcome == PromotionOutcome::aborted ? stats_.aborted
                                                          : stats_.promotion_failed);
              if (x.verify_failed) ++stats_.verify_failures;
            }
            const bool owed = oracle_.rollback.has_value();
            oracle_.finished(x);
            if (!owed && oracle_.rollback) ++stats_.automatic_rollbacks;
            promotion_.reset();
          }
        },
        e);

    std::map<std::string, Release> before;  // every release the decision changes, as it was
    for (const auto& c : d->changed)
      if (const Release* r = world_.find(c.sha)) before.emplace(c.sha.str(), *r);
    take(*d, /*from_event=*/true, e);
    if (!failure_.empty()) return;

    // A rollback asked for while a promotion runs asks it to stop; one that ended leaves production where it
    // went (the target, if it succeeded) and the environment pinned.
    if (std::holds_alternative<RollbackRequested>(e) && oracle_.running) {
      const bool asked = std::ranges::any_of(d->effects, [&](const Effect& eff) {
        auto* a = std::get_if<AbortPromotion>(&eff);
        return a && a->promotion_id == oracle_.running->second;
      });
      if (!asked)
        return fail("rollback", fmt::format("{} left the promotion of {} running without asking it to stop",
                                            describe(e), oracle_.running->first.abbrev()));
    }
    if (ending) {
      const auto* f = std::get_if<PromotionFinished>(&e);
      if (f->outcome == PromotionOutcome::succeeded && world_.production != ending->target)
        return fail("rollback",
                    fmt::format("the rollback to {} succeeded but production is {}", ending->target.abbrev(),
                                world_.production ? world_.production->abbrev() : "none"));
      if (!world_.pin || world_.rollback)
        return fail("pin", fmt::format("the rollback to {} {} but left {}", ending->target.abbrev(),
                                       to_string(f->outcome), world_.pin ? "a rollback owed" : "no pin"));
    }

    // (d) every event that changes something leaves an audit note about the release it changed
    auto noted = [&](const std::string& sha) {
      for (const auto& n : d->audit)
        if (n.sha && n.sha->str() == sha) return true;
      return false;
    };
    // A rollback that moved production re-gates the releases whose evidence reads the range from production:
    // one may move between gathering states (ready to soaking) with only the rollback's note, which names its
    // target. Core notes no re-gating (a promotion that moves production does the same).
    auto regated = [&](const Release& was, const Release& is) {
      Release moved = was;
      moved.state = is.state;
      return ending && is_gathering(was.state) && is_gathering(is.state) && same_facts(moved, is);
    };
    for (const auto& c : d->changed) {
      const std::string sha = c.sha.str();
      auto b = before.find(sha);
      const Release& now_held = world_.releases.at(sha);
      if ((b == before.end() || !same_facts(b->second, now_held)) && !noted(sha) &&
          !(b != before.end() && regated(b->second, now_held)))
        return fail("audit", fmt::format("{} changed {} without an audit note", describe(e), c.sha.abbrev()));
    }
    if (std::tuple(world_.production, world_.promoting, world_.next_seq) !=
            std::tuple(std::get<0>(scalars), std::get<1>(scalars), std::get<2>(scalars)) &&
        d->audit.empty())
      return fail("audit", describe(e) + " changed production/promoting/next_seq without an audit note");
  }

  // Checks and applies a decision (from an event or from resume), then performs its effects.
  void take(const Decision& d, bool from_event, const std::optional<Event>& cause) {
    auto what = [&] { return cause ? describe(*cause) : std::string("resume()"); };
    // (f) a rollback opens and starts only as the oracle owes it, and never beside a running promotion
    const RollbackStarted* rollback_start = nullptr;
    for (const auto& fact : d.facts) {
      if (auto* o = std::get_if<RollbackOpened>(&fact)) {
        const OracleRollback* owed = oracle_.rollback ? &*oracle_.rollback : nullptr;
        if (!owed || owed->promotion)
          return fail("rollback", fmt::format("{} opened a {} the oracle does not owe", what(), describe(o->rollback)));
        if (o->rollback.target != owed->target ||
            (o->rollback.trigger == RollbackTrigger::verify_failure) != owed->automatic)
          return fail("rollback", fmt::format("{} opened a {}; the oracle owes a rollback to {} ({})", what(),
                                              describe(o->rollback), owed->target.abbrev(),
                                              owed->automatic ? "verify failure" : "operator"));
      }
      if (auto* started = std::get_if<RollbackStarted>(&fact)) {
        if (!oracle_.rollback || oracle_.rollback->promotion || oracle_.rollback->target != started->target)
          return fail("rollback", fmt::format("{} started a rollback to {} the oracle does not owe", what(),
                                              started->target.abbrev()));
        if (oracle_.running || promotion_ || d.promoting)
          return fail("one promotion", fmt::format("{} started the rollback to {} while a promotion runs", what(),
                                                   started->target.abbrev()));
        rollback_start = started;
      }
    }
    // (a) StartPromotion only for a release whose gates hold by the oracle's own record (and the rollback's)
    int starts = 0;
    for (const auto& eff : d.effects) {
      if (auto* a = std::get_if<AbortPromotion>(&eff)) {
        if (!oracle_.rollback || oracle_.rollback->promotion || !oracle_.running ||
            oracle_.running->second != a->promotion_id)
          return fail("abort", fmt::format("{} asked promotion {} to stop, but no rollback waits for it", what(),
                                           a->promotion_id));
      }
      if (auto* s = std::get_if<StartPromotion>(&eff)) {
        ++starts;
        if (rollback_start && s->sha == rollback_start->target) continue;  // the emergency path: no gates
        if (auto why = oracle_.why_not_promotable(s->sha, now_); !why.empty())
          return fail("gates", fmt::format("{} started a promotion of {} but {}", what(), s->sha.abbrev(), why));
        bool audited = false;
        for (const auto& n : d.audit) audited = audited || (n.action == "promotion.requested" && n.sha == s->sha);
        if (!audited) return fail("audit", "StartPromotion without a promotion.requested note");
      }
      if (auto* t = std::get_if<ArmSoakTimer>(&eff)) {
        auto it = oracle_.releases.find(t->sha.str());
        if (it == oracle_.releases.end() || !it->second.healthy_since)
          return fail("timer", fmt::format("{} armed a soak timer for {} which is not live", what(), t->sha.abbrev()));
        if (t->deadline != *it->second.healthy_since + world_.policy.soak)
          return fail("timer", fmt::format("{} armed {} for {}, the soak ends at {}", what(), t->sha.abbrev(),
                                           format_timestamp(t->deadline),
                                           format_timestamp(*it->second.healthy_since + world_.policy.soak)));
        if (t->deadline < now_ && from_event) return fail("timer", "a soak timer armed in the past");
      }
    }
    if (starts > 1) return fail("one promotion", fmt::format("{} started {} promotions at once", what(), starts));
    if (starts && cause &&
        (std::holds_alternative<FreezeBoundaryReached>(*cause) || std::holds_alternative<LineStopLifted>(*cause)))
      ++stats_.started_at_freeze_end;

    std::map<std::string, ReleaseState> before_apply;
    for (const auto& c : d.changed)
      if (const Release* r = world_.find(c.sha)) before_apply.emplace(c.sha.str(), r->state);
    apply(world_, d);

    // (e) the facts alone record every change: what the store writes equals what the World now holds
    replay(recorded_, recorded_production_, recorded_line_stop_, recorded_pin_, recorded_rollback_, d);
    for (const auto& c : d.changed) {
      const Release& held = world_.releases.at(c.sha.str());
      auto it = recorded_.find(c.sha.str());
      if (it == recorded_.end())
        return fail("facts", fmt::format("{} changed {} but no fact records it", what(), c.sha.abbrev()));
      const Release& rec = it->second;
      if (!same_facts(rec, held) || rec.state_reason != held.state_reason || rec.ancestors != held.ancestors ||
          rec.hotfix.has_value() != held.hotfix.has_value() ||
          rec.awaiting_approval_since != held.awaiting_approval_since)
        return fail("facts", fmt::format("after {} the facts record {} as {} ({}), the World holds {} ({})", what(),
                                         c.sha.abbrev(), to_string(rec.state), rec.state_reason, to_string(held.state),
                                         held.state_reason));
    }
    if (recorded_production_ != world_.production)
      return fail("facts", fmt::format("after {} the facts name another production release", what()));
    if (recorded_line_stop_ != world_.line_stop)
      return fail("facts", fmt::format("after {} the facts record another line stop", what()));
    if (recorded_pin_ != world_.pin) return fail("facts", fmt::format("after {} the facts record another pin", what()));
    if (!same_rollback(recorded_rollback_, world_.rollback))
      return fail("facts", fmt::format("after {} the facts record another rollback", what()));

    // (b) at most one promotion at any time, and World agrees with the releases
    int promoting = 0;
    for (const auto& [sha, r] : world_.releases)
      if (r.state == ReleaseState::promoting) {
        ++promoting;
        if (!world_.promoting || world_.promoting->str() != sha)
          return fail("one promotion", fmt::format("{} is promoting but World::promoting disagrees", sha));
      }
    if (promoting > 1) return fail("one promotion", fmt::format("{} releases promoting after {}", promoting, what()));
    if (world_.promoting && promoting == 0) return fail("one promotion", "World::promoting names no promoting release");
    std::set<std::string> active;
    for (const auto& [sha, r] : world_.releases)
      if (!is_terminal(r.state)) active.insert(sha);
    if (active != world_.active) return fail("World::active", "out of step after " + what());

    for (const auto& c : d.changed) {
      if (c.soak_resets > 0 && c.soak_resets != soak_resets_[c.sha.str()]) ++stats_.soak_resets;
      soak_resets_[c.sha.str()] = c.soak_resets;
      auto old = before_apply.find(c.sha.str());
      const bool moved = old == before_apply.end() || old->second != c.state;
      if (moved && c.state == ReleaseState::superseded) ++stats_.superseded;
      if (moved && c.state == ReleaseState::rejected) ++stats_.rejected;
    }

    for (const auto& eff : d.effects) {
      if (auto* f = std::get_if<ArmFreezeTimer>(&eff)) {
        if (f->at <= now_) return fail("timer", fmt::format("{} armed the freeze timer in the past", what()));
        freeze_timer_ = f->at;  // one timer: a later arming replaces it
      }
      if (auto* t = std::get_if<ArmSoakTimer>(&eff)) timers_.emplace(t->deadline, t->sha);
      if (auto* a = std::get_if<AbortPromotion>(&eff)) abort_for_rollback(*a);
      if (auto* s = std::get_if<StartPromotion>(&eff)) {
        if (rollback_start && s->sha == rollback_start->target)
          start_rollback(*rollback_start);
        else
          start_promotion(s->sha);
      }
    }
    if (!failure_.empty()) return;

    // (g) core and the oracle agree on production, on the rollback owed and on the pin; a rollback owed while no
    // promotion runs has started
    if (world_.production != oracle_.production)
      return fail("production", fmt::format("after {} core says production is {}, the oracle {}", what(),
                                            world_.production ? world_.production->abbrev() : "none",
                                            oracle_.production ? oracle_.production->abbrev() : "none"));
    if (world_.rollback.has_value() != oracle_.rollback.has_value() ||
        (world_.rollback && world_.rollback->promotion_id != oracle_.rollback->promotion))
      return fail(
          "rollback",
          fmt::format("after {} core owes {}, the oracle {}", what(),
                      world_.rollback ? describe(*world_.rollback) : "no rollback",
                      oracle_.rollback ? fmt::format("a rollback to {}", oracle_.rollback->target.abbrev()) : "none"));
    if (oracle_.rollback && !oracle_.rollback->promotion && !oracle_.running)
      return fail("rollback", fmt::format("after {} a rollback to {} is owed, no promotion runs, and it did not start",
                                          what(), oracle_.rollback->target.abbrev()));
    if (world_.pin.has_value() != oracle_.pinned)
      return fail("pin", fmt::format("after {} core {} pinned, the oracle says {}", what(),
                                     world_.pin ? "is" : "is not", oracle_.pinned ? "pinned" : "not pinned"));
    // A ready release says what holds it back while a rollback is owed or production is pinned (unless a freeze
    // says it for it): the newest, which would start otherwise.
    if ((oracle_.rollback || oracle_.pinned) && !oracle_.frozen(now_)) {
      const Release* newest = nullptr;
      for (const auto& sha : world_.active) {
        const Release& r = world_.releases.at(sha);
        if (r.state == ReleaseState::ready && (!newest || r.seq > newest->seq)) newest = &r;
      }
      if (newest && newest->state_reason.find("rollback") == std::string::npos &&
          newest->state_reason.find("pinned") == std::string::npos)
        return fail("held reason", fmt::format("after {} ready {} says '{}' while {}", what(), newest->sha.abbrev(),
                                               newest->state_reason,
                                               oracle_.rollback ? "a rollback is owed" : "production is pinned"));
    }
  }

  // The rollback's own promotion: the store numbers it like any other (the daemon's number_opened_rollback puts
  // the number on World::rollback), and the executor walks the plan RollbackStarted carries.
  void start_rollback(const RollbackStarted& started) {
    if (promotion_) return fail("one promotion", "a rollback started while an executor still runs");
    if (!world_.rollback || !recorded_rollback_) return fail("rollback", "RollbackStarted without a rollback owed");
    ++stats_.rollbacks_started;
    const PromotionId id{++next_promotion_id_};
    world_.rollback->promotion_id = id;
    recorded_rollback_->promotion_id = id;  // as the store does for a RollbackStarted fact
    oracle_.rollback->promotion = id;
    // Its plan: preflight, each service in the rollback order (the policy's, or restart order reversed), verify
    // when the policy verifies, record. No migration: it would run forwards.
    std::vector<std::string> order = world_.policy.rollback_order;
    if (order.empty()) order.assign(world_.policy.services.rbegin(), world_.policy.services.rend());
    std::vector<std::string> expected = {"preflight"};
    for (const auto& s : order) expected.push_back("deploy:" + s);
    if (world_.policy.verify_after_deploy) expected.push_back("verify");
    expected.push_back("record");
    std::vector<std::string> got;
    for (const auto& s : started.plan.steps) got.push_back(s.name());
    if (got != expected)
      return fail("plan", fmt::format("rollback plan {} for policy {}", fmt::join(got, ","), fmt::join(expected, ",")));
    SimPromotion p{started.target, id, started.plan, {}, {}};
    p.journal.assign(p.plan.steps.size(), StepState::planned);
    p.rollback = true;
    p.started_at = now_;
    promotion_ = std::move(p);
  }

  // Whether the store takes an abort for this promotion: only while a step that changes production is not done.
  static bool abort_open(const SimPromotion& p) {
    for (std::size_t i = 0; i < p.plan.steps.size(); ++i)
      if (abort_stops_before(p.plan.steps[i].kind) && p.journal[i] != StepState::succeeded) return true;
    return false;
  }

  // A rollback waits for the running promotion: the abort goes on its row as an operator's would. Too late for
  // one (every production-changing step done), the promotion runs to its end, and the rollback after it.
  void abort_for_rollback(const AbortPromotion& a) {
    if (!promotion_ || promotion_->id != a.promotion_id)
      return fail("abort",
                  fmt::format("AbortPromotion for promotion {}, which the executor is not running", a.promotion_id));
    if (promotion_->abort || !abort_open(*promotion_)) return;  // asked before (a restart asks again), or too late
    ++stats_.aborts_for_rollback;
    promotion_->abort = AbortRequest{a.by, now_, a.reason};
  }

  void start_promotion(const Sha& sha) {
    if (oracle_.running) return fail("one promotion", "StartPromotion while the oracle knows one is running");
    if (promotion_) return fail("one promotion", "StartPromotion while an executor still runs");
    ++stats_.promotions_started;
    const PromotionId id{++next_promotion_id_};
    oracle_.running = {sha, id};
    testing::record_promotion_id(world_, sha, id.value());  // the daemon's commit records the promotion row
    recorded_.at(sha.str()).promotion_id = id;              // as the store does for a PromotionOpened fact
    SimPromotion p{sha, id, make_plan(world_.policy), {}, {}};
    p.journal.assign(p.plan.steps.size(), StepState::planned);
    p.started_at = now_;
    // Some promotions bring a migration: a rollback to a release before it needs the operator's accept_schema.
    if (world_.policy.run_migrations && chance(0.35)) p.migrations = {fmt::format("{:04}_sim.sql", ++migrations_)};
    // The plan itself: preflight first, migrate (if any) before every deploy, each service once in order.
    std::vector<std::string> expected = {"preflight"};
    if (world_.policy.run_migrations) expected.push_back("migrate");
    for (const auto& s : world_.policy.services) expected.push_back("deploy:" + s);
    if (world_.policy.verify_after_deploy) expected.push_back("verify");
    expected.push_back("record");
    std::vector<std::string> got;
    for (const auto& s : p.plan.steps) got.push_back(s.name());
    if (got != expected)
      return fail("plan", fmt::format("plan {} for policy {}", fmt::join(got, ","), fmt::join(expected, ",")));
    promotion_ = std::move(p);
  }

  void journal(SimPromotion& p, int i, StepState to) {
    auto ok = check_step_transition(p.journal[static_cast<std::size_t>(i)], to);
    if (!ok) return fail("journal", ok.error().message);
    p.journal[static_cast<std::size_t>(i)] = to;
  }

  // Every step below the first one not succeeded happened exactly once; none from it on happened at all.
  void check_performed(const SimPromotion& p, std::string_view when) {
    std::size_t first_open = 0;
    while (first_open < p.journal.size() && p.journal[first_open] == StepState::succeeded) ++first_open;
    for (std::size_t i = 0; i < p.plan.steps.size(); ++i) {
      const std::string k = idempotency_key(p.id, p.plan.steps[i]);
      const auto it = p.performed.find(k);
      const int times = it == p.performed.end() ? 0 : it->second;
      if (times != (i < first_open ? 1 : 0))
        return fail("plan walk", fmt::format("step {} performed {} times when the promotion {}", k, times, when));
    }
  }

  // Ends the promotion as the core rules decided; the next release may start.
  void finish(const SimPromotion& p, const FinishPromotion& end) {
    check_performed(p, to_string(end.outcome));
    if (!failure_.empty()) return;
    const PromotionId id = p.id;
    // As the daemon's executor says it: failed at verify, so every service was deployed.
    bool verify_failed = false;
    for (std::size_t i = 0; i < p.journal.size(); ++i)
      if (p.journal[i] == StepState::failed) verify_failed = p.plan.steps[i].kind == StepKind::verify;
    // may start the next promotion, or the rollback
    deliver(PromotionFinished{p.sha, id, end.outcome, end.detail,
                              end.outcome == PromotionOutcome::failed && verify_failed});
    if (failure_.empty() && promotion_ && promotion_->id == id)
      fail("plan walk", fmt::format("PromotionFinished ({}) of the running promotion refused", to_string(end.outcome)));
  }

  // One micro-operation of the executor; a crash may come between any two. What to do next and how a step
  // settles are the real core rules (decide_step, after_reconcile, after_step_result); this drives them.
  void executor_step() {
    if (!promotion_) return;
    SimPromotion& p = *promotion_;
    if (chance(0.15)) {  // the executor crashes: its memory is gone, the journal and the world stay
      ++stats_.executor_crashes;
      p.phase = SimPromotion::Phase::idle;
      return;
    }
    // An operator asks to abort; the store accepts it only while a step that changes production is not done.
    if (!p.abort && chance(0.01) && abort_open(p)) p.abort = AbortRequest{"sim", now_, "aborted"};
    auto key = [&](int i) { return idempotency_key(p.id, p.plan.steps[static_cast<std::size_t>(i)]); };
    auto start = [&](int i) {
      journal(p, i, StepState::started);
      p.current = i;
      p.phase = SimPromotion::Phase::effect_due;
    };
    switch (p.phase) {
      case SimPromotion::Phase::idle: {
        std::vector<JournalEntry> entries;
        for (StepState state : p.journal) entries.push_back(JournalEntry{state, "", false});
        const StepAction action = decide_step(p.plan, entries, p.abort);
        if (const auto* end = std::get_if<FinishPromotion>(&action)) return finish(p, *end);
        if (const auto* run = std::get_if<PerformStep>(&action)) return start(run->index);
        // Reconcile: ask the world whether the effect happened.
        const int i = std::get<ReconcileStep>(action).index;
        const bool happened = p.performed[key(i)] > 0;
        const Result<std::optional<std::string>> found =
            happened ? Result<std::optional<std::string>>(std::optional<std::string>("found done"))
                     : Result<std::optional<std::string>>(std::optional<std::string>());
        const StepSettlement settled = after_reconcile(p.plan.steps[static_cast<std::size_t>(i)], p.abort, found);
        if (std::holds_alternative<PerformStep>(settled)) {
          ++stats_.reconciled_redo;
          return start(i);
        }
        const auto* j = std::get_if<JournalStep>(&settled);
        if (!j) return fail("reconcile", fmt::format("a clear answer about {} left it unsettled", key(i)));
        if (j->why == StepVerdict::found_done) ++stats_.reconciled_done;
        if (happened != (j->to == StepState::succeeded))
          return fail("reconcile", fmt::format("{} journalled {} although its effect {}", key(i), to_string(j->to),
                                               happened ? "happened" : "did not happen"));
        journal(p, j->index, j->to);
        return;
      }
      case SimPromotion::Phase::effect_due: {
        const int i = p.current;
        const PlanStep& step = p.plan.steps[static_cast<std::size_t>(i)];
        // (e) never twice, never skipping, never a deploy before the migration succeeded
        if (p.performed[key(i)] > 0) return fail("plan walk", key(i) + " performed twice");
        for (int j = 0; j < i; ++j)
          if (p.journal[static_cast<std::size_t>(j)] != StepState::succeeded || p.performed[key(j)] != 1)
            return fail("plan walk", fmt::format("{} performed before {} succeeded", key(i), key(j)));
        if (step.kind == StepKind::deploy)
          for (std::size_t j = 0; j < p.plan.steps.size(); ++j)
            if (p.plan.steps[j].kind == StepKind::migrate && p.journal[j] != StepState::succeeded)
              return fail("plan walk", key(i) + " deploys before the migration succeeded");
        const double failure = step.kind == StepKind::migrate  ? 0.08
                               : step.kind == StepKind::deploy ? 0.03
                               : step.kind == StepKind::verify ? 0.2  // the automatic rollback's trigger
                                                               : 0.02;
        p.outcome_ok = !chance(failure);
        if (p.outcome_ok) ++p.performed[key(i)];
        p.phase = SimPromotion::Phase::outcome_due;
        return;
      }
      case SimPromotion::Phase::outcome_due: {
        const PlanStep& step = p.plan.steps[static_cast<std::size_t>(p.current)];
        if (!p.outcome_ok) ++stats_.steps_failed;
        // The record step's failure is the store's (it is atomic with the promotion's end): unavailable.
        const ErrorCode code = step.kind == StepKind::record ? ErrorCode::unavailable : ErrorCode::internal;
        const Result<std::string> result =
            p.outcome_ok ? Result<std::string>("done") : Result<std::string>(core::fail(code, "step failed"));
        const StepSettlement settled = after_step_result(step, result);
        p.phase = SimPromotion::Phase::idle;
        if (std::holds_alternative<SuspendRun>(settled)) return;  // the step stays started; a later run reconciles
        if (std::holds_alternative<PromotionRecorded>(settled)) {
          // The store marks the record step succeeded in the promotion's end, in one transaction.
          journal(p, p.current, StepState::succeeded);
          if (!failure_.empty()) return;
          return finish(p, FinishPromotion{PromotionOutcome::succeeded, "", ""});
        }
        const auto* j = std::get_if<JournalStep>(&settled);
        if (!j) return fail("plan walk", key(p.current) + " settled by running it again");
        if ((j->to == StepState::succeeded) != p.outcome_ok)
          return fail("plan walk", fmt::format("{} journalled {} after it {}", key(p.current), to_string(j->to),
                                               p.outcome_ok ? "succeeded" : "failed"));
        journal(p, j->index, j->to);
        return;
      }
    }
  }

  // The daemon restarts: a fresh World from what was persisted, armed timers lost, then resume().
  void restart() {
    ++stats_.restarts;
    if (oracle_.rollback) ++stats_.restarts_mid_rollback;
    timers_.clear();  // armed timers live in the dead process
    freeze_timer_.reset();
    if (chance(0.5)) now_ += Duration{std::uniform_int_distribution<int>(0, 40 * 60'000)(rng_)};  // down a while
    if (trace_) fmt::print("{} #{} daemon restart\n", format_timestamp(now_), step_);
    world_ = reload(world_);
    if (promotion_) promotion_->phase = SimPromotion::Phase::idle;
    const Decision d = resume(world_, now_);
    for (const auto& eff : d.effects)
      if (std::holds_alternative<StartPromotion>(eff)) ++stats_.started_by_resume;
    // A rollback that waits for a running promotion asks again: the abort may not have been made before the crash.
    if (oracle_.rollback && !oracle_.rollback->promotion && oracle_.running &&
        !std::ranges::any_of(d.effects, [](const Effect& eff) { return std::holds_alternative<AbortPromotion>(eff); }))
      return fail("rollback", fmt::format("resume() did not ask the promotion of {} to stop for the rollback to {}",
                                          oracle_.running->first.abbrev(), oracle_.rollback->target.abbrev()));
    take(d, /*from_event=*/false, std::nullopt);
  }

  // End of the scenario: no new facts; time passes, promotions run to the end. Nothing may be left behind
  // that the policy would promote (a lost timer, a promotion never started).
  void drain() {
    if (oracle_.line_stopped(now_)) deliver(LineStopLifted{"sim", "end of the scenario"});
    for (int round = 0; round < 200 && failure_.empty(); ++round) {
      advance(world_.policy.soak + 1min);
      int guard = 0;
      while (promotion_ && failure_.empty() && guard++ < 10'000) executor_step();
      // The operator resumes after a rollback, so that the check below sees every release the policy would promote.
      if (oracle_.pinned && !oracle_.rollback) deliver(ResumeRequested{"sim", "end of the scenario"});
      if (!promotion_ && timers_.empty() && !freeze_timer_) break;
    }
    if (!failure_.empty()) return;
    if (promotion_) return fail("liveness", "a promotion never finished");
    if (oracle_.rollback) return fail("liveness", "a rollback never finished");
    for (const auto& sha : world_.active) {
      const Release& r = world_.releases.at(sha);
      if (oracle_.why_not_promotable(r.sha, now_).empty())
        return fail("liveness", fmt::format("{} is {} ({}) although every gate holds", r.sha.abbrev(),
                                            to_string(r.state), r.state_reason));
    }
  }

  const std::uint64_t seed_;
  std::mt19937_64 rng_;
  Stats& stats_;
  World world_;
  std::map<std::string, Release> recorded_;  // the releases as the decisions' facts alone record them
  std::optional<Sha> recorded_production_;
  std::optional<LineStop> recorded_line_stop_;
  std::optional<Pin> recorded_pin_;
  std::optional<Rollback> recorded_rollback_;
  std::vector<ProductionEntry> history_;   // the store's production history, newest first (without a running one)
  int migrations_ = 0;                     // the last migration's number
  std::optional<Timestamp> freeze_timer_;  // the daemon's one freeze timer
  Oracle oracle_;
  Timestamp now_;
  int step_ = 0;
  bool storm_ = false;
  std::string failure_;
  const bool trace_ = std::getenv("PROMOTER_SIM_TRACE") != nullptr;  // prints every event delivered
  int commits_ = 0;
  std::map<int, std::string> authors_;
  std::map<int, std::vector<Sha>> ancestry_;
  std::map<std::pair<int, std::string>, std::vector<Timestamp>> deployments_;  // created_at of each deployment
  std::vector<StagingDeploymentObserved> outbox_, delivered_staging_;
  std::multimap<Timestamp, Sha> timers_;
  std::optional<SimPromotion> promotion_;
  std::int64_t next_promotion_id_ = 0;
  std::map<std::string, int> soak_resets_;
  const std::vector<std::string> operators_ = {"alice", "bob", "carol", "dave"};
  std::vector<std::pair<Timestamp, Timestamp>> oracle_windows_;
};

TEST_CASE("simulation: random event orders, crashes and restarts never break the safety rules") {
  Stats stats;
  const auto only = seed_from_env();
  const int scenarios = only ? 1 : scenarios_from_env(2000);
  int failures = 0;
  for (int i = 0; i < scenarios; ++i) {
    const std::uint64_t seed = only ? *only : base_seed + static_cast<std::uint64_t>(i);
    std::mt19937_64 len(seed ^ 0x9e3779b97f4a7c15ULL);
    const int events = 50 + static_cast<int>(len() % 71);  // 50..120 steps
    Simulation sim(seed, stats);
    const std::string failure = sim.run(events);
    if (!failure.empty()) {
      ++failures;
      FAIL_CHECK(failure << "\n  replay with PROMOTER_SIM_SEED=" << seed);
      if (failures >= 5) break;
    }
  }
  CHECK(failures == 0);
  MESSAGE(fmt::format(
      "{} scenarios, {} events ({} accepted, {} refused); {} promotions started ({} by resume), {} promoted, "
      "{} failed; {} soak resets, {} superseded, {} rejected, {} self-approvals refused; {} restarts, {} executor "
      "crashes, {} reconciles found done, {} redone, {} steps failed; {} duplicate deliveries, {} timers fired; "
      "{} hotfixes, {} refused; {} aborted; {} scenarios with freeze windows, {} line stops, {} freeze boundaries, "
      "{} promotions started as a freeze ended",
      scenarios, stats.events, stats.accepted, stats.refused, stats.promotions_started, stats.started_by_resume,
      stats.promoted, stats.promotion_failed, stats.soak_resets, stats.superseded, stats.rejected,
      stats.self_approvals_refused, stats.restarts, stats.executor_crashes, stats.reconciled_done,
      stats.reconciled_redo, stats.steps_failed, stats.duplicates, stats.timers_fired, stats.hotfixes,
      stats.hotfixes_refused, stats.aborted, stats.frozen_scenarios, stats.line_stops, stats.freeze_boundaries,
      stats.started_at_freeze_end));
  MESSAGE(fmt::format(
      "{} scenarios with production seeded; {} rollbacks requested, {} refused ({} for the schema), {} waited for "
      "a running promotion ({} aborts taken); {} promotions failed at verify, {} automatic rollbacks; {} rollbacks "
      "started, {} succeeded, {} failed or aborted; {} restarts while a rollback was owed; {} pins, {} resumes, {} "
      "refused",
      stats.seeded_production, stats.rollbacks_requested, stats.rollbacks_refused, stats.rollbacks_refused_for_schema,
      stats.rollbacks_waited, stats.aborts_for_rollback, stats.verify_failures, stats.automatic_rollbacks,
      stats.rollbacks_started, stats.rollbacks_succeeded, stats.rollbacks_failed, stats.restarts_mid_rollback,
      stats.pins, stats.resumes, stats.resumes_refused));
  if (!only) {
    // The simulation must reach the paths it claims to check, or it checks nothing.
    CHECK(stats.promotions_started > scenarios / 5);
    CHECK(stats.started_by_resume > 0);
    CHECK(stats.promoted > 0);
    CHECK(stats.promotion_failed > 0);
    CHECK(stats.aborted > 0);
    CHECK(stats.soak_resets > 0);
    CHECK(stats.superseded > 0);
    CHECK(stats.rejected > 0);
    CHECK(stats.self_approvals_refused > 0);
    CHECK(stats.restarts > 0);
    CHECK(stats.reconciled_done > 0);
    CHECK(stats.reconciled_redo > 0);
    CHECK(stats.steps_failed > 0);
    CHECK(stats.duplicates > 0);
    CHECK(stats.timers_fired > 0);
    CHECK(stats.hotfixes > 0);
    CHECK(stats.hotfixes_refused > 0);
    CHECK(stats.line_stops > 0);
    CHECK(stats.freeze_boundaries > 0);
    CHECK(stats.started_at_freeze_end > 0);
    CHECK(stats.rollbacks_requested > 0);
    CHECK(stats.rollbacks_refused_for_schema > 0);
    CHECK(stats.rollbacks_waited > 0);
    CHECK(stats.aborts_for_rollback > 0);
    CHECK(stats.automatic_rollbacks > 0);
    CHECK(stats.rollbacks_started > 0);
    CHECK(stats.rollbacks_succeeded > 0);
    CHECK(stats.rollbacks_failed > 0);
    CHECK(stats.restarts_mid_rollback > 0);
    CHECK(stats.pins > 0);
    CHECK(stats.resumes > 0);
    CHECK(stats.resumes_refused > 0);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Property: duplicate deliveries of a staging event (a webhook retried before anything newer about that
// deployment's service arrived) do not change where a release ends up.

struct Timed {
  Timestamp at;
  Event event;
};

// Runs a timeline through core, firing soak timers at their deadlines; a started promotion just runs.
World run_timeline(const Policy& policy, const std::vector<Timed>& timeline) {
  World w;
  w.policy = policy;
  std::multimap<Timestamp, Sha> timers;
  std::int64_t ids = 0;
  auto step = [&](const Event& e, Timestamp now) {
    auto d = decide(w, e, now);
    if (!d) return;
    apply(w, *d);
    for (const auto& eff : d->effects) {
      if (auto* t = std::get_if<ArmSoakTimer>(&eff)) timers.emplace(t->deadline, t->sha);
      if (auto* s = std::get_if<StartPromotion>(&eff)) testing::record_promotion_id(w, s->sha, ++ids);
    }
  };
  for (const auto& [at, e] : timeline) {
    while (!timers.empty() && timers.begin()->first <= at) {
      auto [deadline, sha] = *timers.begin();
      timers.erase(timers.begin());
      step(SoakDeadlineReached{sha}, deadline);
    }
    step(e, at);
  }
  return w;
}

TEST_CASE("the final state of a release does not depend on duplicate deliveries of the same staging event") {
  Policy policy = testing::standard_policy();
  const char* authors[] = {"alice", "bob", "carol"};
  int with_soak = 0, with_resets = 0, promoting = 0, compared = 0;
  for (std::uint64_t i = 0; i < 400; ++i) {
    const std::uint64_t seed = base_seed * 31 + i;
    std::mt19937_64 rng(seed);
    auto roll = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    static constexpr DeployStatus statuses[] = {
        DeployStatus::success,  DeployStatus::success,  DeployStatus::success,   DeployStatus::success,
        DeployStatus::sleeping, DeployStatus::building, DeployStatus::deploying, DeployStatus::crashed,
        DeployStatus::crashed,  DeployStatus::failed,   DeployStatus::removed,   DeployStatus::queued,
    };
    std::vector<Timed> base;
    std::vector<std::pair<int, std::string>> key;  // (sha, service) of each staging event; empty otherwise
    Timestamp now = testing::t0();
    const int n = 60 + roll(60);
    for (int k = 0; k < n; ++k) {
      now += Duration{std::uniform_int_distribution<int>(0, 180'000)(rng)};
      const int c = 1 + roll(3);
      const Sha sha = sha_of(0x100 + c);
      const int r = roll(100);
      if (r < 70) {
        const std::string& service = policy.services[static_cast<std::size_t>(roll(3))];
        const int dep = roll(2);
        StagingDeploymentObserved e{
            sha,
            service,
            fmt::format("d{}-{}-{}", c, service, dep),
            statuses[roll(static_cast<int>(std::size(statuses)))],
            authors[c - 1],
            roll(10) < 7 ? std::optional<Timestamp>{testing::t0() + std::chrono::minutes{dep}} : std::nullopt,
            "railway"};
        base.push_back({now, e});
        key.emplace_back(c, service);
      } else if (r < 82) {
        base.push_back({now, SmokeResultReported{sha, "e2e", roll(5) > 0, "ci", ""}});
        key.emplace_back(0, "");
      } else {
        base.push_back({now, ApprovalGiven{sha, authors[roll(3)], {}, "ok"}});
        key.emplace_back(0, "");
      }
    }
    // Insert copies of staging events after any later event up to the next one about the same service.
    std::vector<std::vector<Event>> after(base.size());
    for (std::size_t k = 0; k < base.size(); ++k) {
      if (key[k].first == 0 || roll(2) == 0) continue;
      std::size_t next = k + 1;
      while (next < base.size() && key[next] != key[k]) ++next;
      for (int copies = 1 + roll(3); copies > 0; --copies)
        after[k + static_cast<std::size_t>(roll(static_cast<int>(next - k)))].push_back(base[k].event);
    }
    std::vector<Timed> with_duplicates;
    for (std::size_t k = 0; k < base.size(); ++k) {
      with_duplicates.push_back(base[k]);
      for (const auto& dup : after[k]) with_duplicates.push_back({base[k].at, dup});
    }

    const World plain = run_timeline(policy, base);
    const World duplicated = run_timeline(policy, with_duplicates);
    CAPTURE(seed);
    REQUIRE(plain.releases.size() == duplicated.releases.size());
    for (const auto& [sha, r] : plain.releases) {
      ++compared;
      with_soak += r.soak_started_at.has_value();
      with_resets += r.soak_resets > 0;
      promoting += r.state == ReleaseState::promoting;
      REQUIRE(duplicated.releases.contains(sha));
      CHECK(fingerprint(r, true) == fingerprint(duplicated.releases.at(sha), true));
    }
    CHECK(fingerprints(plain, true) == fingerprints(duplicated, true));
  }
  // The timelines reach the interesting states, or the property says little.
  CHECK(compared > 0);
  CHECK(with_soak > 0);
  CHECK(with_resets > 0);
  CHECK(promoting > 0);
  MESSAGE(fmt::format("{} releases compared: {} soaking at the end, {} with soak resets, {} promoting", compared,
                      with_soak, with_resets, promoting));
}

TEST_CASE("the simulation is deterministic for a seed") {
  Stats a, b;
  Simulation first(base_seed + 7, a), second(base_seed + 7, b);
  CHECK(first.run(120) == second.run(120));
  CHECK(a.events == b.events);
  CHECK(a.accepted == b.accepted);
  CHECK(a.promotions_started == b.promotions_started);
  CHECK(a.timers_fired == b.timers_fired);
}

}  // namespace
}  // namespace promoter::core
