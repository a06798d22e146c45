#pragma once
// The daemon's Store on PostgreSQL (libpqxx 6.4). Every call blocks; libpqxx exceptions stop here.
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "adapters/pg_pool.hpp"
#include "ports/console_sessions.hpp"
#include "ports/event_log.hpp"
#include "ports/store.hpp"

namespace promoter::adapters {

class PgStore final : public ports::Store, public ports::ConsoleSessions, public ports::EventLog {
 public:
  explicit PgStore(std::string database_url, std::size_t max_connections = 8);
  ~PgStore() override;

  // Fencing (sql/005_leadership.sql). Once enabled, every state-changing write (commit, journal, audit,
  // abort requests, obligations) reads the environment's leadership row FOR SHARE in its own transaction
  // and is refused with ErrorCode::not_leader unless the row's epoch is this store's epoch. Epoch 0 (a
  // standby, or a leader that found itself deposed) refuses every write without asking the database.
  // A write that finds its epoch stale drops the epoch to 0 at once, counts it, and calls `on_stale`
  // (on the calling thread), so nothing after it is written either. Reads are never fenced.
  void enable_fencing(std::string environment, std::function<void()> on_stale = {});
  void set_epoch(std::int64_t epoch) { epoch_.store(epoch); }
  std::int64_t epoch() const { return epoch_.load(); }
  // Writes refused because their epoch was stale (not those refused locally at epoch 0).
  std::uint64_t stale_epoch_refusals() const { return stale_refusals_.load(); }

  struct LeaseSlot;  // see lease_environment

  core::Result<void> migrate() override;
  core::Result<void> ping() override;
  core::Result<core::World> load(const core::Policy&, const std::string& environment) override;
  core::Result<ports::OpenedPromotions> commit(const core::Decision&, const core::PromotionPlan&,
                                               const std::string& environment, core::Timestamp now) override;
  core::Result<void> append_audit(const core::AuditNote&, core::Timestamp now) override;
  core::Result<std::optional<core::Release>> release(const core::Sha&) override;
  core::Result<std::vector<core::Release>> releases(std::optional<core::ReleaseState>,
                                                    std::optional<std::int64_t> before_seq, int limit) override;
  core::Result<std::vector<core::Release>> releases_with_sha_prefix(const std::string& prefix, int limit) override;
  core::Result<std::map<std::string, int>> release_counts() override;
  core::Result<std::vector<ports::AuditEntry>> audit(const std::optional<std::string>& sha, int limit,
                                                     std::optional<std::int64_t> before_id) override;
  core::Result<std::optional<ports::PromotionRecord>> promotion(ports::PromotionId) override;
  core::Result<std::vector<ports::PromotionRecord>> promotions(int limit,
                                                               std::optional<std::int64_t> before_id) override;
  core::Result<std::vector<ports::PromotionId>> running_promotions(const std::string& environment) override;
  core::Result<std::optional<ports::ProductionRecord>> production(const std::string& environment) override;
  core::Result<std::optional<core::LineStop>> line_stop(const std::string& environment) override;
  core::Result<std::optional<core::Pin>> pin(const std::string& environment) override;
  core::Result<ports::ProductionHistory> production_history(const std::string& environment) override;
  core::Result<void> journal_step(ports::PromotionId, int index, core::StepState to, const std::string& detail,
                                  core::Timestamp at) override;
  core::Result<void> journal_progress(ports::PromotionId, int index, const std::string& progress) override;
  core::Result<std::unique_ptr<ports::EnvironmentLease>> lease_environment(const std::string& environment) override;
  core::Result<ports::PromotionRecord> request_abort(ports::PromotionId, const std::string& by,
                                                     const std::string& reason, core::Timestamp now) override;
  core::Result<std::vector<core::Obligation>> obligations(bool open_only) override;
  core::Result<core::Obligation> close_obligation(std::int64_t id, const std::string& by, const std::string& link,
                                                  core::Timestamp now) override;

  // ConsoleSessions (adapters/pg_console_sessions.cpp)
  core::Result<void> create_session(const std::string& id_digest, const ports::ConsoleSession&,
                                    ports::SessionLifetime) override;
  core::Result<std::optional<ports::ConsoleSession>> use_session(const std::string& id_digest, core::Timestamp now,
                                                                 ports::SessionLifetime) override;
  core::Result<void> revoke_session(const std::string& id_digest, core::Timestamp now,
                                    const std::string& reason) override;
  core::Result<std::size_t> revoke_sessions_without(const std::vector<std::string>& token_digests, core::Timestamp now,
                                                    const std::string& reason) override;

  // EventLog (adapters/pg_event_log.cpp)
  core::Result<std::vector<ports::ChangeEvent>> events_after(std::int64_t after, std::optional<std::int64_t> up_to,
                                                             int limit) override;
  core::Result<std::pair<std::int64_t, std::int64_t>> event_id_range() override;
  core::Result<std::size_t> prune_events(core::Timestamp before) override;

  // ConfigHistory (adapters/pg_config_history.cpp)
  core::Result<ports::ConfigState> config_state() override;
  core::Result<std::vector<core::VariableChange>> staging_changes(const std::string& service,
                                                                  core::Timestamp since) override;
  core::Result<void> record_variables(const core::VariableSnapshot&, const std::vector<ports::JudgedVariableChange>&,
                                      const std::vector<core::AuditNote>&, core::Timestamp now) override;
  core::Result<void> record_flags(const core::FlagSnapshot&, const std::vector<ports::JudgedFlagChange>&,
                                  const std::vector<core::AuditNote>&, core::Timestamp now) override;
  core::Result<std::vector<ports::VariableChangeRecord>> variable_changes(const std::optional<std::string>& service,
                                                                          int limit) override;
  core::Result<std::vector<ports::FlagChangeRecord>> flag_changes(int limit) override;
  core::Result<std::vector<core::ConfigViolation>> config_violations(std::optional<core::ViolationKind> kind,
                                                                     const std::optional<std::string>& service,
                                                                     int limit) override;
  core::Result<std::int64_t> config_violation_count() override;

 private:
  template <class F>
  auto with_connection(std::string_view what, F&& f) -> decltype(f(std::declval<pqxx::connection&>()));
  // Throws NotLeader (see pg_store.cpp) unless this store may write; call first in a write transaction.
  // The epoch written under (nullopt when fencing is off).
  std::optional<std::int64_t> fence(pqxx::transaction_base&);

  PgPool pool_;
  std::string fenced_environment_;  // empty: fencing off (tests of the store alone)
  std::function<void()> on_stale_;
  std::atomic<std::int64_t> epoch_{0};
  std::atomic<std::uint64_t> stale_refusals_{0};
  // One connection holds the environment's promotion lock, reused from promotion to promotion. Shared
  // with the lease objects, which may outlive the store in a stopping daemon's coroutine frames.
  std::shared_ptr<LeaseSlot> lease_slot_;
};

}  // namespace promoter::adapters
