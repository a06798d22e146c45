#pragma once
// The side effect of one promotion step (migrate, deploy a service, verify), as the executor sees it.
// Adapters implement it: simulated now; Railway, Fly and the migration runner later.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>

#include "core/promotion_id.hpp"
#include "core/promotion_plan.hpp"
#include "core/sha.hpp"

namespace promoter::ports {

struct StepContext {
  core::PromotionId promotion_id;
  core::Sha sha;
  core::PlanStep step;
  std::string idempotency_key;                // carried into the world so find_done can recognise the effect
  std::optional<core::Timestamp> started_at;  // when the step was (last) marked started
  std::string progress;                       // what note() recorded before a crash, for find_done
  // Records progress durably before the side effect waits (e.g. the id of the deployment it started).
  std::function<boost::asio::awaitable<core::Result<void>>(std::string)> note;
  // Who asked to abort the promotion, if anyone has. A step made of several parts that can stop safely
  // between them (a rollout, machine by machine) asks before each part, and stops with
  // ErrorCode::aborted; a step that cannot stop part-way (a migration) never asks. May be empty.
  std::function<boost::asio::awaitable<std::optional<std::string>>()> aborted_by;
};

class StepPerformer {
 public:
  virtual ~StepPerformer() = default;
  // Does the step's side effect and waits for it to take; the result is a detail line for the journal.
  // ErrorCode::unavailable means "cannot tell now" (the step stays started and is reconciled on the next
  // run); ErrorCode::aborted means it stopped part-way for an operator's abort (see aborted_by); any
  // other error fails the step and stops the promotion.
  virtual boost::asio::awaitable<core::Result<std::string>> perform(const StepContext&) = 0;
  // After a crash left the step `started`: asks the world whether the effect already happened.
  // A value means it did (with a detail line); nullopt means it did not and perform() may run.
  // ErrorCode::failed_precondition means it happened and failed: the step fails. Other errors: cannot tell
  // now; the executor stops and retries later.
  virtual boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const StepContext&) = 0;
};

}  // namespace promoter::ports
