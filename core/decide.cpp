#include "core/decide.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>

#include "core/approver_standing.hpp"
#include "core/capped_list.hpp"
#include "core/freeze.hpp"
#include "core/gates.hpp"
#include "core/identity.hpp"
#include "core/obligation.hpp"

namespace promoter::core {

namespace {

// What each release state does with each kind of event. Read across a row to see what a state accepts.
//   apply  - the event changes the release and may move it to another state
//   record - the fact is kept (staging keeps running a promoted release) but the state does not move
//   refuse - an error naming the state
enum class Accept { apply, record, refuse };
enum EventKind {
  staging = 0,
  smoke = 1,
  approval = 2,
  rejection = 3,
  soak_deadline = 4,
  finished = 5,
  hotfix = 6,
  evidence = 7,
  config = 8
};

constexpr std::size_t state_count = 10;
// clang-format off
// evidence: "record" keeps nothing: a release past its gates needs no more evidence, and a reconciler racing
// a promotion is no error.
// config: as evidence, except that a promoting release keeps it: the preflight re-checks the env and flag gates.
constexpr std::array<std::array<Accept, 9>, state_count> acceptance{{
    //                 staging         smoke           approval        rejection       soak_deadline   finished        hotfix          evidence        config
    /* deploying */   {Accept::apply,  Accept::apply,  Accept::apply,  Accept::apply,  Accept::record, Accept::refuse, Accept::apply,  Accept::apply,  Accept::apply},
    /* soaking */     {Accept::apply,  Accept::apply,  Accept::apply,  Accept::apply,  Accept::apply,  Accept::refuse, Accept::apply,  Accept::apply,  Accept::apply},
    /* ready */       {Accept::apply,  Accept::apply,  Accept::apply,  Accept::apply,  Accept::apply,  Accept::refuse, Accept::apply,  Accept::apply,  Accept::apply},
    /* promoting */   {Accept::record, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::apply,  Accept::refuse, Accept::record, Accept::apply},
    /* promoted */    {Accept::record, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::record},
    /* prom_failed */ {Accept::record, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::record},
    /* prom_aborted */{Accept::record, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::record},
    /* rejected */    {Accept::record, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::record},
    /* superseded */  {Accept::record, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::refuse, Accept::refuse, Accept::record, Accept::record},
    /* stg_failed */  {Accept::apply,  Accept::apply,  Accept::apply,  Accept::apply,  Accept::record, Accept::refuse, Accept::refuse, Accept::apply,  Accept::apply},
}};
// clang-format on

Accept accepts(ReleaseState s, EventKind k) { return acceptance[static_cast<std::size_t>(s)][k]; }

class Decider {
 public:
  Decider(const World& world, Timestamp now) : world_(world), now_(now) {
    out_.production = world.production;
    out_.promoting = world.promoting;
    out_.next_seq = world.next_seq;
    out_.line_stop = world.line_stop;
    out_.pin = world.pin;
    out_.rollback = world.rollback;
  }

  Result<Decision> run(const Event& event) {
    Result<void> r = std::visit([this](const auto& e) { return on(e); }, event);
    if (!r) return std::unexpected(r.error());
    try_start_promotion();
    // The freeze calendar changes only at its boundaries and with the line stop: those events arm the next.
    if (std::holds_alternative<FreezeBoundaryReached>(event) || std::holds_alternative<LineStopRequested>(event) ||
        std::holds_alternative<LineStopLifted>(event))
      arm_freeze_timer();
    return finish();
  }

  Decision resume() {
    for (const auto& sha : world_.active) {
      const Release& r = world_.releases.at(sha);
      if (r.soak_started_at && is_gathering(r.state) && now_ < *r.soak_started_at + world_.policy.soak)
        out_.effects.push_back(ArmSoakTimer{r.sha, *r.soak_started_at + world_.policy.soak});
      // Probes that were running when the daemon stopped are lost with it: run them again.
      if (r.soak_started_at && is_gathering(r.state)) out_.effects.push_back(RunSmokeChecks{r.sha});
    }
    for (const auto& sha : world_.active) {
      const Release& r = world_.releases.at(sha);
      if (is_gathering(r.state)) refresh(mut(r.sha));
    }
    // A rollback requested before a restart: the abort it asked for may not have been made, or the promotion it
    // waited for may have ended since.
    if (out_.rollback && !out_.rollback->promotion_id) {
      if (out_.promoting)
        ask_abort(*out_.rollback);
      else
        start_rollback();
    }
    try_start_promotion();
    arm_freeze_timer();
    return finish();
  }

 private:
  // A release's own record goes first among the facts: what hangs off it refers to it.
  Decision finish() {
    std::vector<Fact> rows;
    for (const auto& [sha, r] : touched_) {
      const Release* old = world_.find(r.sha);
      if (old && old->author == r.author && old->ancestors == r.ancestors && old->live_at == r.live_at &&
          old->soak_started_at == r.soak_started_at && old->soak_resets == r.soak_resets &&
          old->awaiting_approval_since == r.awaiting_approval_since && old->state == r.state &&
          old->state_reason == r.state_reason)
        continue;
      rows.push_back(ReleaseStateChanged{r.sha, !old, r.seq, r.author, r.ancestors, r.first_seen_at, r.live_at,
                                         r.soak_started_at, r.soak_resets, r.awaiting_approval_since, r.state,
                                         r.state_reason});
    }
    out_.facts.insert(out_.facts.begin(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    for (auto& [sha, release] : touched_) out_.changed.push_back(std::move(release));
    return std::move(out_);
  }

  void observed(const Release& r, const std::string& service) {
    out_.facts.push_back(DeploymentObserved{r.sha, r.deployments.at(service)});
  }

  const Policy& policy() const { return world_.policy; }

  const Release* find(const Sha& sha) const {
    if (auto it = touched_.find(sha.str()); it != touched_.end()) return &it->second;
    return world_.find(sha);
  }

  Release& mut(const Sha& sha) {
    auto it = touched_.find(sha.str());
    if (it != touched_.end()) return it->second;
    return touched_.emplace(sha.str(), world_.releases.at(sha.str())).first->second;
  }

  void audit(std::string actor, std::string action, std::optional<Sha> sha, std::string detail) {
    out_.audit.push_back(AuditNote{std::move(actor), std::move(action), std::move(sha), std::move(detail)});
  }

  void arm_freeze_timer() {
    if (auto next = next_freeze_change(policy().freezes, out_.line_stop, now_))
      out_.effects.push_back(ArmFreezeTimer{*next});
  }

  std::optional<ActiveFreeze> frozen() const { return active_freeze(policy().freezes, out_.line_stop, now_); }

  Result<void> on(const LineStopRequested& e) {
    if (e.reason.find_first_not_of(" \t\r\n") == std::string::npos)
      return fail(ErrorCode::invalid_argument, "stopping the line needs a reason");
    if (e.until && *e.until <= now_)
      return fail(ErrorCode::invalid_argument, fmt::format("until {} is not in the future (now {})",
                                                           format_timestamp(*e.until), format_timestamp(now_)));
    out_.line_stop = LineStop{e.by, now_, e.reason, e.until};
    out_.facts.push_back(LineStopChanged{out_.line_stop, e.by, e.reason, now_});
    const std::string until = e.until ? format_timestamp(*e.until) : "it is lifted (promotectl unfreeze)";
    // Stopping the line leaves a running promotion alone: abort is the tool for that, and says so.
    const std::string running = out_.promoting
                                    ? fmt::format("; the running promotion of {} is not touched (abort it to stop it)",
                                                  out_.promoting->abbrev())
                                    : "";
    audit(e.by, "environment.frozen", std::nullopt,
          fmt::format("stop the line: {}; until {}{}", e.reason, until, running));
    out_.effects.push_back(Notify{
        "environment.frozen", std::nullopt,
        fmt::format("{} stopped the line: {} (no promotion starts until {}){}", e.by, e.reason, until, running)});
    hold_ready_releases();
    return {};
  }

  Result<void> on(const LineStopLifted& e) {
    if (e.reason.find_first_not_of(" \t\r\n") == std::string::npos)
      return fail(ErrorCode::invalid_argument, "lifting a line stop needs a reason");
    const auto& stop = out_.line_stop;
    if (!stop || !stop->in_force(now_))
      return fail(ErrorCode::failed_precondition, "the line is not stopped (freeze windows end by themselves)");
    out_.facts.push_back(LineStopChanged{std::nullopt, e.by, e.reason, now_});
    audit(e.by, "environment.unfrozen", std::nullopt,
          fmt::format("line stop by {} ({}) lifted: {}", stop->by, stop->reason, e.reason));
    out_.effects.push_back(
        Notify{"environment.unfrozen", std::nullopt, fmt::format("{} lifted the line stop: {}", e.by, e.reason)});
    out_.line_stop.reset();
    return {};
  }

  Result<void> on(const FreezeBoundaryReached&) { return {}; }

  Result<void> on(const RollbackRequested& e) {
    if (e.reason.find_first_not_of(" \t\r\n") == std::string::npos)
      return fail(ErrorCode::invalid_argument, "a rollback needs a reason");
    if (out_.rollback)
      return fail(ErrorCode::conflict, fmt::format("a {} is already {}", describe(*out_.rollback),
                                                   out_.rollback->promotion_id ? "running" : "waiting to start"));
    auto target = choose_rollback_target(e.history, e.to);
    if (!target) return std::unexpected(target.error());
    if (auto schema = check_rollback_schema(*target, e.accept_schema); !schema) return std::unexpected(schema.error());
    // A running promotion first stops (an abort, as an operator's), then the rollback runs: the one before it
    // in the history is what production ran before that promotion began.
    std::optional<PromotionId> aborting;
    if (out_.promoting)
      if (const Release* r = find(*out_.promoting)) aborting = r->promotion_id;
    Rollback rollback{target->sha,   e.by,     e.reason,     RollbackTrigger::operator_request,
                      now_,          aborting, std::nullopt, target->migrations_since,
                      e.schema_state};
    open_rollback(std::move(rollback), e.accept_schema);
    return {};
  }

  Result<void> on(const ResumeRequested& e) {
    if (e.reason.find_first_not_of(" \t\r\n") == std::string::npos)
      return fail(ErrorCode::invalid_argument, "resuming needs a reason");
    if (!out_.pin)
      return fail(ErrorCode::failed_precondition,
                  out_.rollback
                      ? fmt::format("production is not pinned yet: the {} has not ended", describe(*out_.rollback))
                      : std::string("production is not pinned"));
    if (out_.rollback)
      return fail(ErrorCode::failed_precondition,
                  fmt::format("a {} has not ended; resume after it", describe(*out_.rollback)));
    out_.facts.push_back(PinChanged{std::nullopt, e.by, e.reason, now_});
    audit(e.by, "environment.resumed", std::nullopt,
          fmt::format("pin by {} ({}) lifted: {}", out_.pin->by, out_.pin->reason, e.reason));
    out_.effects.push_back(Notify{"environment.resumed", std::nullopt,
                                  fmt::format("{} resumed promotions after the rollback: {}", e.by, e.reason)});
    out_.pin.reset();
    return {};
  }

  // Records a rollback and starts it, or (while a promotion runs) asks that promotion to stop first.
  void open_rollback(Rollback rollback, bool accept_schema) {
    out_.rollback = std::move(rollback);
    const Rollback& rb = *out_.rollback;
    out_.facts.push_back(RollbackOpened{rb});
    std::string schema;
    if (!rb.migrations_since.empty())
      schema = fmt::format("; {} migration{} stay applied ({}){}", rb.migrations_since.size(),
                           rb.migrations_since.size() == 1 ? "" : "s", capped_list(rb.migrations_since),
                           accept_schema ? " — accepted with --accept-schema" : "");
    audit(rb.by, "rollback.requested", rb.target, fmt::format("{}{}", describe(rb), schema));
    if (out_.promoting) {
      hold_for_rollback();
      ask_abort(rb);
      return;
    }
    start_rollback();
  }

  void ask_abort(const Rollback& rb) {
    const Release* r = find(*out_.promoting);
    if (!r || !r->promotion_id) return;
    out_.effects.push_back(AbortPromotion{*r->promotion_id, rb.by, fmt::format("{} runs next", describe(rb))});
  }

  // No promotion runs: the open rollback starts its own plan now. No soak, no approval, no freeze: this is the
  // emergency path.
  void start_rollback() {
    Rollback& rb = *out_.rollback;
    out_.facts.push_back(RollbackStarted{rb.target, make_rollback_plan(policy())});
    out_.effects.push_back(StartPromotion{rb.target});
    out_.effects.push_back(Notify{"rollback.started", rb.target, fmt::format("{} started", describe(rb))});
    hold_for_rollback();
  }

  // The rollback's own plan ended: production is the target (or, if it failed, in between). Either way the
  // environment is pinned, so that no release undoes it by itself.
  void end_rollback(const PromotionFinished& e) {
    const Rollback rb = *out_.rollback;
    const bool ok = e.outcome == PromotionOutcome::succeeded;
    out_.facts.push_back(PromotionEnded{e.sha, e.promotion_id, e.outcome, ok ? "" : e.detail});
    out_.facts.push_back(RollbackEnded{e.outcome});
    if (ok) {
      out_.production = rb.target;
      out_.facts.push_back(ProductionSet{rb.target, e.promotion_id});
    }
    const std::string action = fmt::format("rollback.{}", to_string(e.outcome));
    const std::string text =
        ok ? fmt::format("{} succeeded: production runs {} again", describe(rb), rb.target.abbrev())
           : fmt::format("{} {}: {}", describe(rb), to_string(e.outcome), e.detail);
    audit("promoterd", action, rb.target, fmt::format("promotion {}: {}", e.promotion_id, text));
    out_.effects.push_back(Notify{action, rb.target, text});
    Pin pin{rb.by, now_,
            ok ? fmt::format("rolled back to {}: {}", rb.target.abbrev(), rb.reason)
               : fmt::format("rollback to {} {}; production may run a mix: {}", rb.target.abbrev(),
                             to_string(e.outcome), rb.reason)};
    out_.facts.push_back(PinChanged{pin, rb.by, pin.reason, now_});
    out_.pin = std::move(pin);
    out_.rollback.reset();
    if (ok && (policy().evidence.any() || policy().flags.require_flag))
      for (const auto& sha : world_.active)
        if (is_gathering(world_.releases.at(sha).state)) refresh(mut(world_.releases.at(sha).sha));
    hold_for_rollback();
  }

  // Ready releases say what they wait for while a rollback is owed or production is pinned.
  void hold_for_rollback() {
    for (const auto& sha : world_.active) {
      const Release* r = find(world_.releases.at(sha).sha);
      if (r->state == ReleaseState::ready) mut(r->sha).state_reason = held_by_rollback_or_pin();
    }
  }

  std::string held_by_rollback_or_pin() const {
    if (out_.rollback) return fmt::format("every gate holds; waiting for the {} to finish", describe(*out_.rollback));
    return fmt::format("every gate holds; {}", pin_reason(*out_.pin));
  }

  // What a ready release held back by a freeze says.
  static std::string held_reason(const ActiveFreeze& freeze) {
    return fmt::format("every gate holds; waiting for the end of the {}", freeze_reason(freeze));
  }

  // A freeze that begins while releases wait as ready: their reasons say so (try_start_promotion says it for
  // the one it would start).
  void hold_ready_releases() {
    const auto freeze = frozen();
    if (!freeze) return;
    for (const auto& sha : world_.active) {
      const Release* r = find(world_.releases.at(sha).sha);
      if (r->state == ReleaseState::ready && !(r->hotfix && r->hotfix->overrides_freeze))
        mut(r->sha).state_reason = held_reason(*freeze);
    }
  }

  Result<const Release*> existing(const Sha& sha, EventKind kind, std::string_view what) {
    const Release* r = find(sha);
    if (!r)
      return fail(
          ErrorCode::not_found,
          fmt::format("no release {} is known; it appears once a staging deployment of it is reported", sha.str()));
    if (accepts(r->state, kind) == Accept::refuse)
      return fail(ErrorCode::failed_precondition,
                  fmt::format("release {} is {}; it accepts no {}", sha.abbrev(), to_string(r->state), what));
    return r;
  }

  Result<void> on(const StagingDeploymentObserved& e) {
    if (e.service.empty() ||
        std::find(policy().services.begin(), policy().services.end(), e.service) == policy().services.end())
      return fail(ErrorCode::invalid_argument, fmt::format("service '{}' is not configured (configured: {})", e.service,
                                                           capped_list(policy().services)));
    if (e.deployment_id.empty()) return fail(ErrorCode::invalid_argument, "deployment_id must not be empty");
    // The adapters refuse such names on arrival; core refuses them too, whatever the source.
    if (!e.author.empty())
      if (auto spelled = check_identity_spelling(e.author); !spelled)
        return fail(ErrorCode::invalid_argument, fmt::format("commit author: {}", spelled.error().message));
    if (!find(e.sha)) {
      Release fresh(e.sha);
      fresh.seq = out_.next_seq++;
      fresh.author = e.author;
      fresh.first_seen_at = now_;
      fresh.state_reason = "waiting for every service to go live on staging";
      touched_.emplace(e.sha.str(), std::move(fresh));
      audit(e.actor, "release.discovered", e.sha,
            fmt::format("first seen through {} ({})", e.service, e.deployment_id));
    }
    const Release& current = *find(e.sha);
    if (auto it = current.deployments.find(e.service); it != current.deployments.end()) {
      const StagingDeployment& old = it->second;
      if (old.deployment_id == e.deployment_id && (old.status == e.status || is_regression(old.status, e.status))) {
        // A duplicate or late status is not news, but it may still be the first report that says when the
        // deployment was created: keep that, it is what recognises a late report of an older deployment.
        const DeployStatus old_status = old.status;
        if (!old.created_at && e.created_at) {
          Release& m = mut(e.sha);
          m.deployments[e.service].created_at = e.created_at;
          observed(m, e.service);
          audit(e.actor, "staging.deployment_created_at", e.sha,
                fmt::format("{} {} was created at {}", e.service, e.deployment_id, format_timestamp(*e.created_at)));
        }
        if (old_status != e.status)
          audit(e.actor, "staging.stale_status_ignored", e.sha,
                fmt::format("{} {}: {} after {}", e.service, e.deployment_id, to_string(e.status),
                            to_string(old_status)));
        return {};
      }
      if (old.deployment_id != e.deployment_id && e.created_at && old.created_at && *old.created_at > *e.created_at) {
        audit(e.actor, "staging.stale_deployment_ignored", e.sha,
              fmt::format("{} {} is older than {}", e.service, e.deployment_id, old.deployment_id));
        return {};
      }
    }
    Release& r = mut(e.sha);
    if (normalise_identity(r.author).empty()) r.author = e.author;  // blank is as good as unknown
    if (r.ancestors.empty() && !e.ancestors.empty())
      for (const auto& a : e.ancestors) r.ancestors.push_back(a.str());
    // A report that omits created_at does not forget the one known for the same deployment: it is what
    // recognises a late report of an older deployment.
    std::optional<Timestamp> created_at = e.created_at;
    if (auto it = r.deployments.find(e.service);
        !created_at && it != r.deployments.end() && it->second.deployment_id == e.deployment_id)
      created_at = it->second.created_at;
    r.deployments[e.service] = StagingDeployment{e.service, e.deployment_id, e.status, now_, created_at};
    observed(r, e.service);
    audit(e.actor, "staging.deployment", e.sha,
          fmt::format("{} {} {}", e.service, e.deployment_id, to_string(e.status)));
    if (accepts(r.state, staging) == Accept::apply) refresh(r);
    if (health_of(e.status) == Health::healthy) supersede_older(r, e.service);
    return {};
  }

  // A newer release live on a service replaces every older release still gathering gates there.
  void supersede_older(const Release& newer_release, const std::string& service) {
    std::vector<Sha> older;
    for (const auto& sha : world_.active) {
      const Release* other = find(world_.releases.at(sha).sha);
      if (other->sha == newer_release.sha || !is_gathering(other->state)) continue;
      if (other->seq < newer_release.seq && other->deployments.contains(service)) older.push_back(other->sha);
    }
    for (const auto& [sha, other] : touched_)
      if (!world_.active.contains(sha) && other.seq < newer_release.seq && is_gathering(other.state) &&
          other.deployments.contains(service) && other.sha != newer_release.sha)
        older.push_back(other.sha);
    for (const auto& sha : older) {
      Release& o = mut(sha);
      o.state = ReleaseState::superseded;
      o.state_reason = fmt::format("superseded on staging by {} ({} went live)", newer_release.sha.abbrev(), service);
      o.soak_started_at.reset();
      audit("promoterd", "release.superseded", o.sha, o.state_reason);
    }
  }

  Result<void> on(const SmokeResultReported& e) {
    auto r = existing(e.sha, smoke, "smoke results");
    if (!r) return std::unexpected(r.error());
    if (e.suite.empty()) return fail(ErrorCode::invalid_argument, "suite must not be empty");
    Release& rel = mut(e.sha);
    rel.smoke[e.suite] = SmokeResult{e.suite, e.passed, e.reported_by, now_, e.details};
    out_.facts.push_back(SmokeRecorded{rel.sha, rel.smoke[e.suite]});
    audit(e.reported_by, e.passed ? "smoke.passed" : "smoke.failed", e.sha,
          e.details.empty() ? e.suite : fmt::format("{}: {}", e.suite, e.details));
    if (accepts(rel.state, smoke) == Accept::apply) refresh(rel);
    return {};
  }

  Result<void> on(const ApprovalGiven& e) {
    auto r = existing(e.sha, approval, "approvals");
    if (!r) return std::unexpected(r.error());
    const Release& rel = **r;
    // Fail closed: an approval taken before the author is known could later turn out to be the author's own.
    // A name of white space only is no better known.
    if (normalise_identity(rel.author).empty())
      return fail(ErrorCode::failed_precondition,
                  fmt::format("the commit author of {} is not known yet, so separation of duties cannot be "
                              "checked; approve once staging reports the commit author",
                              rel.sha.abbrev()));
    // "Bob", " bob" and "BOB" are one person: compared normalised, and confusable spellings count as the same.
    if (is_commit_author(rel, e.by, e.by_git_authors))
      return fail(ErrorCode::forbidden,
                  fmt::format("{} is the author of {} ({}) and may not approve it: separation of duties needs "
                              "another operator",
                              e.by, rel.sha.abbrev(), rel.author));
    if (rel.rejection)
      return fail(ErrorCode::failed_precondition, fmt::format("release {} was rejected by {}; it cannot be approved",
                                                              rel.sha.abbrev(), rel.rejection->by));
    for (const auto& a : rel.approvals)
      if (a.by == e.by) return {};  // approving twice is a no-op, not a second approval
    Release& m = mut(e.sha);
    const std::string facts = gate_facts(evaluate_gates(m, policy(), now_, out_.production));
    m.approvals.push_back(Verdict{e.by, now_, e.reason, facts});
    out_.facts.push_back(ApprovalAdded{m.sha, m.approvals.back()});
    audit(e.by, "release.approved", e.sha,
          fmt::format("{}; at that moment: {}", e.reason.empty() ? "no reason given" : e.reason, facts));
    refresh(m);
    return {};
  }

  Result<void> on(const RejectionGiven& e) {
    auto r = existing(e.sha, rejection, "rejections");
    if (!r) return std::unexpected(r.error());
    if (e.reason.empty()) return fail(ErrorCode::invalid_argument, "a rejection needs a reason");
    Release& m = mut(e.sha);
    const std::string facts = gate_facts(evaluate_gates(m, policy(), now_, out_.production));
    m.rejection = Verdict{e.by, now_, e.reason, facts};
    out_.facts.push_back(RejectionAdded{m.sha, *m.rejection});
    m.state = ReleaseState::rejected;
    m.state_reason = fmt::format("rejected by {}: {}", e.by, e.reason);
    audit(e.by, "release.rejected", e.sha, fmt::format("{}; at that moment: {}", e.reason, facts));
    return {};
  }

  Result<void> on(const HotfixRequested& e) {
    // A retried request (the CLI timed out, say): the hotfix and its obligations exist already.
    if (const Release* known = find(e.sha); known && known->hotfix) return {};
    auto r = existing(e.sha, hotfix, "hotfix");
    if (!r) return std::unexpected(r.error());
    const Release& rel = **r;
    if (e.reason.find_first_not_of(" \t\r\n") == std::string::npos)
      return fail(ErrorCode::invalid_argument, "a hotfix needs a reason");
    if (e.incident_url.empty()) return fail(ErrorCode::invalid_argument, "a hotfix needs the incident's URL");
    if (out_.promoting)
      return fail(ErrorCode::failed_precondition,
                  fmt::format("the promotion of {} is running; a hotfix cannot run beside it: wait for it to finish",
                              out_.promoting->abbrev()));
    std::vector<std::string> not_live;
    for (const auto& service : policy().services) {
      auto it = rel.deployments.find(service);
      if (it == rel.deployments.end())
        not_live.push_back(fmt::format("{} not deployed", service));
      else if (health_of(it->second.status) != Health::healthy)
        not_live.push_back(fmt::format("{} is {}", service, to_string(it->second.status)));
    }
    if (!not_live.empty())
      return fail(ErrorCode::failed_precondition,
                  fmt::format("a hotfix of {} needs every service live on staging first ({}); only the soak is waived",
                              rel.sha.abbrev(), capped_list(not_live)));
    std::string ancestry = "no production release yet";
    if (out_.production) {
      const Sha& production = *out_.production;
      if (production == rel.sha)
        return fail(ErrorCode::failed_precondition, fmt::format("{} is already production", rel.sha.abbrev()));
      // GitHub's compare, when the evidence for the range from production has it, decides over what staging
      // metadata reported: the repository is the authority on ancestry.
      const Evidence* evidence =
          rel.evidence && rel.evidence->base == production.str() && !rel.evidence->relation.empty() ? &*rel.evidence
                                                                                                    : nullptr;
      if (evidence && evidence->relation != "ahead" && evidence->relation != "identical")
        return fail(ErrorCode::failed_precondition,
                    fmt::format("{} does not descend from production {}: GitHub compares it as {}; a hotfix must "
                                "branch from the last production tag",
                                rel.sha.abbrev(), production.abbrev(), evidence->relation));
      if (evidence) {
        ancestry =
            fmt::format("descends from production {} (GitHub compare: {})", production.abbrev(), evidence->relation);
      } else if (rel.ancestors.empty()) {
        return fail(ErrorCode::failed_precondition,
                    fmt::format("cannot establish that {} descends from production {}: its staging metadata carried "
                                "no ancestry (report 'ancestors' with its staging deployment, e.g. from git rev-list)",
                                rel.sha.abbrev(), production.abbrev()));
      } else if (std::find(rel.ancestors.begin(), rel.ancestors.end(), production.str()) == rel.ancestors.end()) {
        return fail(ErrorCode::failed_precondition,
                    fmt::format("{} does not descend from production {} (not among its {} reported ancestors); a "
                                "hotfix must build on what runs in production",
                                rel.sha.abbrev(), production.abbrev(), rel.ancestors.size()));
      } else {
        ancestry = fmt::format("descends from production {}", production.abbrev());
      }
    }
    if (policy().hotfix.require_smoke) {
      const GateStatus smoke_status = smoke_gate(rel, policy());
      if (!smoke_status.ok)
        return fail(ErrorCode::failed_precondition,
                    fmt::format("a hotfix of {} still needs its smoke tests (policy hotfix.require_smoke): {}",
                                rel.sha.abbrev(), smoke_status.reason));
    }
    const auto freeze = frozen();
    if (freeze && !e.override_freeze)
      return fail(ErrorCode::failed_precondition,
                  fmt::format("production is frozen ({}); a hotfix may start inside a freeze with --override-freeze, "
                              "which is audited and notified",
                              freeze_reason(*freeze)));
    const std::string facts = gate_facts(evaluate_gates(rel, policy(), now_, out_.production));
    Release& m = mut(e.sha);
    m.hotfix = Hotfix{e.by, now_, e.reason, e.incident_url, e.override_freeze};
    out_.facts.push_back(HotfixDeclared{m.sha, *m.hotfix});
    auto obligations = hotfix_obligations(m.sha, e.by, now_, policy().hotfix);
    const bool by_author = m.author == e.by;
    audit(e.by, "hotfix.requested", e.sha,
          fmt::format("{}; incident {}; {}{}; soak waived; at that moment: {}; review backfill due {}, incident "
                      "report due {}",
                      e.reason, e.incident_url, ancestry, by_author ? "; requested by the commit author" : "", facts,
                      format_timestamp(obligations[0].due_at), format_timestamp(obligations[1].due_at)));
    for (auto& o : obligations) out_.facts.push_back(ObligationOpened{std::move(o)});
    refresh(m);
    return {};
  }

  Result<void> on(const EvidenceObserved& e) {
    const Release* r = find(e.sha);
    if (!r) return {};  // evidence for a release not seen on staging yet, or forgotten: nothing to gate
    if (accepts(r->state, evidence) != Accept::apply) return {};
    if (e.evidence.head != e.sha.str())
      return fail(ErrorCode::invalid_argument,
                  fmt::format("evidence for {} was gathered for another commit ({})", e.sha.abbrev(), e.evidence.head));
    if (r->evidence && same_observation(*r->evidence, e.evidence)) return {};  // the reconciler saw nothing new
    const GateReport before = evaluate_gates(*r, policy(), now_, out_.production);
    Release& m = mut(e.sha);
    m.evidence = e.evidence;
    out_.facts.push_back(EvidenceRecorded{m.sha, e.evidence});
    const GateReport after = evaluate_gates(m, policy(), now_, out_.production);
    audit_gate_changes(
        e.sha, "github", "release.evidence",
        {{&before.review, &after.review}, {&before.ci, &after.ci}, {&before.ddl_rollback, &after.ddl_rollback}});
    refresh(m);
    return {};
  }

  Result<void> on(const ConfigObserved& e) {
    const Release* r = find(e.sha);
    if (!r) return {};  // a release not seen on staging yet, or forgotten: nothing to gate
    if (accepts(r->state, config) != Accept::apply) return {};
    if (r->config && same_observation(*r->config, e.view)) return {};  // the watcher saw nothing new
    const GateReport before = evaluate_gates(*r, policy(), now_, out_.production);
    Release& m = mut(e.sha);
    m.config = e.view;
    out_.facts.push_back(ConfigRecorded{m.sha, e.view});
    const GateReport after = evaluate_gates(m, policy(), now_, out_.production);
    audit_gate_changes(e.sha, "promoterd", "release.config", {{&before.env, &after.env}, {&before.flag, &after.flag}});
    refresh(m);  // a promoting release stays as it is: its preflight re-checks the gates
    return {};
  }

  // One audit note naming the gates (of those the policy enables) whose verdict or reason an observation changed.
  void audit_gate_changes(const Sha& sha, std::string actor, std::string action,
                          std::initializer_list<std::pair<const GateStatus*, const GateStatus*>> gates) {
    std::vector<std::string> changed;
    for (auto [old_gate, new_gate] : gates)
      if (new_gate->applies && (old_gate->ok != new_gate->ok || old_gate->reason != new_gate->reason))
        changed.push_back(new_gate->reason);
    if (!changed.empty()) audit(std::move(actor), std::move(action), sha, fmt::format("{}", fmt::join(changed, "; ")));
  }

  // The same observation made again: nothing new but the moment it was made (evidence, a configuration view).
  template <class Observation>
  static bool same_observation(const Observation& a, const Observation& b) {
    Observation x = a;
    x.observed_at = b.observed_at;
    return x == b;
  }

  Result<void> on(const SoakDeadlineReached& e) {
    const Release* r = find(e.sha);
    if (!r || accepts(r->state, soak_deadline) != Accept::apply) return {};  // timers may outlive the state
    Release& m = mut(e.sha);
    refresh(m);
    if (m.soak_started_at && now_ >= *m.soak_started_at + policy().soak)
      audit("promoterd", "release.soak_completed", e.sha, format_duration(policy().soak));
    else if (m.soak_started_at)  // the timer fired early (clocks differ): wait again for the same deadline
      out_.effects.push_back(ArmSoakTimer{m.sha, *m.soak_started_at + policy().soak});
    return {};
  }

  Result<void> on(const PromotionFinished& e) {
    if (out_.rollback && out_.rollback->promotion_id == e.promotion_id) {
      if (e.sha != out_.rollback->target)
        return fail(ErrorCode::conflict, fmt::format("promotion {} is the rollback to {}, not a promotion of {}",
                                                     e.promotion_id, out_.rollback->target.abbrev(), e.sha.abbrev()));
      end_rollback(e);
      return {};
    }
    auto r = existing(e.sha, finished, "promotion results");
    if (!r) return std::unexpected(r.error());
    if ((*r)->promotion_id != e.promotion_id)
      return fail(ErrorCode::conflict,
                  fmt::format("promotion {} is not the running promotion of {}", e.promotion_id, e.sha.abbrev()));
    Release& m = mut(e.sha);
    switch (e.outcome) {
      case PromotionOutcome::succeeded:
        m.state = ReleaseState::promoted;
        m.state_reason = fmt::format("promoted to production by promotion {}", e.promotion_id);
        out_.production = e.sha;
        break;
      case PromotionOutcome::aborted:
        m.state = ReleaseState::promotion_aborted;
        m.state_reason = fmt::format("promotion {} aborted {}", e.promotion_id, e.detail);
        break;
      case PromotionOutcome::failed:
        m.state = ReleaseState::promotion_failed;
        m.state_reason = fmt::format("promotion {} failed: {}", e.promotion_id, e.detail);
        break;
    }
    const bool succeeded = e.outcome == PromotionOutcome::succeeded;
    const std::string action = fmt::format("promotion.{}", to_string(e.outcome));
    out_.effects.push_back(Notify{action, e.sha, m.state_reason});
    out_.facts.push_back(PromotionEnded{e.sha, e.promotion_id, e.outcome, succeeded ? "" : m.state_reason});
    if (succeeded) {
      out_.facts.push_back(ProductionSet{e.sha, e.promotion_id});
      // The evidence gates (and the flag gate, which reads the same evidence) of every other release now need
      // the range from the new production.
      if (policy().evidence.any() || policy().flags.require_flag)
        for (const auto& sha : world_.active)
          if (sha != e.sha.str() && is_gathering(world_.releases.at(sha).state))
            refresh(mut(world_.releases.at(sha).sha));
    }
    const char* separator = e.outcome == PromotionOutcome::aborted ? " " : ": ";
    audit("promoterd", action, e.sha,
          fmt::format("promotion {}{}", e.promotion_id, e.detail.empty() ? "" : separator + e.detail));
    out_.promoting.reset();
    if (out_.rollback) {
      // The rollback this promotion was stopped for runs now, whatever its outcome.
      start_rollback();
    } else if (e.outcome == PromotionOutcome::failed && e.verify_failed && policy().rollback_on_verify_failure &&
               out_.production) {
      // Production runs the release and it failed verification: back to what ran before, then pin.
      const Rollback rb{*out_.production,
                        "promoterd",
                        fmt::format("verify of {} failed: {}", e.sha.abbrev(), e.detail),
                        RollbackTrigger::verify_failure,
                        now_,
                        e.promotion_id,
                        std::nullopt,
                        {},
                        ""};
      // Nobody is asked to accept the schema here: the failed promotion's migrate step (in its journal) says
      // what ran, and the code it rolls back to ran against the schema before that.
      open_rollback(rb, true);
    }
    return {};
  }

  // Derives a gathering release's state from its facts; starts or resets the soak.
  void refresh(Release& r) {
    if (!is_gathering(r.state)) return;
    bool all_healthy = true, any_broken = false, any_failed = false;
    std::string broken_service;
    for (const auto& service : policy().services) {
      auto it = r.deployments.find(service);
      const Health h = it == r.deployments.end() ? Health::pending : health_of(it->second.status);
      all_healthy = all_healthy && h == Health::healthy;
      if (h == Health::broken) {
        any_broken = true;
        if (broken_service.empty()) broken_service = fmt::format("{} {}", service, to_string(it->second.status));
        if (it->second.status == DeployStatus::failed) any_failed = true;
      }
    }
    if (!all_healthy) {
      r.awaiting_approval_since.reset();
      if (r.soak_started_at) {
        r.soak_started_at.reset();
        ++r.soak_resets;
        audit("promoterd", "release.soak_reset", r.sha, fmt::format("soak reset: {}", broken_service));
      }
      if (any_failed) {
        r.state = ReleaseState::staging_failed;
        r.state_reason = fmt::format("staging deployment failed ({}); a new deployment of this commit can recover it",
                                     broken_service);
      } else {
        r.state = ReleaseState::deploying;
        r.state_reason = any_broken ? fmt::format("soak interrupted: {}", broken_service)
                                    : "waiting for every service to go live on staging";
      }
      return;
    }
    if (!r.live_at) r.live_at = now_;
    if (!r.soak_started_at) {
      r.soak_started_at = now_;
      audit("promoterd", "release.soak_started", r.sha,
            fmt::format("every service is live; soak ends at {}", format_timestamp(now_ + policy().soak)));
      if (policy().soak > Duration::zero()) out_.effects.push_back(ArmSoakTimer{r.sha, now_ + policy().soak});
      out_.effects.push_back(RunSmokeChecks{r.sha});
    }
    const GateReport gates = evaluate_gates(r, policy(), now_, out_.production);
    // The notice is keyed on the gates, not on any text: it goes out when soak and smoke come to hold while
    // approval is missing, once for each such wait.
    const bool awaiting_approval = gates.soak.ok && gates.smoke.ok && !gates.approval.ok;
    if (awaiting_approval && !r.awaiting_approval_since) {
      r.awaiting_approval_since = now_;
      out_.effects.push_back(
          Notify{"release.ready_for_approval", r.sha,
                 fmt::format("{} passed its soak and smoke tests; {}", r.sha.abbrev(), gates.approval.reason)});
    } else if (!awaiting_approval) {
      r.awaiting_approval_since.reset();
    }
    if (gates.all_ok()) {
      r.state = ReleaseState::ready;
      r.state_reason = "every gate holds";
    } else {
      r.state = ReleaseState::soaking;
      r.state_reason = pending_gates_reason(gates);
    }
  }

  // The newest ready release starts promoting when no other promotion runs.
  void try_start_promotion() {
    const Release* best = nullptr;
    const Release* held = nullptr;  // the newest ready release a freeze holds back
    const auto freeze = frozen();
    auto consider = [&](const Release* r) {
      if (r->state != ReleaseState::ready) return;
      if (!evaluate_gates(*r, policy(), now_, out_.production).all_ok())
        return;  // belt and braces: never start on stale state
      if (freeze && !(r->hotfix && r->hotfix->overrides_freeze)) {
        if (!held || r->seq > held->seq) held = r;
        return;
      }
      if (!best || r->seq > best->seq) best = r;
    };
    for (const auto& sha : world_.active) consider(find(world_.releases.at(sha).sha));
    for (const auto& [sha, r] : touched_)
      if (!world_.active.contains(sha)) consider(&r);
    if (held && (!best || held->seq > best->seq)) {
      std::string reason = held_reason(*freeze);
      if (held->state_reason != reason) mut(held->sha).state_reason = std::move(reason);
    }
    if (!best) return;
    if (out_.rollback || out_.pin) {
      std::string reason = held_by_rollback_or_pin();
      if (best->state_reason != reason) mut(best->sha).state_reason = std::move(reason);
      return;
    }
    if (out_.promoting) {
      if (*out_.promoting != best->sha) {
        std::string reason =
            fmt::format("every gate holds; waiting for the promotion of {} to finish", out_.promoting->abbrev());
        if (best->state_reason != reason) mut(best->sha).state_reason = std::move(reason);
      }
      return;
    }
    Release& r = mut(best->sha);
    const GateReport gates = evaluate_gates(r, policy(), now_, out_.production);
    r.state = ReleaseState::promoting;
    r.state_reason = r.hotfix ? "hotfix promotion to production running" : "promotion to production running";
    out_.promoting = r.sha;
    out_.facts.push_back(PromotionOpened{r.sha});
    out_.effects.push_back(StartPromotion{r.sha});
    if (freeze) {
      audit(r.hotfix->by, "promotion.freeze_overridden", r.sha,
            fmt::format("{}; hotfix: {}", freeze_reason(*freeze), r.hotfix->reason));
      out_.effects.push_back(Notify{"promotion.freeze_overridden", r.sha,
                                    fmt::format("hotfix {} starts inside the {} (override by {})", r.sha.abbrev(),
                                                freeze_reason(*freeze), r.hotfix->by)});
    }
    out_.effects.push_back(
        Notify{"promotion.started", r.sha,
               r.hotfix ? fmt::format("promoting hotfix {} to production (soak waived by {}; incident {})",
                                      r.sha.abbrev(), r.hotfix->by, r.hotfix->incident_url)
                        : fmt::format("promoting {} to production", r.sha.abbrev())});
    audit("promoterd", "promotion.requested", r.sha, fmt::format("every gate holds: {}", gate_facts(gates)));
  }

  const World& world_;
  Timestamp now_;
  Decision out_;
  std::map<std::string, Release> touched_;
};

}  // namespace

Result<Decision> decide(const World& world, const Event& event, Timestamp now) {
  return Decider(world, now).run(event);
}

Decision resume(const World& world, Timestamp now) { return Decider(world, now).resume(); }

void apply(World& world, const Decision& d) {
  for (const auto& r : d.changed) world.put(r);
  world.production = d.production;
  world.promoting = d.promoting;
  world.next_seq = d.next_seq;
  world.line_stop = d.line_stop;
  world.pin = d.pin;
  world.rollback = d.rollback;
}

}  // namespace promoter::core
