#pragma once
// The daemon's Store on PostgreSQL (libpqxx 6.4). Every call blocks; libpqxx exceptions stop here.
#include <memory>
#include <string>

#include "adapters/pg_pool.hpp"
#include "daemon/store.hpp"

namespace promoter::adapters {

class PgStore final : public daemon::Store {
 public:
  explicit PgStore(std::string database_url, std::size_t max_connections = 8);

  core::Result<void> migrate() override;
  core::Result<void> ping() override;
  core::Result<core::World> load(const core::Policy&, const std::string& environment) override;
  core::Result<std::vector<daemon::PromotionId>> commit(const core::World& before, const core::Decision&,
                                                        const core::PromotionPlan&, const std::string& environment,
                                                        core::Timestamp now) override;
  core::Result<void> append_audit(const core::AuditNote&, core::Timestamp now) override;
  core::Result<std::vector<daemon::AuditEntry>> audit(const std::optional<std::string>& sha, int limit) override;
  core::Result<std::optional<daemon::PromotionRecord>> promotion(daemon::PromotionId) override;
  core::Result<std::vector<daemon::PromotionRecord>> promotions(int limit) override;
  core::Result<std::vector<daemon::PromotionId>> running_promotions(const std::string& environment) override;
  core::Result<std::optional<daemon::ProductionRecord>> production(const std::string& environment) override;
  core::Result<void> journal_step(daemon::PromotionId, int index, core::StepState to, const std::string& detail,
                                  core::Timestamp at) override;
  core::Result<void> journal_progress(daemon::PromotionId, int index, const std::string& progress) override;
  core::Result<std::unique_ptr<daemon::EnvironmentLease>> lease_environment(const std::string& environment) override;
  core::Result<daemon::PromotionRecord> request_abort(daemon::PromotionId, const std::string& by,
                                                      const std::string& reason, core::Timestamp now) override;
  core::Result<std::vector<core::Obligation>> obligations(bool open_only) override;
  core::Result<core::Obligation> close_obligation(std::int64_t id, const std::string& by, const std::string& link,
                                                  core::Timestamp now) override;

 private:
  template <class F>
  auto with_connection(std::string_view what, F&& f) -> decltype(f(std::declval<pqxx::connection&>()));

  PgPool pool_;
};

}  // namespace promoter::adapters
