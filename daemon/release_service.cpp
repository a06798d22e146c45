#include "daemon/release_service.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <fmt/format.h>

#include "core/freeze.hpp"
#include "core/gates.hpp"
#include "daemon/log.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;

ReleaseService::ReleaseService(asio::io_context& io, asio::thread_pool& pool, Ledger& ledger, const Clock& clock,
                               Metrics& metrics, std::string environment)
    : io_(io),
      strand_(asio::make_strand(pool.get_executor())),
      ledger_(ledger),
      clock_(clock),
      metrics_(metrics),
      environment_(std::move(environment)) {}

asio::awaitable<core::Result<void>> ReleaseService::start(const core::Policy& policy) {
  auto work = call_on<core::Result<Applied>>([this, policy] { return load_on_strand(policy); });
  auto applied = co_await asio::co_spawn(strand_, std::move(work), asio::use_awaitable);
  if (!applied) co_return std::unexpected(applied.error());
  loaded_ = true;
  perform(*applied);
  co_return core::Result<void>{};
}

asio::awaitable<core::Result<std::optional<core::Release>>> ReleaseService::submit(core::Event event) {
  const std::string name(core::event_name(event));
  // Deciding on an empty World would take every known release for a new one: not before start() loaded it
  // (a leader that has just taken over is still loading).
  if (!loaded_) {
    metrics_.event(name, "error");
    co_return core::fail(core::ErrorCode::unavailable, "promoterd is loading its releases; retry in a moment");
  }
  auto pending = std::make_shared<Pending>(Pending{std::move(event), std::nullopt});
  {
    std::lock_guard lock(queue_mutex_);
    queue_.push_back(pending);
  }
  // The strand runs drains in order: by the time this one runs, an earlier drain may have taken this event
  // into its batch already. Either way its answer is there when the drain returns.
  auto work = call_on<void>([this] { drain_on_strand(); });
  co_await asio::co_spawn(strand_, std::move(work), asio::use_awaitable);
  if (!pending->result) co_return core::fail(core::ErrorCode::internal, "the event was not decided");
  core::Result<Applied>& applied = *pending->result;
  if (!applied) {
    metrics_.event(
        name, applied.error().code == core::ErrorCode::unavailable || applied.error().code == core::ErrorCode::internal
                  ? "error"
                  : "refused");
    co_return std::unexpected(applied.error());
  }
  metrics_.event(name, "accepted");
  perform(*applied);
  co_return std::move(applied->release);
}

core::Result<ReleaseService::Applied> ReleaseService::load_on_strand(const core::Policy& policy) {
  auto world = ledger_.load(policy, environment_);
  if (!world) return std::unexpected(world.error());
  world_ = std::move(*world);
  plan_ = core::make_plan(world_.policy);
  // History stays in the database; its counts are read once and kept in step from here on.
  auto counts = ledger_.release_counts();
  if (!counts) return std::unexpected(counts.error());
  state_counts_ = std::move(*counts);
  const auto now = clock_.now();
  auto applied = commit_on_strand(core::resume(world_, now), now, std::nullopt);
  retire_finished();
  return applied;
}

void ReleaseService::drain_on_strand() {
  std::vector<std::shared_ptr<Pending>> batch;
  {
    std::lock_guard lock(queue_mutex_);
    batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
  }
  if (batch.empty()) return;
  metrics_.commit_batch(batch.size());
  if (batch.size() == 1)
    batch.front()->result = decide_on_strand(batch.front()->event);
  else
    decide_batch(batch);
  retire_finished();
}

core::Result<void> ReleaseService::hydrate(const core::Sha& sha) {
  // A release that finished its course is not in memory: bring it back for this event, so core sees it as
  // it is (a late staging report of a promoted release is recorded, not taken for a new release).
  if (world_.find(sha)) return {};
  auto known = ledger_.release(sha);
  if (!known) return std::unexpected(known.error());
  if (*known) world_.put(std::move(**known));
  return {};
}

void ReleaseService::decide_batch(std::vector<std::shared_ptr<Pending>>& batch) {
  // What the World was before the batch, to put back if its transaction fails.
  const auto saved_counts = state_counts_;
  const auto saved_production = world_.production;
  const auto saved_promoting = world_.promoting;
  const auto saved_next_seq = world_.next_seq;
  const auto saved_line_stop = world_.line_stop;
  const auto saved_pin = world_.pin;
  const auto saved_rollback = world_.rollback;
  std::vector<std::pair<core::Sha, std::optional<core::Release>>> undo;
  core::Decision combined;
  struct Accepted {
    std::shared_ptr<Pending> pending;
    core::Decision decision;
    std::optional<core::Release> release;  // as this event left it, before later events of the batch
  };
  std::vector<Accepted> accepted;
  const auto now = clock_.now();
  for (auto& p : batch) {
    const core::Sha* sha = core::event_sha(p->event);
    if (sha)
      if (auto hydrated = hydrate(*sha); !hydrated) {
        p->result = std::unexpected(hydrated.error());
        continue;
      }
    auto d = core::decide(world_, p->event, now);
    if (!d) {
      p->result = std::unexpected(d.error());
      continue;
    }
    for (const auto& r : d->changed) {
      const core::Release* old = world_.find(r.sha);
      undo.emplace_back(r.sha, old ? std::optional<core::Release>(*old) : std::nullopt);
    }
    count_states(*d);
    core::apply(world_, *d);
    combined.facts.insert(combined.facts.end(), d->facts.begin(), d->facts.end());
    combined.audit.insert(combined.audit.end(), d->audit.begin(), d->audit.end());
    const core::Release* after = sha ? world_.find(*sha) : nullptr;
    accepted.push_back(Accepted{p, std::move(*d), after ? std::optional<core::Release>(*after) : std::nullopt});
  }
  if (accepted.empty()) return;
  auto opened = ledger_.commit(combined, plan_, environment_, now);
  metrics_.set_database_up(opened.has_value() || opened.error().code != core::ErrorCode::unavailable);
  if (!opened) {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
      if (it->second)
        world_.put(*it->second);
      else
        world_.forget(it->first);
    }
    world_.production = saved_production;
    world_.promoting = saved_promoting;
    world_.next_seq = saved_next_seq;
    world_.line_stop = saved_line_stop;
    world_.pin = saved_pin;
    world_.rollback = saved_rollback;
    state_counts_ = saved_counts;
    const auto code = opened.error().code;
    if (code == core::ErrorCode::unavailable || code == core::ErrorCode::not_leader ||
        code == core::ErrorCode::internal) {
      // The database or the lead is gone: no event of the batch can be recorded now.
      for (auto& a : accepted) a.pending->result = std::unexpected(opened.error());
      return;
    }
    // Something one event did: record each alone, so the others are not refused for it.
    for (auto& a : accepted) a.pending->result = decide_on_strand(a.pending->event);
    return;
  }
  // The store numbered the new promotions: the World, the decisions and the answers learn the numbers.
  // A rollback's id is the rollback's, not its target release's (number_opened_rollback gives it).
  for (const auto& [sha, id] : *opened)
    if (auto w = world_.releases.find(sha);
        w != world_.releases.end() && !(world_.rollback && world_.rollback->target.str() == sha))
      w->second.promotion_id = id;
  number_opened_rollback(world_.rollback, *opened);
  for (auto& a : accepted) {
    number_opened_promotions(a.decision.changed, *opened);
    number_opened_rollback(a.decision.rollback, *opened);
    if (a.release)
      if (auto it = opened->find(a.release->sha.str()); it != opened->end()) a.release->promotion_id = it->second;
    a.pending->result = Applied{std::move(a.decision), *opened, std::move(a.release)};
  }
  update_gauges();
}

core::Result<ReleaseService::Applied> ReleaseService::decide_on_strand(const core::Event& event) {
  const core::Sha* sha = core::event_sha(event);
  if (sha)
    if (auto hydrated = hydrate(*sha); !hydrated) return std::unexpected(hydrated.error());
  const auto now = clock_.now();
  auto d = core::decide(world_, event, now);
  if (!d) return std::unexpected(d.error());
  return commit_on_strand(*d, now, sha ? std::optional<core::Sha>(*sha) : std::nullopt);
}

void ReleaseService::retire_finished() {
  std::vector<core::Sha> finished;
  for (const auto& [key, r] : world_.releases)
    if (core::is_terminal(r.state) && world_.production != r.sha) finished.push_back(r.sha);
  for (const auto& sha : finished) world_.forget(sha);
}

core::Result<ReleaseService::Applied> ReleaseService::commit_on_strand(const core::Decision& decision,
                                                                       core::Timestamp now,
                                                                       const std::optional<core::Sha>& sha) {
  Applied out{decision, {}, std::nullopt};
  if (!decision.empty()) {
    auto opened = ledger_.commit(decision, plan_, environment_, now);
    metrics_.set_database_up(opened.has_value() || opened.error().code != core::ErrorCode::unavailable);
    if (!opened) return std::unexpected(opened.error());
    out.opened = std::move(*opened);
    // The store numbered the new promotions; the World learns the numbers before it applies.
    number_opened_promotions(out.decision.changed, out.opened);
    number_opened_rollback(out.decision.rollback, out.opened);
    count_states(out.decision);
    core::apply(world_, out.decision);
    update_gauges();
  }
  if (sha)
    if (const auto* r = world_.find(*sha)) out.release = *r;
  return out;
}

void ReleaseService::count_states(const core::Decision& decision) {
  for (const auto& r : decision.changed) {
    if (const auto* old = world_.find(r.sha)) --state_counts_[std::string(core::to_string(old->state))];
    ++state_counts_[std::string(core::to_string(r.state))];
  }
}

void ReleaseService::update_gauges() {
  metrics_.set_release_states(state_counts_);
  // Soak left for the newest release still soaking: what an operator waits on.
  const core::Release* newest = nullptr;
  for (const auto& sha : world_.active) {
    const auto& r = world_.releases.at(sha);
    if (r.soak_started_at && (!newest || r.seq > newest->seq)) newest = &r;
  }
  std::optional<double> remaining;
  if (newest) {
    const auto left = *newest->soak_started_at + world_.policy.soak - clock_.now();
    remaining = std::max(0.0, std::chrono::duration<double>(left).count());
  }
  metrics_.set_soak_remaining(remaining);
  // Which gates hold back the releases still gathering them (soak counts time: as of now).
  const auto now = clock_.now();
  metrics_.set_environment_frozen(core::active_freeze(world_.policy.freezes, world_.line_stop, now).has_value());
  metrics_.set_environment_pinned(world_.pin.has_value());
  std::map<std::string_view, int> blocked{{"soak", 0}, {"smoke", 0},        {"approval", 0}, {"review", 0},
                                          {"ci", 0},   {"ddl_rollback", 0}, {"env", 0},      {"flag", 0}};
  for (const auto& sha : world_.active) {
    const auto& r = world_.releases.at(sha);
    if (r.state != core::ReleaseState::soaking && r.state != core::ReleaseState::ready) continue;
    const core::GateReport g = core::evaluate_gates(r, world_.policy, now, world_.production);
    blocked["soak"] += !g.soak.ok;
    blocked["smoke"] += !g.smoke.ok;
    blocked["approval"] += !g.approval.ok;
    blocked["review"] += !g.review.ok;
    blocked["ci"] += !g.ci.ok;
    blocked["ddl_rollback"] += !g.ddl_rollback.ok;
    blocked["env"] += !g.env.ok;
    blocked["flag"] += !g.flag.ok;
  }
  for (const auto& [gate, n] : blocked) metrics_.set_gate_blocked(gate, n);
}

void ReleaseService::perform(const Applied& applied) {
  for (const auto& effect : applied.decision.effects) {
    if (const auto* timer = std::get_if<core::ArmSoakTimer>(&effect)) {
      arm(timer->sha, timer->deadline);
    } else if (const auto* start = std::get_if<core::StartPromotion>(&effect)) {
      const auto opened = applied.opened.find(start->sha.str());
      const PromotionId id = opened == applied.opened.end() ? PromotionId{} : opened->second;  // 0: none opened
      // The decision's rollback is the one this effect starts when it targets this SHA.
      const auto& rollback = applied.decision.rollback;
      if (rollback && rollback->target == start->sha) {
        log(LogLevel::warn, "rollback created",
            {{"sha", start->sha.str()}, {"promotion_id", id.value()}, {"trigger", core::to_string(rollback->trigger)}});
        metrics_.rollback_started(core::to_string(rollback->trigger));
      } else {
        log(LogLevel::info, "promotion created", {{"sha", start->sha.str()}, {"promotion_id", id.value()}});
        metrics_.promotion_started();
      }
      if (starter_ && id != PromotionId{}) starter_(id, start->sha);
    } else if (const auto* smoke = std::get_if<core::RunSmokeChecks>(&effect)) {
      if (smoke_checks_) smoke_checks_(smoke->sha);
    } else if (const auto* abort = std::get_if<core::AbortPromotion>(&effect)) {
      if (abort_) abort_(*abort);
    } else if (const auto* freeze = std::get_if<core::ArmFreezeTimer>(&effect)) {
      arm_freeze(freeze->at);
    } else if (const auto* note = std::get_if<core::Notify>(&effect)) {
      nlohmann::json fields = {{"event", note->kind}, {"sha", note->sha ? note->sha->str() : ""}};
      // Core's Notify names the release; the promotion it concerns is on the release the decision changed.
      for (const auto& r : applied.decision.changed)
        if (r.sha == note->sha && r.promotion_id) fields["promotion_id"] = r.promotion_id->value();
      log(LogLevel::info, note->text, fields);
      if (notify_) notify_(*note);
    }
  }
  for (const auto& note : applied.decision.audit)
    log(LogLevel::info, note.action,
        {{"actor", note.actor}, {"sha", note.sha ? note.sha->str() : ""}, {"detail", note.detail}});
}

void ReleaseService::arm(const core::Sha& sha, core::Timestamp deadline) {
  if (stopped_) return;
  auto& slot = timers_[sha.str()];
  if (slot) slot->cancel();
  slot = std::make_unique<asio::steady_timer>(io_);
  // A millisecond past the deadline, so the clock core reads is past it too.
  const auto wait = std::max(core::Duration::zero(), deadline - clock_.now()) + std::chrono::milliseconds(1);
  slot->expires_after(wait);
  asio::steady_timer* timer = slot.get();
  asio::co_spawn(
      io_,
      [this, sha, timer]() -> asio::awaitable<void> {
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;  // cancelled: re-armed or stopping
        if (auto it = timers_.find(sha.str()); it != timers_.end() && it->second.get() == timer) timers_.erase(it);
        core::Event deadline = core::SoakDeadlineReached{sha};
        auto r = co_await submit(std::move(deadline));
        if (!r) {
          log(LogLevel::error, "soak deadline could not be recorded; retrying in 5s",
              {{"sha", sha.str()}, {"error", r.error().message}});
          arm(sha, clock_.now() + std::chrono::seconds(5));
        }
      },
      asio::detached);
}

void ReleaseService::arm_freeze(core::Timestamp at) {
  if (stopped_ || (freeze_timer_ && freeze_at_ == at)) return;
  if (freeze_timer_) freeze_timer_->cancel();
  freeze_timer_ = std::make_unique<asio::steady_timer>(io_);
  freeze_at_ = at;
  // As with the soak: a millisecond past the boundary, so the clock core reads is past it too.
  freeze_timer_->expires_after(std::max(core::Duration::zero(), at - clock_.now()) + std::chrono::milliseconds(1));
  asio::steady_timer* timer = freeze_timer_.get();
  asio::co_spawn(
      io_,
      [this, timer, at]() -> asio::awaitable<void> {
        boost::system::error_code ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;  // cancelled: re-armed or stopping
        if (freeze_timer_.get() == timer) freeze_timer_.reset();
        core::Event boundary = core::FreezeBoundaryReached{};
        auto r = co_await submit(std::move(boundary));
        if (!r) {
          log(LogLevel::error, "freeze boundary could not be recorded; retrying in 5s",
              {{"at", core::format_timestamp(at)}, {"error", r.error().message}});
          arm_freeze(clock_.now() + std::chrono::seconds(5));
        }
      },
      asio::detached);
}

void ReleaseService::stop() {
  stopped_ = true;
  for (auto& [sha, timer] : timers_) timer->cancel();
  if (freeze_timer_) freeze_timer_->cancel();
}

}  // namespace promoter::daemon
