#include "core/obligation.hpp"

#include "core/business_days.hpp"

namespace promoter::core {

std::string_view to_string(ObligationKind kind) {
  switch (kind) {
    case ObligationKind::review_backfill:
      return "review_backfill";
    case ObligationKind::incident_report:
      return "incident_report";
  }
  return "unknown";
}

std::optional<ObligationKind> parse_obligation_kind(std::string_view text) {
  if (text == "review_backfill") return ObligationKind::review_backfill;
  if (text == "incident_report") return ObligationKind::incident_report;
  return std::nullopt;
}

std::vector<Obligation> hotfix_obligations(const Sha& sha, const std::string& by, Timestamp at,
                                           const HotfixPolicy& policy) {
  Obligation review{.kind = ObligationKind::review_backfill,
                    .sha = sha,
                    .opened_by = by,
                    .opened_at = at,
                    .due_at = add_business_days(at, policy.review_backfill_business_days, policy.holidays)};
  Obligation incident{.kind = ObligationKind::incident_report,
                      .sha = sha,
                      .opened_by = by,
                      .opened_at = at,
                      .due_at = at + policy.incident_report_within};
  return {std::move(review), std::move(incident)};
}

}  // namespace promoter::core
