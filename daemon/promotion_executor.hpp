#pragma once
// Runs a promotion's plan step by step, journalling each step before and after its side effect, so a
// promotion interrupted anywhere resumes without repeating a done step or skipping one.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <string>

#include "core/event.hpp"
#include "core/promotion_outcome.hpp"
#include "core/promotion_rules.hpp"
#include "ports/clock.hpp"
#include "daemon/metrics.hpp"
#include "ports/step_performer.hpp"
#include "ports/promotion_journal.hpp"
#include "daemon/uses_ports.hpp"

namespace promoter::daemon {

struct StepPerformers {
  StepPerformer* migrate = nullptr;
  std::map<std::string, StepPerformer*> deploy;  // by service
  StepPerformer* verify = nullptr;
  StepPerformer* tag = nullptr;  // the production tag (when the plan has a tag step)
};

// What the executor asks of the release state (the ReleaseService in the daemon, a stand-in in tests).
struct ExecutorHooks {
  // Re-checks that the release may still go to production; a detail line, or why not.
  std::function<boost::asio::awaitable<core::Result<std::string>>(const core::Sha&, PromotionId)> preflight;
  // Records the end of the promotion (release promoted, failed or aborted; production pointer) durably.
  std::function<boost::asio::awaitable<core::Result<void>>(core::PromotionFinished)> finish;
};

class PromotionExecutor {
 public:
  PromotionExecutor(boost::asio::any_io_executor blocking, PromotionJournal& store, const Clock& clock,
                    StepPerformers performers, ExecutorHooks hooks, std::string environment,
                    Metrics* metrics = nullptr);

  // Runs or resumes promotion `id` until it ends. An error means the executor had to stop early (the
  // database went away, another executor holds the environment): the promotion stays `running`, and a
  // later run() resumes it from its journal.
  boost::asio::awaitable<core::Result<PromotionState>> run(PromotionId id);

 private:
  boost::asio::awaitable<core::Result<std::string>> perform(const StepContext&);
  boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const StepContext&);
  StepPerformer* performer_for(const core::PlanStep&) const;
  // Counts the promotion's end in the metrics, with its duration since creation.
  void finished(const PromotionRecord&, PromotionState outcome);
  // Ends the promotion as core decided, logging an operator's abort.
  boost::asio::awaitable<core::Result<void>> finish(const PromotionRecord&, const core::Sha&,
                                                    const core::FinishPromotion&);
  // Does what core settled a step with: journals it (logging why), or stops this run with the error.
  boost::asio::awaitable<core::Result<void>> settle(const PromotionRecord&, const StepRecord&,
                                                    const core::StepSettlement&);
  boost::asio::awaitable<core::Result<void>> journal(PromotionId, int index, core::StepState, std::string detail);

  boost::asio::any_io_executor blocking_;
  PromotionJournal& store_;
  const Clock& clock_;
  StepPerformers performers_;
  ExecutorHooks hooks_;
  std::string environment_;
  Metrics* metrics_;
};

}  // namespace promoter::daemon
