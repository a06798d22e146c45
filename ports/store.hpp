#pragma once
// Durable storage as the daemon wires it: the ledger, the promotion journal and the history queries, kept in
// one PostgreSQL database. PgStore (adapters/) implements it. Each user takes only the part it needs:
// ReleaseService the ledger, PromotionExecutor the journal, ObligationWatch the queries, ConfigWatch the config
// history; the API all of them.
#include "ports/config_history.hpp"
#include "ports/history_queries.hpp"
#include "ports/ledger.hpp"
#include "ports/promotion_journal.hpp"

namespace promoter::ports {

class Store : public Ledger, public PromotionJournal, public HistoryQueries, public ConfigHistory {
 public:
  // Applies sql/ migrations not yet applied; safe to run from several processes at once.
  virtual Result<void> migrate() = 0;
  virtual Result<void> ping() = 0;
};

}  // namespace promoter::ports
