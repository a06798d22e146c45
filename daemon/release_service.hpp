#pragma once
// Owns the World. Every event goes through one strand: decide (core) -> commit (store) -> apply -> effects,
// so an event is durable before anyone is told it happened, and events never interleave.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <functional>
#include <map>
#include <memory>

#include "core/decide.hpp"
#include "core/promotion_plan.hpp"
#include "daemon/blocking.hpp"
#include "daemon/clock.hpp"
#include "daemon/metrics.hpp"
#include "daemon/ledger.hpp"

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

  core::Result<Applied> load_on_strand(const core::Policy&);
  core::Result<Applied> decide_on_strand(const core::Event&);
  core::Result<Applied> commit_on_strand(const core::Decision&, core::Timestamp now, const std::optional<core::Sha>&);
  void perform(const Applied&);
  // Memory holds active work: drops every terminal release but production from the World (strand only).
  // The World holds only active releases and production then, so the scan is short.
  void retire_finished();
  void arm(const core::Sha&, core::Timestamp deadline);
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
  PromotionStarter starter_;
  std::function<void(const core::Sha&)> smoke_checks_;
  std::function<void(const core::Notify&)> notify_;
  std::atomic<bool> loaded_{false};
  std::map<std::string, std::unique_ptr<boost::asio::steady_timer>> timers_;  // io thread only
  bool stopped_ = false;
};

}  // namespace promoter::daemon
