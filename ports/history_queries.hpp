#pragma once
// Reads of history for the API and promotectl: releases, promotions and audit newest first with keyset
// paging, production, obligations. A standby answers every read from these. Calls block: make them from
// the blocking pool, never the I/O thread.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/freeze.hpp"
#include "core/rollback.hpp"
#include "core/obligation.hpp"
#include "core/release.hpp"
#include "ports/promotion_journal.hpp"

namespace promoter::ports {

struct AuditEntry {
  std::int64_t id = 0;
  core::Timestamp at{};
  std::string actor;
  std::string action;
  std::optional<std::string> sha;
  std::string detail;
  std::optional<std::int64_t> epoch{};  // the leadership epoch it was written under
};

struct ProductionRecord {
  std::string sha;
  std::optional<PromotionId> promotion_id;
  core::Timestamp promoted_at{};
};

// What a rollback request is decided on: the environment's production history, newest first (a running
// promotion first, with what it has run so far), and the schema as the last migrate step left it.
struct ProductionHistory {
  std::vector<core::ProductionEntry> entries;
  std::string schema_state;
};

class HistoryQueries {
 public:
  virtual ~HistoryQueries() = default;

  // Releases newest first (keyset paging: only those first seen before `before_seq`), optionally in one state.
  virtual Result<std::vector<core::Release>> releases(std::optional<core::ReleaseState>,
                                                      std::optional<std::int64_t> before_seq, int limit) = 0;
  // Releases whose SHA starts with `prefix` (lower-case hex, see core::Sha::parse_prefix), newest first, at
  // most `limit`: how promotectl turns an abbreviated SHA into the full one.
  virtual Result<std::vector<core::Release>> releases_with_sha_prefix(const std::string& prefix, int limit) = 0;
  // Newest first; keyset paging: only entries with an id below `before_id`.
  virtual Result<std::vector<AuditEntry>> audit(const std::optional<std::string>& sha, int limit,
                                                std::optional<std::int64_t> before_id) = 0;
  // Newest first, without steps; keyset paging: only promotions with an id below `before_id`.
  virtual Result<std::vector<PromotionRecord>> promotions(int limit, std::optional<std::int64_t> before_id) = 0;
  virtual Result<std::optional<ProductionRecord>> production(const std::string& environment) = 0;
  // The environment's line stop as last set (it may have passed its `until`); nullopt when none or lifted.
  virtual Result<std::optional<core::LineStop>> line_stop(const std::string& environment) = 0;
  virtual Result<std::optional<core::Pin>> pin(const std::string& environment) = 0;
  virtual Result<ProductionHistory> production_history(const std::string& environment) = 0;
  // Hotfix obligations, oldest due first; only the open ones when `open_only`.
  virtual Result<std::vector<core::Obligation>> obligations(bool open_only) = 0;
};

}  // namespace promoter::ports
