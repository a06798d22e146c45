// The release state machine: every transition of decide()'s acceptance table and the effects it emits.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core_fixtures.hpp"

namespace promoter::core {
namespace {

using namespace std::chrono_literals;
using namespace testing;

const Sha A = sha_of(0xa);
const Sha B = sha_of(0xb);
const Sha C = sha_of(0xc);

bool same_release(const Release& a, const Release& b) {
  auto deps = [](const Release& r) {
    std::vector<std::tuple<std::string, std::string, DeployStatus>> v;
    for (const auto& [s, dep] : r.deployments) v.emplace_back(s, dep.deployment_id, dep.status);
    return v;
  };
  return a.sha == b.sha && a.seq == b.seq && a.author == b.author && deps(a) == deps(b) && a.live_at == b.live_at &&
         a.soak_started_at == b.soak_started_at && a.soak_resets == b.soak_resets && a.smoke.size() == b.smoke.size() &&
         a.approvals.size() == b.approvals.size() && a.rejection.has_value() == b.rejection.has_value() &&
         a.state == b.state && a.state_reason == b.state_reason && a.promotion_id == b.promotion_id;
}

// ---------------------------------------------------------------------------------------------------------
// Discovery and staging

TEST_CASE("the first staging deployment of a SHA discovers a release") {
  Driver d;
  const Decision& dec = d.ok(deployment(A, "api", DeployStatus::building));
  REQUIRE(dec.changed.size() == 1);
  const Release& r = d.release(A);
  CHECK(r.seq == 1);
  CHECK(d.world.next_seq == 2);
  CHECK(r.author == "alice");
  CHECK(r.first_seen_at == d.clock.now);
  CHECK(r.state == ReleaseState::deploying);
  CHECK(r.deployments.at("api").status == DeployStatus::building);
  CHECK(r.deployments.at("api").updated_at == d.clock.now);
  CHECK(has_audit(dec, "release.discovered"));
  CHECK(has_audit(dec, "staging.deployment"));
  CHECK(dec.effects.empty());
  CHECK(d.world.active.contains(A.str()));

  d.clock.advance(1min);
  d.ok(deployment(B, "api", DeployStatus::building));
  CHECK(d.release(B).seq == 2);
  CHECK(d.world.next_seq == 3);
  CHECK_FALSE(has_audit(d.ok(deployment(A, "worker", DeployStatus::building)), "release.discovered"));
}

TEST_CASE("a staging deployment of an unconfigured service or without an id is refused") {
  Driver d;
  Error e = d.refused(deployment(A, "db", DeployStatus::success));
  CHECK(e.code == ErrorCode::invalid_argument);
  CHECK(e.message == "service 'db' is not configured (configured: worker, api, www)");
  CHECK(d.refused(deployment(A, "", DeployStatus::success)).code == ErrorCode::invalid_argument);

  auto no_id = deployment(A, "api", DeployStatus::success);
  no_id.deployment_id.clear();
  e = d.refused(no_id);
  CHECK(e.code == ErrorCode::invalid_argument);
  CHECK(e.message == "deployment_id must not be empty");
  CHECK(d.world.releases.empty());
}

TEST_CASE("soak starts when every configured service is live and ArmSoakTimer carries the exact deadline") {
  Driver d;
  CHECK(d.ok(deployment(A, "worker", DeployStatus::success)).effects.empty());
  d.clock.advance(40s);
  CHECK(d.ok(deployment(A, "api", DeployStatus::success)).effects.empty());
  CHECK_FALSE(d.release(A).soak_started_at.has_value());
  CHECK(d.release(A).state == ReleaseState::deploying);

  d.clock.advance(80s);
  const Decision& dec = d.ok(deployment(A, "www", DeployStatus::sleeping));  // SLEEPING is live
  const Release& r = d.release(A);
  CHECK(r.state == ReleaseState::soaking);
  CHECK(r.soak_started_at == d.clock.now);
  CHECK(r.live_at == d.clock.now);
  auto timers = effects_of<ArmSoakTimer>(dec);
  REQUIRE(timers.size() == 1);
  CHECK(timers[0].sha == A);
  CHECK(timers[0].deadline == d.clock.now + 30min);
  CHECK(effects_of<StartPromotion>(dec).empty());
  REQUIRE(has_audit(dec, "release.soak_started"));
  for (const auto& a : dec.audit)
    if (a.action == "release.soak_started")
      CHECK(a.detail == "every service is live; soak ends at " + format_timestamp(d.clock.now + 30min));
  CHECK(r.state_reason.find("soak: 0") != std::string::npos);
}

TEST_CASE("going live on staging asks for smoke checks once per soak start, and again after a reset") {
  Driver d;
  CHECK(effects_of<RunSmokeChecks>(d.ok(deployment(A, "worker", DeployStatus::success))).empty());
  CHECK(effects_of<RunSmokeChecks>(d.ok(deployment(A, "api", DeployStatus::success))).empty());
  auto first = effects_of<RunSmokeChecks>(d.ok(deployment(A, "www", DeployStatus::success)));
  REQUIRE(first.size() == 1);
  CHECK(first[0].sha == A);
  // Another report of a live service while soaking is not a new start.
  CHECK(effects_of<RunSmokeChecks>(d.ok(deployment(A, "www", DeployStatus::sleeping))).empty());
  d.clock.advance(1min);
  auto crash = deployment(A, "api", DeployStatus::crashed);
  CHECK(effects_of<RunSmokeChecks>(d.ok(crash)).empty());
  d.clock.advance(1min);
  auto recovered = deployment(A, "api", DeployStatus::success);
  recovered.deployment_id = "dep-api-recovered";
  CHECK(effects_of<RunSmokeChecks>(d.ok(recovered)).size() == 1);
}

TEST_CASE("a service not in the policy does not hold up the soak and cannot be reported") {
  Policy p = standard_policy();
  p.services = {"api"};
  Driver d(p);
  auto dec = d.ok(deployment(A, "api", DeployStatus::success));
  CHECK(effects_of<ArmSoakTimer>(dec).size() == 1);
  CHECK(d.refused(deployment(A, "worker", DeployStatus::crashed)).code == ErrorCode::invalid_argument);
}

TEST_CASE("soak resets when a staging deployment of the release crashes, and restarts from the recovery time") {
  Driver d;
  d.all_live(A);
  const Timestamp first_live = d.clock.now;
  d.clock.advance(10min);
  const Decision& crash = d.ok(deployment(A, "api", DeployStatus::crashed));
  {
    const Release& r = d.release(A);
    CHECK_FALSE(r.soak_started_at.has_value());
    CHECK(r.soak_resets == 1);
    CHECK(r.state == ReleaseState::deploying);
    CHECK(r.state_reason == "soak interrupted: api CRASHED");
    CHECK(r.live_at == first_live);  // first live moment is kept for the smoke rule
    CHECK(has_audit(crash, "release.soak_reset"));
    CHECK(crash.effects.empty());
  }

  d.clock.advance(5min);
  const Decision& recover = d.ok(deployment(A, "api", DeployStatus::success));
  const Timestamp recovered = d.clock.now;
  {
    const Release& r = d.release(A);
    CHECK(r.state == ReleaseState::soaking);
    CHECK(r.soak_started_at == recovered);
    CHECK(r.soak_resets == 1);
    auto timers = effects_of<ArmSoakTimer>(recover);
    REQUIRE(timers.size() == 1);
    CHECK(timers[0].deadline == recovered + 30min);
  }

  // The timer armed by the first soak fires: it must not complete the restarted soak.
  d.ok(smoke_result(A, "e2e", true));
  d.ok(approval(A, "bob"));
  d.clock.now = first_live + 30min;
  const Decision& stale_timer = d.ok(SoakDeadlineReached{A});
  CHECK(effects_of<StartPromotion>(stale_timer).empty());
  CHECK_FALSE(has_audit(stale_timer, "release.soak_completed"));
  CHECK(d.release(A).state == ReleaseState::soaking);
  CHECK(d.release(A).state_reason.find("soak: 15m of 30m (reset 1 time by a crash)") != std::string::npos);

  d.clock.now = recovered + 30min;
  const Decision& done = d.ok(SoakDeadlineReached{A});
  CHECK(has_audit(done, "release.soak_completed"));
  CHECK(effects_of<StartPromotion>(done).size() == 1);
}

TEST_CASE("a crash while soaking on a second service counts as another reset") {
  Driver d;
  d.all_live(A);
  d.ok(deployment(A, "api", DeployStatus::crashed));
  d.ok(deployment(A, "api", DeployStatus::success));
  d.clock.advance(1min);
  d.ok(deployment(A, "worker", DeployStatus::removed));
  CHECK(d.release(A).soak_resets == 2);
  CHECK_FALSE(d.release(A).soak_started_at.has_value());
}

TEST_CASE("a failed staging deployment moves the release to staging_failed and a new deployment recovers it") {
  Driver d;
  d.all_live(A);
  d.clock.advance(3min);
  const Decision& dec = d.ok(deployment(A, "api", DeployStatus::failed));
  const Release& failed = d.release(A);
  CHECK(failed.state == ReleaseState::staging_failed);
  CHECK(failed.state_reason.starts_with("staging deployment failed (api FAILED)"));
  CHECK_FALSE(failed.soak_started_at.has_value());
  CHECK(failed.soak_resets == 1);
  CHECK(has_audit(dec, "release.soak_reset"));
  CHECK(d.world.active.contains(A.str()));  // not terminal: it can recover

  // The same deployment cannot come back from FAILED.
  d.clock.advance(1min);
  CHECK(d.ok(deployment(A, "api", DeployStatus::success)).changed.empty());
  CHECK(d.release(A).state == ReleaseState::staging_failed);

  d.clock.advance(1min);
  d.ok(deployment(A, "api", DeployStatus::building, "dep-redeploy"));
  CHECK(d.release(A).state == ReleaseState::deploying);
  d.clock.advance(2min);
  const Decision& live = d.ok(deployment(A, "api", DeployStatus::success, "dep-redeploy"));
  CHECK(d.release(A).state == ReleaseState::soaking);
  CHECK(d.release(A).soak_started_at == d.clock.now);
  CHECK(effects_of<ArmSoakTimer>(live).size() == 1);
}

TEST_CASE("a release first seen as FAILED is staging_failed, not terminal") {
  Driver d;
  d.ok(deployment(A, "www", DeployStatus::failed));
  CHECK(d.release(A).state == ReleaseState::staging_failed);
  CHECK_FALSE(is_terminal(d.release(A).state));
}

TEST_CASE("a stale status regression of the same deployment changes nothing") {
  Driver d;
  d.all_live(A);
  const Release before = d.release(A);
  d.clock.advance(1min);
  for (DeployStatus late : {DeployStatus::deploying, DeployStatus::building, DeployStatus::queued}) {
    CAPTURE(to_string(late));
    const Decision& dec = d.ok(deployment(A, "api", late));
    CHECK(dec.changed.empty());
    CHECK(dec.effects.empty());
    CHECK(has_audit(dec, "staging.stale_status_ignored"));
    CHECK(same_release(d.release(A), before));
  }
}

TEST_CASE("a duplicate webhook changes nothing and records nothing") {
  Driver d;
  d.ok(deployment(A, "api", DeployStatus::success));
  const Release before = d.release(A);
  d.clock.advance(1min);
  const Decision& dup = d.ok(deployment(A, "api", DeployStatus::success));
  CHECK(dup.empty());
  CHECK(same_release(d.release(A), before));
  CHECK(d.release(A).deployments.at("api").updated_at == before.deployments.at("api").updated_at);
}

TEST_CASE("an older deployment of a service reported after a newer one is ignored") {
  Driver d;
  auto newer = deployment(A, "api", DeployStatus::success, "dep-new");
  newer.created_at = t0() + 5min;
  auto older = deployment(A, "api", DeployStatus::crashed, "dep-old");
  older.created_at = t0();
  d.ok(newer);
  d.clock.advance(1min);
  const Decision& dec = d.ok(older);
  CHECK(dec.changed.empty());
  CHECK(has_audit(dec, "staging.stale_deployment_ignored"));
  CHECK(d.release(A).deployments.at("api").deployment_id == "dep-new");
  CHECK(d.release(A).deployments.at("api").status == DeployStatus::success);
}

TEST_CASE("a report without created_at keeps the known creation time, so an older deployment stays stale") {
  Driver d(Policy{[] {
    Policy p = standard_policy();
    p.services = {"api"};
    return p;
  }()});
  auto older = deployment(A, "api", DeployStatus::success, "dep-old");
  older.created_at = t0();
  auto newer = deployment(A, "api", DeployStatus::success, "dep-new");
  newer.created_at = t0() + 5min;
  d.ok(older);
  d.clock.advance(5min);
  d.ok(newer);
  d.clock.advance(5min);
  auto removed = deployment(A, "api", DeployStatus::removed, "dep-new");  // this webhook omits created_at
  d.ok(removed);
  REQUIRE(d.release(A).deployments.at("api").created_at == t0() + 5min);
  CHECK_FALSE(d.release(A).soak_started_at.has_value());

  d.clock.advance(1min);
  const Decision& late = d.ok(older);  // a retry of the old deployment's SUCCESS
  CHECK(has_audit(late, "staging.stale_deployment_ignored"));
  CHECK(d.release(A).deployments.at("api").deployment_id == "dep-new");
  CHECK_FALSE(d.release(A).soak_started_at.has_value());
  CHECK(effects_of<ArmSoakTimer>(late).empty());
}

TEST_CASE("a repeated report that first tells when a deployment was created is kept, so older ones stay stale") {
  Driver d(Policy{[] {
    Policy p = standard_policy();
    p.services = {"api"};
    return p;
  }()});
  auto older = deployment(A, "api", DeployStatus::success, "dep-old");
  older.created_at = t0();
  d.ok(older);
  d.clock.advance(5min);
  d.ok(deployment(A, "api", DeployStatus::crashed, "dep-new"));  // no created_at in this webhook
  const Decision& retry = [&]() -> const Decision& {
    auto again = deployment(A, "api", DeployStatus::crashed, "dep-new");
    again.created_at = t0() + 5min;  // the retry of the same webhook carries it
    return d.ok(again);
  }();
  CHECK(has_audit(retry, "staging.deployment_created_at"));
  CHECK(d.release(A).deployments.at("api").created_at == t0() + 5min);
  CHECK(d.release(A).deployments.at("api").status == DeployStatus::crashed);

  d.clock.advance(1min);
  d.ok(older);  // the old deployment's SUCCESS, retried late
  CHECK(d.release(A).deployments.at("api").deployment_id == "dep-new");
  CHECK_FALSE(d.release(A).soak_started_at.has_value());

  // A late, stale status carrying created_at is still ignored as a status but its creation time is kept.
  d.ok(deployment(B, "api", DeployStatus::success, "dep-b"));
  auto late = deployment(B, "api", DeployStatus::building, "dep-b");
  late.created_at = t0() + 7min;
  const Decision& stale = d.ok(late);
  CHECK(has_audit(stale, "staging.stale_status_ignored"));
  CHECK(d.release(B).deployments.at("api").status == DeployStatus::success);
  CHECK(d.release(B).deployments.at("api").created_at == t0() + 7min);
}

TEST_CASE("a newer release going live on a service supersedes older releases still gathering there") {
  Driver d;
  d.ok(deployment(A, "api", DeployStatus::success));      // A: seq 1, live on api
  d.ok(deployment(C, "worker", DeployStatus::building));  // C: seq 2, only on worker
  d.clock.advance(1min);
  d.ok(deployment(B, "api", DeployStatus::building));    // B: seq 3, not live yet
  CHECK(d.release(A).state == ReleaseState::deploying);  // building does not supersede

  d.clock.advance(1min);
  const Decision& dec = d.ok(deployment(B, "api", DeployStatus::success));
  CHECK(d.release(A).state == ReleaseState::superseded);
  CHECK(d.release(A).state_reason == fmt::format("superseded on staging by {} (api went live)", B.abbrev()));
  CHECK_FALSE(d.world.active.contains(A.str()));
  CHECK(has_audit(dec, "release.superseded"));
  CHECK(d.release(C).state == ReleaseState::deploying);  // never on api: untouched
  CHECK(d.release(B).state == ReleaseState::deploying);

  // A newer release never is superseded by an older one going live.
  d.clock.advance(1min);
  d.ok(deployment(C, "api", DeployStatus::success));
  CHECK(d.release(B).state == ReleaseState::deploying);
}

TEST_CASE("a release promoting is not superseded by a newer one going live on staging") {
  Driver d;
  make_ready(d, A);
  REQUIRE(d.release(A).state == ReleaseState::promoting);
  d.ok(deployment(B, "api", DeployStatus::success));
  CHECK(d.release(A).state == ReleaseState::promoting);
  CHECK(d.world.promoting == A);
}

// ---------------------------------------------------------------------------------------------------------
// Approvals and rejections

TEST_CASE("approval by the author is refused as forbidden and says why") {
  Driver d;
  d.all_live(A);
  Error e = d.refused(approval(A, "alice"));
  CHECK(e.code == ErrorCode::forbidden);
  CHECK(e.message.find("alice is the author of " + std::string(A.abbrev())) != std::string::npos);
  CHECK(e.message.find("separation of duties") != std::string::npos);
  CHECK(d.release(A).approvals.empty());
}

TEST_CASE("approval by an identity whose git logins include the author is refused") {
  Driver d;
  d.all_live(A);
  Error e = d.refused(approval(A, "alice@example.com", {"alice-old", "alice"}));
  CHECK(e.code == ErrorCode::forbidden);
  CHECK(e.message.find("alice@example.com is the author") != std::string::npos);
  d.ok(approval(A, "bob@example.com", {"bob"}));
  CHECK(d.release(A).approvals.size() == 1);
  CHECK(d.release(A).approvals[0].by == "bob@example.com");
}

TEST_CASE("the author cannot approve by having staging spell their name differently") {
  for (const std::string reported : {"Bob", "bob ", " bob", "BOB", "\uff42\uff4f\uff42"}) {
    INFO("author reported as '", reported, "'");
    Driver d;
    d.ok(deployment(A, "worker", DeployStatus::success, {}, reported));
    Error e = d.refused(approval(A, "bob@example.com", {"bob"}));
    CHECK(e.code == ErrorCode::forbidden);
    CHECK(e.message.find("bob@example.com is the author") != std::string::npos);
    Error by_name = d.refused(approval(A, "bob"));
    CHECK(by_name.code == ErrorCode::forbidden);
    CHECK(d.release(A).approvals.empty());
  }
}

TEST_CASE("a commit author mixing scripts is refused, so a Cyrillic look-alike never becomes the author") {
  Driver d;
  Error e = d.refused(deployment(A, "worker", DeployStatus::success, {}, "b\u043eb"));
  CHECK(e.code == ErrorCode::invalid_argument);
  CHECK(e.message.find("commit author: the name mixes scripts") != std::string::npos);
  Error hidden = d.refused(deployment(A, "worker", DeployStatus::success, {}, "bob\u200b"));
  CHECK(hidden.message.find("U+200B") != std::string::npos);
  CHECK(d.world.find(A) == nullptr);
}

TEST_CASE("a commit author of white space only counts as unknown: nobody may approve yet") {
  Driver d;
  d.ok(deployment(A, "worker", DeployStatus::success, {}, "  "));
  Error e = d.refused(approval(A, "bob"));
  CHECK(e.code == ErrorCode::failed_precondition);
  CHECK(e.message.find("is not known yet") != std::string::npos);
  d.ok(deployment(A, "api", DeployStatus::success, {}, "alice"));
  CHECK(d.release(A).author == "alice");
  d.ok(approval(A, "bob"));
  CHECK(d.release(A).approvals.size() == 1);
}

TEST_CASE("a look-alike author recorded before names were checked still cannot be approved by its owner") {
  Driver d;
  d.all_live(A);
  Release r = d.release(A);
  r.author = "b\u043eb";  // as an older promoterd could have stored it
  d.world.put(std::move(r));
  Error e = d.refused(approval(A, "robert", {"bob"}));
  CHECK(e.code == ErrorCode::forbidden);
  d.ok(approval(A, "carol", {"carol"}));
  CHECK(d.release(A).approvals.size() == 1);
}

TEST_CASE("an approval given before the commit author is known cannot count as the author's own approval") {
  // The first webhook carries no commit author; bob approves; later webhooks name bob as the author.
  Driver d;
  d.ok(deployment(A, "worker", DeployStatus::success, {}, /*author=*/""));
  auto early = decide(d.world, approval(A, "bob"), d.clock.now);
  if (early) apply(d.world, *early);  // accepted or refused: either way it must not count below
  d.ok(deployment(A, "api", DeployStatus::success, {}, "bob"));
  d.ok(deployment(A, "www", DeployStatus::success, {}, "bob"));
  CHECK(d.release(A).author == "bob");
  const Timestamp live = d.clock.now;
  d.clock.advance(1min);
  d.ok(smoke_result(A, "e2e", true));
  d.clock.now = live + 30min;
  const Decision& due = d.ok(SoakDeadlineReached{A});
  CHECK(effects_of<StartPromotion>(due).empty());
  CHECK(d.release(A).state == ReleaseState::soaking);
  CHECK_FALSE(d.world.promoting.has_value());

  d.clock.advance(1min);
  CHECK(effects_of<StartPromotion>(d.ok(approval(A, "carol"))).size() == 1);
}

TEST_CASE("approval while the commit author is unknown is refused and says what to wait for") {
  Driver d;
  d.ok(deployment(A, "worker", DeployStatus::success, {}, /*author=*/""));
  Error e = d.refused(approval(A, "bob"));
  CHECK(e.code == ErrorCode::failed_precondition);
  CHECK(e.message.find("commit author of " + std::string(A.abbrev()) + " is not known yet") != std::string::npos);
  CHECK(d.release(A).approvals.empty());
  d.ok(deployment(A, "api", DeployStatus::building, {}, "alice"));
  CHECK(d.release(A).author == "alice");
  d.ok(approval(A, "bob"));
  CHECK(d.release(A).approvals.size() == 1);
}

TEST_CASE("approving twice by the same operator counts once") {
  Policy p = standard_policy();
  p.approvals_required = 2;
  Driver d(p);
  d.all_live(A);
  d.ok(approval(A, "bob"));
  CHECK(d.ok(approval(A, "bob")).empty());
  CHECK(d.release(A).approvals.size() == 1);
  d.ok(approval(A, "carol"));
  CHECK(d.release(A).approvals.size() == 2);
}

TEST_CASE("approval before soak and smoke is kept and the promotion starts at the deadline that completes the gates") {
  Driver d;
  d.ok(deployment(A, "api", DeployStatus::building));
  const Decision& early = d.ok(approval(A, "bob"));  // before anything is live
  CHECK(d.release(A).approvals.size() == 1);
  CHECK(has_audit(early, "release.approved"));
  CHECK(effects_of<StartPromotion>(early).empty());

  d.clock.advance(2min);
  d.all_live(A);
  const Timestamp live = d.clock.now;
  d.clock.advance(1min);
  CHECK(effects_of<StartPromotion>(d.ok(smoke_result(A, "e2e", true))).empty());
  CHECK(d.release(A).state == ReleaseState::soaking);

  d.clock.now = live + 30min - 1ms;  // an early timer: not yet
  CHECK(effects_of<StartPromotion>(d.ok(SoakDeadlineReached{A})).empty());

  d.clock.now = live + 30min;
  const Decision& dec = d.ok(SoakDeadlineReached{A});
  auto starts = effects_of<StartPromotion>(dec);
  REQUIRE(starts.size() == 1);
  CHECK(starts[0].sha == A);
  CHECK(d.release(A).state == ReleaseState::promoting);
  CHECK(d.world.promoting == A);
  CHECK(has_audit(dec, "release.soak_completed"));
  CHECK(has_audit(dec, "promotion.requested"));
  bool notified = false;
  for (const auto& n : effects_of<Notify>(dec)) notified = notified || (n.kind == "promotion.started" && n.sha == A);
  CHECK(notified);
}

TEST_CASE("the last approval starts the promotion at once when soak and smoke already hold") {
  Policy p = standard_policy();
  p.approvals_required = 2;
  Driver d(p);
  d.all_live(A);
  d.clock.advance(1min);
  d.ok(smoke_result(A, "e2e", true));
  d.clock.advance(40min);
  d.ok(SoakDeadlineReached{A});
  CHECK(effects_of<StartPromotion>(d.ok(approval(A, "bob"))).empty());
  CHECK(d.release(A).state == ReleaseState::soaking);
  d.clock.advance(1min);
  CHECK(effects_of<StartPromotion>(d.ok(approval(A, "carol"))).size() == 1);
  CHECK(d.release(A).state == ReleaseState::promoting);
}

TEST_CASE("a smoke result reported before the release went live does not satisfy the smoke gate") {
  Driver d;
  d.ok(deployment(A, "api", DeployStatus::success));
  d.ok(smoke_result(A, "e2e", true));  // only api live
  d.ok(approval(A, "bob"));
  d.clock.advance(1min);
  d.ok(deployment(A, "worker", DeployStatus::success));
  d.ok(deployment(A, "www", DeployStatus::success));
  d.clock.advance(30min);
  CHECK(effects_of<StartPromotion>(d.ok(SoakDeadlineReached{A})).empty());
  CHECK(d.release(A).state == ReleaseState::soaking);
  CHECK(d.release(A).state_reason.find("reported before the release went live") != std::string::npos);
  CHECK(effects_of<StartPromotion>(d.ok(smoke_result(A, "e2e", true))).size() == 1);
}

TEST_CASE("a failed smoke result after ready takes the release back to soaking") {
  Policy p = standard_policy();
  p.approvals_required = 1;
  Driver d(p);
  make_ready(d, B);  // B promoting, so A (newer) waits in ready
  d.all_live(A);
  d.ok(smoke_result(A, "e2e", true));
  d.ok(approval(A, "carol"));
  d.clock.advance(30min);
  d.ok(SoakDeadlineReached{A});
  REQUIRE(d.release(A).state == ReleaseState::ready);
  d.ok(smoke_result(A, "e2e", false));
  CHECK(d.release(A).state == ReleaseState::soaking);
  CHECK(d.release(A).state_reason.find("suite e2e failed") != std::string::npos);
}

TEST_CASE("a rejection blocks the release and is terminal") {
  Driver d;
  d.all_live(A);
  d.ok(smoke_result(A, "e2e", true));
  d.ok(approval(A, "bob"));
  d.clock.advance(10min);
  const Decision& dec = d.ok(rejection(A, "carol", "breaks checkout"));
  const Release& r = d.release(A);
  CHECK(r.state == ReleaseState::rejected);
  CHECK(r.state_reason == "rejected by carol: breaks checkout");
  REQUIRE(r.rejection.has_value());
  CHECK(r.rejection->by == "carol");
  CHECK(has_audit(dec, "release.rejected"));
  CHECK_FALSE(d.world.active.contains(A.str()));

  d.clock.advance(30min);
  const Decision& timer = d.ok(SoakDeadlineReached{A});
  CHECK(effects_of<StartPromotion>(timer).empty());
  CHECK(d.release(A).state == ReleaseState::rejected);

  Error again = d.refused(approval(A, "dave"));
  CHECK(again.code == ErrorCode::failed_precondition);
  CHECK(again.message == fmt::format("release {} is rejected; it accepts no approvals", A.abbrev()));
  CHECK(d.refused(rejection(A, "dave", "twice")).code == ErrorCode::failed_precondition);

  // Staging keeps reporting: recorded, but the state does not move.
  d.ok(deployment(A, "api", DeployStatus::crashed));
  CHECK(d.release(A).state == ReleaseState::rejected);
  CHECK(d.release(A).deployments.at("api").status == DeployStatus::crashed);
}

TEST_CASE("a rejection needs a reason") {
  Driver d;
  d.ok(deployment(A, "api", DeployStatus::success));
  Error e = d.refused(rejection(A, "carol", ""));
  CHECK(e.code == ErrorCode::invalid_argument);
  CHECK(e.message == "a rejection needs a reason");
  CHECK(d.release(A).state == ReleaseState::deploying);
}

// ---------------------------------------------------------------------------------------------------------
// The acceptance table, row by row

enum class Expect { accepted, refused };

struct Row {
  ReleaseState state;
  Expect staging, smoke, approval, rejection, soak_deadline, finished, hotfix;
};

TEST_CASE("each release state accepts and refuses exactly the events of the acceptance table") {
  using enum Expect;
  const Row rows[] = {
      {ReleaseState::deploying, accepted, accepted, accepted, accepted, accepted, refused, accepted},
      {ReleaseState::soaking, accepted, accepted, accepted, accepted, accepted, refused, accepted},
      {ReleaseState::ready, accepted, accepted, accepted, accepted, accepted, refused, accepted},
      {ReleaseState::promoting, accepted, accepted, refused, refused, accepted, accepted, refused},
      {ReleaseState::promoted, accepted, accepted, refused, refused, accepted, refused, refused},
      {ReleaseState::promotion_failed, accepted, accepted, refused, refused, accepted, refused, refused},
      {ReleaseState::promotion_aborted, accepted, accepted, refused, refused, accepted, refused, refused},
      {ReleaseState::rejected, accepted, accepted, refused, refused, accepted, refused, refused},
      {ReleaseState::superseded, accepted, accepted, refused, refused, accepted, refused, refused},
      {ReleaseState::staging_failed, accepted, accepted, accepted, accepted, accepted, refused, refused},
  };
  for (const Row& row : rows) {
    const std::string state_name(to_string(row.state));
    CAPTURE(state_name);
    // A hotfix needs every service live on staging (and, by default, its smoke tests): it is asked of the
    // release with healthy deployments and hotfix.require_smoke off, so only the state can refuse it.
    auto world_with = [&](DeployStatus status) {
      World w;
      w.policy = standard_policy();
      w.policy.hotfix.require_smoke = false;
      Release r(A);
      r.author = "alice";
      r.seq = 1;
      r.state = row.state;
      r.promotion_id = PromotionId{7};
      for (const auto& s : w.policy.services)
        r.deployments[s] = StagingDeployment{s, "dep-" + s, status, t0(), std::nullopt};
      w.put(r);
      w.next_seq = 2;
      if (row.state == ReleaseState::promoting) w.promoting = A;
      return w;
    };
    const World w = world_with(DeployStatus::building);
    const World live = world_with(DeployStatus::success);
    const bool frozen = is_terminal(row.state) || row.state == ReleaseState::promoting;

    const std::pair<Event, Expect> events[] = {
        {deployment(A, "api", DeployStatus::deploying), row.staging},
        {smoke_result(A, "e2e", true), row.smoke},
        {approval(A, "bob"), row.approval},
        {rejection(A, "carol", "no"), row.rejection},
        {SoakDeadlineReached{A}, row.soak_deadline},
        {PromotionFinished{A, PromotionId{7}, PromotionOutcome::succeeded, ""}, row.finished},
        {HotfixRequested{A, "bob", "checkout returns 500", "https://status.example.com/incidents/42"}, row.hotfix},
    };
    for (const auto& [event, expect] : events) {
      const std::string name(event_name(event));
      CAPTURE(name);
      const bool hotfix = std::holds_alternative<HotfixRequested>(event);
      auto d = decide(hotfix ? live : w, event, t0() + 1min);
      CHECK(d.has_value() == (expect == accepted));
      if (!d) {
        CHECK(d.error().code == ErrorCode::failed_precondition);
        CHECK(d.error().message.find(fmt::format("release {} is {}", A.abbrev(), state_name)) != std::string::npos);
        continue;
      }
      if (hotfix) CHECK(facts_of<HotfixDeclared>(*d).size() == 1);
      // A frozen state records facts but keeps its state (except a running promotion finishing).
      if (frozen && !std::holds_alternative<PromotionFinished>(event))
        for (const auto& c : d->changed)
          if (c.sha == A) CHECK(c.state == row.state);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Refusals

TEST_CASE("events about an unknown SHA are not_found, except a late soak timer which is ignored") {
  Driver d;
  d.ok(deployment(A, "api", DeployStatus::success));
  const Event events[] = {smoke_result(C, "e2e", true), approval(C, "bob"), rejection(C, "carol"),
                          PromotionFinished{C, PromotionId{1}, PromotionOutcome::succeeded, ""}};
  for (const auto& e : events) {
    CAPTURE(std::string(event_name(e)));
    Error err = d.refused(e);
    CHECK(err.code == ErrorCode::not_found);
    CHECK(err.message.find(C.str()) != std::string::npos);
  }
  CHECK(d.ok(SoakDeadlineReached{C}).empty());
  CHECK(d.world.find(C) == nullptr);
}

TEST_CASE("approval of a promoted release is refused with failed_precondition and changes nothing") {
  Driver d;
  make_ready(d, A);
  record_promotion_id(d.world, A, 41);
  d.ok(PromotionFinished{A, PromotionId{41}, PromotionOutcome::succeeded, ""});
  REQUIRE(d.release(A).state == ReleaseState::promoted);
  const World before = d.world;
  Error e = d.refused(approval(A, "carol"));
  CHECK(e.code == ErrorCode::failed_precondition);
  CHECK(e.message == fmt::format("release {} is promoted; it accepts no approvals", A.abbrev()));
  CHECK(same_release(d.release(A), *before.find(A)));
  CHECK(d.release(A).approvals.size() == 1);
}

// ---------------------------------------------------------------------------------------------------------
// Promotions

TEST_CASE("PromotionFinished with success makes the release production") {
  Driver d;
  d.world.production = C;
  make_ready(d, A);
  REQUIRE(d.world.promoting == A);
  record_promotion_id(d.world, A, 7);
  const Decision& dec = d.ok(PromotionFinished{A, PromotionId{7}, PromotionOutcome::succeeded, "all steps succeeded"});
  CHECK(d.release(A).state == ReleaseState::promoted);
  CHECK(d.release(A).state_reason == "promoted to production by promotion 7");
  CHECK(d.world.production == A);
  CHECK_FALSE(d.world.promoting.has_value());
  CHECK(has_audit(dec, "promotion.succeeded"));
  CHECK_FALSE(d.world.active.contains(A.str()));
  // What the store writes: the release's record first, then the promotion's end, then production.
  REQUIRE(dec.facts.size() == 3);
  const auto* row = std::get_if<ReleaseStateChanged>(&dec.facts[0]);
  REQUIRE(row != nullptr);
  CHECK(row->state == ReleaseState::promoted);
  CHECK_FALSE(row->discovered);
  const auto* ended = std::get_if<PromotionEnded>(&dec.facts[1]);
  REQUIRE(ended != nullptr);
  CHECK(ended->promotion_id == PromotionId{7});
  CHECK(ended->outcome == PromotionOutcome::succeeded);
  CHECK(ended->detail.empty());
  const auto* production = std::get_if<ProductionSet>(&dec.facts[2]);
  REQUIRE(production != nullptr);
  CHECK(production->sha == A);
  CHECK(production->promotion_id == PromotionId{7});
}

TEST_CASE("PromotionFinished with failure leaves production alone and marks promotion_failed") {
  Driver d;
  d.world.production = C;
  make_ready(d, A);
  record_promotion_id(d.world, A, 8);
  const Decision& dec = d.ok(PromotionFinished{A, PromotionId{8}, PromotionOutcome::failed, "migrate failed"});
  CHECK(d.release(A).state == ReleaseState::promotion_failed);
  CHECK(d.release(A).state_reason == "promotion 8 failed: migrate failed");
  CHECK(d.world.production == C);
  CHECK_FALSE(d.world.promoting.has_value());
  CHECK(has_audit(dec, "promotion.failed"));
  bool notified = false;
  for (const auto& n : effects_of<Notify>(dec)) notified = notified || n.kind == "promotion.failed";
  CHECK(notified);
}

TEST_CASE("an aborted promotion leaves production alone, ends the release as promotion_aborted and frees the lane") {
  Driver d;
  d.world.production = C;
  make_ready(d, A);
  record_promotion_id(d.world, A, 8);
  const std::string detail = "by bob: wrong image; stopped before deploy:api; already changed: migrate";
  const Decision& dec = d.ok(PromotionFinished{A, PromotionId{8}, PromotionOutcome::aborted, detail});
  CHECK(d.release(A).state == ReleaseState::promotion_aborted);
  CHECK(d.release(A).state_reason == "promotion 8 aborted " + detail);
  CHECK(is_terminal(ReleaseState::promotion_aborted));
  CHECK_FALSE(d.world.active.contains(A.str()));
  CHECK(d.world.production == C);
  CHECK_FALSE(d.world.promoting.has_value());
  CHECK(has_audit(dec, "promotion.aborted"));
  CHECK_FALSE(has_audit(dec, "promotion.failed"));
  std::vector<std::string> kinds;
  for (const auto& n : effects_of<Notify>(dec)) kinds.push_back(n.kind);
  CHECK(kinds == std::vector<std::string>{"promotion.aborted"});
  const auto ended = facts_of<PromotionEnded>(dec);
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].outcome == PromotionOutcome::aborted);
  CHECK(ended[0].detail == d.release(A).state_reason);
  CHECK(facts_of<ProductionSet>(dec).empty());
  // Not promoted again by itself: a new approval is refused, the release stays aborted.
  CHECK(d.refused(approval(A, "carol")).code == ErrorCode::failed_precondition);
  CHECK(effects_of<StartPromotion>(dec).empty());
}

TEST_CASE("PromotionFinished naming another promotion id is a conflict") {
  Driver d;
  make_ready(d, A);
  record_promotion_id(d.world, A, 8);
  Error e = d.refused(PromotionFinished{A, PromotionId{9}, PromotionOutcome::succeeded, ""});
  CHECK(e.code == ErrorCode::conflict);
  CHECK(e.message == fmt::format("promotion 9 is not the running promotion of {}", A.abbrev()));
  CHECK(d.release(A).state == ReleaseState::promoting);
}

TEST_CASE("no promotion starts while another runs; the waiting release starts when it finishes") {
  Driver d;
  make_ready(d, A);
  REQUIRE(d.world.promoting == A);
  record_promotion_id(d.world, A, 1);

  d.clock.advance(1min);
  d.all_live(B);
  const Timestamp b_live = d.clock.now;
  d.ok(smoke_result(B, "e2e", true));
  d.ok(approval(B, "carol"));
  d.clock.now = b_live + 30min;
  const Decision& due = d.ok(SoakDeadlineReached{B});
  CHECK(effects_of<StartPromotion>(due).empty());
  CHECK(d.release(B).state == ReleaseState::ready);
  CHECK(d.release(B).state_reason ==
        fmt::format("every gate holds; waiting for the promotion of {} to finish", A.abbrev()));
  CHECK(d.world.promoting == A);

  d.clock.advance(1min);
  const Decision& fin = d.ok(PromotionFinished{A, PromotionId{1}, PromotionOutcome::succeeded, ""});
  CHECK(d.world.production == A);
  auto starts = effects_of<StartPromotion>(fin);
  REQUIRE(starts.size() == 1);
  CHECK(starts[0].sha == B);
  CHECK(d.world.promoting == B);
  CHECK(d.release(B).state == ReleaseState::promoting);
}

TEST_CASE("a newer release going live supersedes an older one waiting in ready, and is promoted next") {
  Driver d;
  make_ready(d, A);  // promoting
  record_promotion_id(d.world, A, 1);
  d.all_live(B);
  d.ok(smoke_result(B, "e2e", true));
  d.ok(approval(B, "carol"));
  d.clock.advance(30min);
  d.ok(SoakDeadlineReached{B});
  REQUIRE(d.release(B).state == ReleaseState::ready);
  d.all_live(C);  // newer and live on B's services: B is superseded even though every gate held
  CHECK(d.release(B).state == ReleaseState::superseded);
  d.ok(smoke_result(C, "e2e", true));
  d.ok(approval(C, "carol"));
  d.clock.advance(30min);
  d.ok(SoakDeadlineReached{C});
  const Decision& fin = d.ok(PromotionFinished{A, PromotionId{1}, PromotionOutcome::failed, "verify failed"});
  auto starts = effects_of<StartPromotion>(fin);
  REQUIRE(starts.size() == 1);
  CHECK(starts[0].sha == C);
  CHECK(d.release(B).state == ReleaseState::superseded);
}

TEST_CASE("staging events for a promoting release are recorded without moving its state") {
  Driver d;
  make_ready(d, A);
  d.clock.advance(1min);
  const Decision& dec = d.ok(deployment(A, "api", DeployStatus::crashed));
  CHECK(d.release(A).state == ReleaseState::promoting);
  CHECK(d.release(A).deployments.at("api").status == DeployStatus::crashed);
  CHECK(has_audit(dec, "staging.deployment"));
  CHECK(d.world.promoting == A);
}

// ---------------------------------------------------------------------------------------------------------
// Restart

// What the daemon does at start-up: a fresh World from the persisted releases.
World reload(const World& persisted) {
  World w;
  w.policy = persisted.policy;
  w.production = persisted.production;
  w.promoting = persisted.promoting;
  w.next_seq = persisted.next_seq;
  for (const auto& [sha, r] : persisted.releases) w.put(r);
  return w;
}

TEST_CASE("resume re-arms the soak timer of every release still soaking") {
  Driver d;
  d.all_live(A);
  d.clock.advance(5min);
  d.all_live(B);  // supersedes A on every service
  const Timestamp b_live = d.clock.now;
  d.ok(deployment(C, "api", DeployStatus::building));

  World w = reload(d.world);
  check_active_in_step(w);
  const Decision dec = resume(w, b_live + 10min);
  auto timers = effects_of<ArmSoakTimer>(dec);
  REQUIRE(timers.size() == 1);
  CHECK(timers[0].sha == B);
  CHECK(timers[0].deadline == b_live + 30min);
  CHECK(effects_of<StartPromotion>(dec).empty());
  CHECK(w.find(A)->state == ReleaseState::superseded);
  apply(w, dec);
  check_active_in_step(w);
  CHECK(w.find(B)->state == ReleaseState::soaking);
}

TEST_CASE("resume asks for smoke checks again for releases soaking, not for finished ones") {
  Driver d;
  d.all_live(A);
  d.clock.advance(5min);
  d.all_live(B);  // supersedes A
  World w = reload(d.world);
  const Decision dec = resume(w, d.clock.now + 1min);
  auto smoke = effects_of<RunSmokeChecks>(dec);
  REQUIRE(smoke.size() == 1);
  CHECK(smoke[0].sha == B);
}

TEST_CASE("resume starts a promotion that became due while the daemon was down") {
  Driver d;
  d.all_live(A);
  const Timestamp live = d.clock.now;
  d.clock.advance(1min);
  d.ok(smoke_result(A, "e2e", true));
  d.ok(approval(A, "bob"));
  REQUIRE(d.release(A).state == ReleaseState::soaking);

  World w = reload(d.world);
  const Decision dec = resume(w, live + 45min);  // the deadline passed while down
  CHECK(effects_of<ArmSoakTimer>(dec).empty());
  auto starts = effects_of<StartPromotion>(dec);
  REQUIRE(starts.size() == 1);
  CHECK(starts[0].sha == A);
  apply(w, dec);
  CHECK(w.promoting == A);
  CHECK(w.find(A)->state == ReleaseState::promoting);
  check_active_in_step(w);
}

TEST_CASE("resume does not start a second promotion while one is recorded as running") {
  Driver d;
  make_ready(d, A);
  d.clock.advance(1min);
  d.all_live(B);
  d.ok(smoke_result(B, "e2e", true));
  d.ok(approval(B, "carol"));
  World w = reload(d.world);
  const Decision dec = resume(w, d.clock.now + 31min);
  CHECK(effects_of<StartPromotion>(dec).empty());
  apply(w, dec);
  CHECK(w.promoting == A);
  CHECK(w.find(B)->state == ReleaseState::ready);
}

TEST_CASE("resume of a world with nothing pending does nothing") {
  Driver d;
  make_ready(d, A);
  record_promotion_id(d.world, A, 3);
  d.ok(PromotionFinished{A, PromotionId{3}, PromotionOutcome::succeeded, ""});
  World w = reload(d.world);
  const Decision dec = resume(w, d.clock.now + 1h);
  CHECK(dec.effects.empty());
  CHECK(dec.changed.empty());
}

TEST_CASE("apply keeps World::active in step through discovery, supersession, rejection and promotion") {
  Driver d;  // Driver::ok checks active after every apply; here the sets are also named
  d.ok(deployment(A, "api", DeployStatus::success));
  d.ok(deployment(B, "api", DeployStatus::building));
  d.ok(deployment(C, "worker", DeployStatus::building));
  CHECK(d.world.active == std::set<std::string>{A.str(), B.str(), C.str()});
  d.ok(deployment(B, "api", DeployStatus::success));  // supersedes A
  CHECK(d.world.active == std::set<std::string>{B.str(), C.str()});
  d.ok(rejection(C, "carol", "no"));
  CHECK(d.world.active == std::set<std::string>{B.str()});
  make_ready(d, B);
  CHECK(d.world.active == std::set<std::string>{B.str()});  // promoting is not terminal
  record_promotion_id(d.world, B, 5);
  d.ok(PromotionFinished{B, PromotionId{5}, PromotionOutcome::succeeded, ""});
  CHECK(d.world.active.empty());
  CHECK(d.world.releases.size() == 3);
}

}  // namespace
}  // namespace promoter::core
