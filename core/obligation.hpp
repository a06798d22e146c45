#pragma once
// What a hotfix leaves to do afterwards: a backfilled review and an incident report, each with a due time,
// open until an operator closes it with a link to the evidence.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.hpp"
#include "core/sha.hpp"
#include "core/time.hpp"

namespace promoter::core {

enum class ObligationKind { review_backfill, incident_report };

std::string_view to_string(ObligationKind);
std::optional<ObligationKind> parse_obligation_kind(std::string_view);

struct Obligation {
  std::int64_t id = 0;  // assigned by the store
  ObligationKind kind = ObligationKind::review_backfill;
  Sha sha;
  std::string opened_by;
  Timestamp opened_at{};
  Timestamp due_at{};
  std::optional<Timestamp> closed_at{};
  std::string closed_by{};
  std::string link{};  // the review or the incident report

  bool open() const { return !closed_at; }
  bool overdue(Timestamp now) const { return open() && now > due_at; }
};

// The obligations a hotfix of `sha` requested by `by` at `at` opens: the review backfill is due
// `review_backfill_business_days` business days later, the incident report `incident_report_within` later.
std::vector<Obligation> hotfix_obligations(const Sha& sha, const std::string& by, Timestamp at, const HotfixPolicy&);

}  // namespace promoter::core
