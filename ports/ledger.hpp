#pragma once
// The ledger: the releases at work and the facts decisions record about them. ReleaseService loads the
// active World from it and commits each decision's facts to it, fenced by the leadership epoch. Calls
// block: make them from the blocking pool, never the I/O thread.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/decide.hpp"
#include "core/promotion_plan.hpp"
#include "ports/promotion_journal.hpp"

namespace promoter::ports {

// The promotions a commit opened, by the SHA of the release each promotes.
using OpenedPromotions = std::map<std::string, PromotionId>;

// Gives each release a commit opened a promotion for the id the store numbered it with.
inline void number_opened_promotions(std::vector<core::Release>& releases, const OpenedPromotions& opened) {
  for (auto& r : releases)
    if (auto it = opened.find(r.sha.str()); it != opened.end()) r.promotion_id = it->second;
}

// Gives a rollback a commit started its promotion id (the store returns it under the target's SHA).
inline void number_opened_rollback(std::optional<core::Rollback>& rollback, const OpenedPromotions& opened) {
  if (!rollback || rollback->promotion_id) return;
  if (auto it = opened.find(rollback->target.str()); it != opened.end()) rollback->promotion_id = it->second;
}

class Ledger {
 public:
  virtual ~Ledger() = default;

  // The World to decide on: the releases still at work (not terminal) and the environment's production
  // release, with their facts. What it costs grows with active work, not with history.
  virtual Result<core::World> load(const core::Policy&, const std::string& environment) = 0;
  // One release with its facts, whatever its state (history included); nullopt when unknown.
  virtual Result<std::optional<core::Release>> release(const core::Sha&) = 0;
  // How many releases are in each state (states with none are left out): read once at load, then kept in
  // step by the service.
  virtual Result<std::map<std::string, int>> release_counts() = 0;

  // One transaction: the decision's facts, in order, and its audit notes. Each PromotionOpened fact creates
  // a promotion with the plan's steps; its id comes back under the release's SHA.
  virtual Result<OpenedPromotions> commit(const core::Decision&, const core::PromotionPlan&,
                                          const std::string& environment, core::Timestamp now) = 0;

  virtual Result<void> append_audit(const core::AuditNote&, core::Timestamp now) = 0;

  // Closes an open obligation with a link to its evidence, auditing who closed it. not_found for an
  // unknown id; failed_precondition when it is closed already (naming who closed it).
  virtual Result<core::Obligation> close_obligation(std::int64_t id, const std::string& by, const std::string& link,
                                                    core::Timestamp now) = 0;
};

}  // namespace promoter::ports
