#pragma once
// Owns the World. Every event goes through one strand: decide (core) -> commit (store) -> apply -> effects,
// so an event is durable before anyone is told it happened, and events never interleave.
//
// Group commit: events that arrive while the strand is busy queue up, and the strand then decides them in
// order and commits all their facts in one transaction. Each answer goes out only after that commit. When
// the transaction fails for a reason of one event's own (a conflict), the World is put back and each event is
// decided and committed alone, so one bad event cannot fail the others.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "core/decide.hpp"
#include "core/promotion_plan.hpp"
#include "ports/blocking.hpp"
#include "ports/clock.hpp"
#include "daemon/metrics.hpp"
#include "ports/ledger.hpp"
#include "daemon/uses_ports.hpp"

namespace promoter::daemon {

class ReleaseService {
 public:
  using PromotionStarter = std::function<void(PromotionId, const core::Sha&)>;

  ReleaseService(boost::asio::io_context& io, boost::asio::thread_pool& pool, Ledger& ledger, const Clock& clock,
                 Metrics& metrics, std::string environment);

  // Called for every promotion a decision creates (on the io thread).
  void on_promotion_start(PromotionStarter starter) { starter_ = std::move(starter); }
  // Called when every service of a release went live on staging (on the io thread): smoke probes run now.
  void on_smoke_checks(std::function<void(const core::Sha&)> f) { smoke_checks_ = std::move(f); }
  // Called when a decision asks a running promotion to stop (a rollback waits for it), on the io thread.
  void on_abort(std::function<void(const core::AbortPromotion&)> f) { abort_ = std::move(f); }
  // Called for every Notify effect, after it is logged (on the io thread). Must return at once.
  void on_notify(std::function<void(const core::Notify&)> f) { notify_ = std::move(f); }

  // Loads the World, re-arms soak timers and starts whatever became due while the daemon was down.
  boost::asio::awaitable<core::Result<void>> start(const core::Policy&);

  // Decides, commits, applies and performs the effects of one event. Returns the release afterwards.
  boost::asio::awaitable<core::Result<std::optional<core::Release>>> submit(core::Event);

  // Runs `f(world)` on the state strand, so it sees a World no event is halfway through changing.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&, const core::World&>> read(F f) {
    using R = std::invoke_result_t<F&, const core::World&>;
    const core::World* world = &world_;
    auto work = call_on<R>([world, f = std::move(f)]() mutable { return f(*world); });
    co_return co_await boost::asio::co_spawn(strand_, std::move(work), boost::asio::use_awaitable);
  }

  const core::PromotionPlan& plan() const { return plan_; }
  // Releases per state, history included (strand only: read it through read()).
  const std::map<std::string, int>& state_counts() const { return state_counts_; }
  // Whether start() has loaded the World: until then the daemon is not ready (any thread).
  bool loaded() const { return loaded_.load(); }
  const Clock& clock() const { return clock_; }

  // Cancels soak timers so the io_context can stop.
  void stop();

 private:
  struct Applied {
    core::Decision decision;
    OpenedPromotions opened;
    std::optional<core::Release> release;
  };

  // An event waiting for the strand, and its answer once the strand has committed it.
  struct Pending {
    core::Event event;
    std::optional<core::Result<Applied>> result;
  };

  core::Result<Applied> load_on_strand(const core::Policy&);
  // Takes every queued event and decides and commits them as one batch.
  void drain_on_strand();
  void decide_batch(std::vector<std::shared_ptr<Pending>>&);
  core::Result<Applied> decide_on_strand(const core::Event&);
  // Brings a release that finished its course back into memory for an event that names it.
  core::Result<void> hydrate(const core::Sha&);
  core::Result<Applied> commit_on_strand(const core::Decision&, core::Timestamp now, const std::optional<core::Sha>&);
  void perform(const Applied&);
  // Memory holds active work: drops every terminal release but production from the World (strand only).
  // The World holds only active releases and production then, so the scan is short.
  void retire_finished();
  // Keeps state_counts_ in step with a decision about to be applied (strand only).
  void count_states(const core::Decision&);
  void arm(const core::Sha&, core::Timestamp deadline);
  // The one freeze timer (io thread only): re-armed only when the boundary moves.
  void arm_freeze(core::Timestamp at);
  void update_gauges();

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::thread_pool::executor_type> strand_;
  Ledger& ledger_;
  const Clock& clock_;
  Metrics& metrics_;
  std::string environment_;
  core::World world_;
  core::PromotionPlan plan_;
  std::map<std::string, int> state_counts_;  // strand only
  std::mutex queue_mutex_;
  std::deque<std::shared_ptr<Pending>> queue_;  // guarded by queue_mutex_
  PromotionStarter starter_;
  std::function<void(const core::Sha&)> smoke_checks_;
  std::function<void(const core::Notify&)> notify_;
  std::function<void(const core::AbortPromotion&)> abort_;
  std::atomic<bool> loaded_{false};
  std::map<std::string, std::unique_ptr<boost::asio::steady_timer>> timers_;  // io thread only
  std::unique_ptr<boost::asio::steady_timer> freeze_timer_;                   // io thread only
  core::Timestamp freeze_at_{};
  bool stopped_ = false;
};

}  // namespace promoter::daemon
