#include "daemon/promotion_journal.hpp"

namespace promoter::daemon {

std::string_view to_string(PromotionState s) {
  switch (s) {
    case PromotionState::running: return "running";
    case PromotionState::succeeded: return "succeeded";
    case PromotionState::failed: return "failed";
    case PromotionState::aborted: return "aborted";
  }
  return "running";
}

}  // namespace promoter::daemon
