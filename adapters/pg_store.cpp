#include "adapters/pg_store.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <stdexcept>

#include "adapters/config_view_json.hpp"
#include "adapters/evidence_json.hpp"
#include "adapters/pg_store_internal.hpp"
#include "adapters/schema_migrations.hpp"

namespace promoter::adapters {

using core::ErrorCode;
using core::fail;
using core::Timestamp;
using namespace pg;

namespace {

// Any session of any promoterd serialises schema changes on this advisory lock.
constexpr long long migration_lock_key = 0x70726f6d6f7465LL;  // "promote"

int version_of(std::string_view file) {
  int v = 0;
  std::from_chars(file.data(), file.data() + file.size(), v);
  return v;
}

// Takes the environment's promotion lock on the store's one lease connection; gives it back on destruction.
// If the connection broke meanwhile, the session's end released the lock already: the connection is dropped.
class PgEnvironmentLease final : public ports::EnvironmentLease {
 public:
  PgEnvironmentLease(std::shared_ptr<PgStore::LeaseSlot> slot, std::string environment)
      : slot_(std::move(slot)), environment_(std::move(environment)) {}
  ~PgEnvironmentLease() override;

 private:
  std::shared_ptr<PgStore::LeaseSlot> slot_;
  std::string environment_;
};

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find(' ', start);
    if (end != start) out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::string obligation_columns() {
  return fmt::format("id, sha, kind, opened_by, {}, {}, {}, COALESCE(closed_by, ''), COALESCE(link, '')",
                     ms("opened_at"), ms("due_at"), ms("closed_at"));
}

core::Obligation obligation_from_row(const pqxx::row& row) {
  auto sha = core::Sha::parse(row[1].c_str());
  auto kind = core::parse_obligation_kind(row[2].c_str());
  if (!sha || !kind) throw std::runtime_error(fmt::format("obligations row {} is not valid", row[0].c_str()));
  core::Obligation o{.id = row[0].as<long long>(),
                     .kind = *kind,
                     .sha = *sha,
                     .opened_by = row[3].c_str(),
                     .opened_at = ms_to_ts(row[4]),
                     .due_at = ms_to_ts(row[5])};
  o.closed_at = opt_ms(row[6]);
  o.closed_by = row[7].c_str();
  o.link = row[8].c_str();
  return o;
}

}  // namespace

struct PgStore::LeaseSlot {
  std::mutex mutex;
  std::unique_ptr<pqxx::connection> connection;
  bool held = false;  // by this process: advisory locks are re-entrant within a session
};

PgEnvironmentLease::~PgEnvironmentLease() {
  std::lock_guard lock(slot_->mutex);
  slot_->held = false;
  try {
    if (slot_->connection && slot_->connection->is_open()) {
      pqxx::nontransaction n(*slot_->connection);
      n.exec_params("SELECT pg_advisory_unlock(hashtext('promoter-environment:' || $1))", environment_);
      return;
    }
  } catch (const std::exception&) {
  }
  slot_->connection.reset();
}

PgStore::PgStore(std::string database_url, std::size_t max_connections)
    : pool_(std::move(database_url), max_connections), lease_slot_(std::make_shared<LeaseSlot>()) {}

PgStore::~PgStore() = default;

void PgStore::enable_fencing(std::string environment, std::function<void()> on_stale) {
  fenced_environment_ = std::move(environment);
  on_stale_ = std::move(on_stale);
}

std::optional<std::int64_t> PgStore::fence(pqxx::transaction_base& t) {
  if (fenced_environment_.empty()) return std::nullopt;
  const std::int64_t mine = epoch_.load();
  if (mine == 0) throw NotLeader("this instance is not the leader");
  // FOR SHARE: a takeover's UPDATE of this row waits until this transaction ends, so every write the
  // database accepts under epoch N is ordered before the leader of epoch N+1 loads its state.
  const auto row = t.exec_params("SELECT epoch FROM leadership WHERE environment = $1 FOR SHARE", fenced_environment_);
  const std::int64_t current = row.empty() ? 0 : row[0][0].as<long long>();
  if (current == mine) return mine;
  // Deposed: stop writing before anything else happens, then tell the daemon.
  std::int64_t expected = mine;
  epoch_.compare_exchange_strong(expected, 0);
  ++stale_refusals_;
  if (on_stale_) on_stale_();
  throw NotLeader(fmt::format("this instance's leadership (epoch {}) was taken over (epoch {})", mine, current));
}

core::Result<void> PgStore::migrate() {
  return with_connection("applying schema migrations", [&](pqxx::connection& c) -> core::Result<void> {
    for (const auto& m : schema_migrations()) {
      const int version = version_of(m.file);
      if (version <= 0)
        return fail(ErrorCode::internal, fmt::format("sql/{}: file name must start with a version number", m.file));
      pqxx::work w(c);
      w.exec_params("SELECT pg_advisory_xact_lock($1)", migration_lock_key);
      w.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
          "applied_at timestamptz NOT NULL DEFAULT now())");
      if (!w.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", version).empty()) continue;
      w.exec(std::string(m.sql));
      w.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, std::string(m.file));
      w.commit();
    }
    return {};
  });
}

core::Result<void> PgStore::ping() {
  return with_connection("checking the database", [](pqxx::connection& c) -> core::Result<void> {
    pqxx::nontransaction n(c);
    n.exec("SELECT 1");
    return {};
  });
}

namespace {

// A promotion's state as the promotions table stores it, from the one table of PromotionState's names.
std::string running_state() { return std::string(ports::to_string(ports::PromotionState::running)); }

// The terminal states, as SQL: the same list as releases_active_idx's predicate, so the planner uses it.
constexpr const char* terminal_states =
    "('promoted', 'promotion_failed', 'promotion_aborted', 'rejected', 'superseded')";

std::string release_columns() {
  return fmt::format("sha, seq, author, {}, {}, {}, soak_resets, state, state_reason, promotion_id, ancestors, {}",
                     ms("first_seen_at"), ms("live_at"), ms("soak_started_at"), ms("awaiting_approval_since"));
}

// The releases of `rows` (release_columns(), in that order) with every fact recorded for them.
core::Result<std::vector<core::Release>> with_facts(pqxx::transaction_base& t, const pqxx::result& rows) {
  std::vector<core::Release> out;
  std::map<std::string, std::size_t> index;
  std::string shas = "{";
  for (const auto& row : rows) {
    auto sha = core::Sha::parse(row[0].c_str());
    auto state = core::parse_release_state(row[7].c_str());
    if (!sha || !state) return fail(ErrorCode::internal, fmt::format("releases row {} is not valid", row[0].c_str()));
    core::Release r(*sha);
    r.seq = row[1].as<long long>();
    r.author = row[2].c_str();
    r.first_seen_at = ms_to_ts(row[3]);
    r.live_at = opt_ms(row[4]);
    r.soak_started_at = opt_ms(row[5]);
    r.soak_resets = row[6].as<int>();
    r.state = *state;
    r.state_reason = row[8].c_str();
    if (!row[9].is_null()) r.promotion_id = core::PromotionId{row[9].as<long long>()};
    r.ancestors = split_words(row[10].c_str());
    r.awaiting_approval_since = opt_ms(row[11]);
    index.emplace(sha->str(), out.size());
    shas += (out.empty() ? "" : ",") + sha->str();  // hex: nothing to quote in an array literal
    out.push_back(std::move(r));
  }
  shas += "}";
  if (out.empty()) return out;
  auto of = [&](const pqxx::field& sha) -> core::Release& { return out[index.at(sha.c_str())]; };
  for (const auto& row :
       t.exec_params(fmt::format("SELECT sha, service, deployment_id, status, {}, {} FROM staging_deployments "
                                 "WHERE sha = ANY($1::text[])",
                                 ms("created_at"), ms("updated_at")),
                     shas)) {
    of(row[0]).deployments[row[1].c_str()] = core::StagingDeployment{
        row[1].c_str(), row[2].c_str(), core::parse_deploy_status(row[3].c_str()), ms_to_ts(row[5]), opt_ms(row[4])};
  }
  for (const auto& row : t.exec_params(
           fmt::format(
               "SELECT sha, suite, passed, reported_by, {}, details FROM smoke_results WHERE sha = ANY($1::text[])",
               ms("reported_at")),
           shas)) {
    of(row[0]).smoke[row[1].c_str()] =
        core::SmokeResult{row[1].c_str(), row[2].as<bool>(), row[3].c_str(), ms_to_ts(row[4]), row[5].c_str()};
  }
  for (const auto& row : t.exec_params(
           fmt::format("SELECT sha, approved_by, {}, reason, gate_facts FROM approvals WHERE sha = ANY($1::text[]) "
                       "ORDER BY approved_at, approved_by",
                       ms("approved_at")),
           shas)) {
    of(row[0]).approvals.push_back(core::Verdict{row[1].c_str(), ms_to_ts(row[2]), row[3].c_str(), row[4].c_str()});
  }
  for (const auto& row : t.exec_params(
           fmt::format("SELECT sha, rejected_by, {}, reason, gate_facts FROM rejections WHERE sha = ANY($1::text[])",
                       ms("rejected_at")),
           shas)) {
    of(row[0]).rejection = core::Verdict{row[1].c_str(), ms_to_ts(row[2]), row[3].c_str(), row[4].c_str()};
  }
  for (const auto& row : t.exec_params(
           fmt::format("SELECT sha, requested_by, {}, reason, incident_url, overrides_freeze FROM hotfixes WHERE sha = "
                       "ANY($1::text[])",
                       ms("requested_at")),
           shas)) {
    of(row[0]).hotfix =
        core::Hotfix{row[1].c_str(), ms_to_ts(row[2]), row[3].c_str(), row[4].c_str(), row[5].as<bool>()};
  }
  for (const auto& row :
       t.exec_params("SELECT sha, evidence FROM release_evidence WHERE sha = ANY($1::text[])", shas)) {
    // A document this build cannot read is left out: the gates then wait for the reconciler's next reading,
    // which replaces it. Failing the whole load over it would stop every release.
    const auto doc = nlohmann::json::parse(row[1].c_str(), nullptr, false);
    if (auto evidence = evidence_from_json(doc); evidence) of(row[0]).evidence = std::move(*evidence);
  }
  for (const auto& row : t.exec_params("SELECT sha, view FROM release_config WHERE sha = ANY($1::text[])", shas)) {
    // As with evidence: an unreadable view is left out, and the watcher's next pass replaces it.
    const auto doc = nlohmann::json::parse(row[1].c_str(), nullptr, false);
    if (auto view = config_view_from_json(doc); view) of(row[0]).config = std::move(*view);
  }
  return out;
}

}  // namespace

namespace {

// The newest line_stops row of the environment, if it stops the line.
std::optional<core::LineStop> read_line_stop(pqxx::transaction_base& t, const std::string& environment) {
  const auto rows = t.exec_params(fmt::format("SELECT stopped, by_identity, {}, reason, {} FROM line_stops WHERE "
                                              "environment = $1 ORDER BY id DESC LIMIT 1",
                                              ms("at"), ms("until")),
                                  environment);
  if (rows.empty() || !rows[0][0].as<bool>()) return std::nullopt;
  const auto& row = rows[0];
  return core::LineStop{row[1].c_str(), ms_to_ts(row[2]), row[3].c_str(), opt_ms(row[4])};
}

}  // namespace

core::Result<core::World> PgStore::load(const core::Policy& policy, const std::string& environment) {
  return with_connection("loading releases", [&](pqxx::connection& c) -> core::Result<core::World> {
    pqxx::read_transaction t(c);
    core::World world;
    world.policy = policy;
    const auto rows = t.exec_params(
        fmt::format("SELECT {0} FROM releases WHERE state NOT IN {1} UNION ALL SELECT {0} FROM releases WHERE state "
                    "IN {1} AND sha = (SELECT sha FROM production_releases WHERE environment = $1)",
                    release_columns(), terminal_states),
        environment);
    auto releases = with_facts(t, rows);
    if (!releases) return std::unexpected(releases.error());
    for (auto& r : *releases) {
      if (r.state == core::ReleaseState::promoting) world.promoting = r.sha;
      world.put(std::move(r));
    }
    world.next_seq = t.exec("SELECT COALESCE(max(seq), 0) + 1 FROM releases")[0][0].as<long long>();
    auto prod = t.exec_params("SELECT sha FROM production_releases WHERE environment = $1", environment);
    if (!prod.empty()) world.production = *core::Sha::parse(prod[0][0].c_str());
    world.line_stop = read_line_stop(t, environment);
    world.pin = read_pin(t, environment);
    world.rollback = read_open_rollback(t, environment);
    return world;
  });
}

core::Result<std::optional<core::Release>> PgStore::release(const core::Sha& sha) {
  return with_connection("reading a release", [&](pqxx::connection& c) -> core::Result<std::optional<core::Release>> {
    pqxx::read_transaction t(c);
    auto found = with_facts(
        t, t.exec_params(fmt::format("SELECT {} FROM releases WHERE sha = $1", release_columns()), sha.str()));
    if (!found) return std::unexpected(found.error());
    if (found->empty()) return std::nullopt;
    return std::move(found->front());
  });
}

core::Result<std::vector<core::Release>> PgStore::releases(std::optional<core::ReleaseState> state,
                                                           std::optional<std::int64_t> before_seq, int limit) {
  return with_connection("listing releases", [&](pqxx::connection& c) -> core::Result<std::vector<core::Release>> {
    pqxx::read_transaction t(c);
    const auto rows = t.exec_params(
        fmt::format("SELECT {} FROM releases WHERE ($1::text IS NULL OR state = $1) AND ($2::bigint IS NULL OR seq < "
                    "$2) ORDER BY seq DESC LIMIT $3",
                    release_columns()),
        state ? std::optional<std::string>(std::string(core::to_string(*state))) : std::nullopt,
        before_seq ? std::optional<std::string>(std::to_string(*before_seq)) : std::nullopt, limit);
    return with_facts(t, rows);
  });
}

core::Result<std::vector<core::Release>> PgStore::releases_with_sha_prefix(const std::string& prefix, int limit) {
  using Releases = core::Result<std::vector<core::Release>>;
  return with_connection("finding releases by SHA prefix", [&](pqxx::connection& c) -> Releases {
    // Only hex reaches here (core::Sha::parse_prefix), so the pattern holds no LIKE wildcards of its own;
    // releases_sha_prefix_idx (sql/009) serves it.
    auto hex = [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); };
    if (!std::ranges::all_of(prefix, hex))
      return std::unexpected(
          core::Error{core::ErrorCode::invalid_argument, "a SHA prefix has only lower-case hex digits (0-9, a-f)"});
    pqxx::read_transaction t(c);
    const auto rows = t.exec_params(
        fmt::format("SELECT {} FROM releases WHERE sha LIKE $1 ORDER BY seq DESC LIMIT $2", release_columns()),
        prefix + "%", limit);
    return with_facts(t, rows);
  });
}

core::Result<std::map<std::string, int>> PgStore::release_counts() {
  return with_connection("counting releases", [&](pqxx::connection& c) -> core::Result<std::map<std::string, int>> {
    pqxx::read_transaction t(c);
    std::map<std::string, int> counts;
    // Kept by a trigger (sql/007): a few rows, however long the history.
    for (const auto& row : t.exec("SELECT state, n FROM release_state_counts WHERE n > 0"))
      counts[row[0].c_str()] = row[1].as<int>();
    return counts;
  });
}

namespace {

// Writes one fact of a decision. Facts come in the order core gave them: a release's own record first.
class FactWriter {
 public:
  FactWriter(pqxx::work& w, const core::PromotionPlan& plan, const std::string& environment, Timestamp now)
      : w_(w), plan_(plan), environment_(environment), now_(now) {}

  ports::OpenedPromotions opened;

  void operator()(const core::ReleaseStateChanged& f) {
    std::string live, soak, awaiting;
    const std::string ancestors = fmt::format("{}", fmt::join(f.ancestors, " "));
    if (f.discovered)
      w_.exec_params(
          "INSERT INTO releases (sha, seq, author, first_seen_at, live_at, soak_started_at, soak_resets, state, "
          "state_reason, ancestors, awaiting_approval_since, updated_at) VALUES ($1, $2, $3, $4::timestamptz, "
          "$5::timestamptz, $6::timestamptz, $7, $8, $9, $10, $11::timestamptz, now())",
          f.sha.str(), f.seq, f.author, ts(f.first_seen_at), opt_ts(f.live_at, live), opt_ts(f.soak_started_at, soak),
          f.soak_resets, std::string(core::to_string(f.state)), f.state_reason, ancestors,
          opt_ts(f.awaiting_approval_since, awaiting));
    else
      w_.exec_params(
          "UPDATE releases SET author = $2, ancestors = $3, live_at = $4::timestamptz, soak_started_at = "
          "$5::timestamptz, soak_resets = $6, state = $7, state_reason = $8, awaiting_approval_since = "
          "$9::timestamptz, updated_at = now() WHERE sha = $1",
          f.sha.str(), f.author, ancestors, opt_ts(f.live_at, live), opt_ts(f.soak_started_at, soak), f.soak_resets,
          std::string(core::to_string(f.state)), f.state_reason, opt_ts(f.awaiting_approval_since, awaiting));
  }

  void operator()(const core::DeploymentObserved& f) {
    const core::StagingDeployment& dep = f.deployment;
    std::string created;
    w_.exec_params(
        "INSERT INTO staging_deployments (sha, service, deployment_id, status, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz) ON CONFLICT (sha, service) DO UPDATE SET "
        "deployment_id = EXCLUDED.deployment_id, status = EXCLUDED.status, created_at = EXCLUDED.created_at, "
        "updated_at = EXCLUDED.updated_at",
        f.sha.str(), dep.service, dep.deployment_id, std::string(core::to_string(dep.status)),
        opt_ts(dep.created_at, created), ts(dep.updated_at));
  }

  void operator()(const core::SmokeRecorded& f) {
    const core::SmokeResult& s = f.result;
    w_.exec_params(
        "INSERT INTO smoke_results (sha, suite, passed, reported_by, reported_at, details) VALUES ($1, $2, $3, "
        "$4, $5::timestamptz, $6) ON CONFLICT (sha, suite) DO UPDATE SET passed = EXCLUDED.passed, "
        "reported_by = EXCLUDED.reported_by, reported_at = EXCLUDED.reported_at, details = EXCLUDED.details",
        f.sha.str(), s.suite, s.passed, s.reported_by, ts(s.at), s.details);
  }

  void operator()(const core::ApprovalAdded& f) {
    w_.exec_params(
        "INSERT INTO approvals (sha, approved_by, approved_at, reason, gate_facts) VALUES ($1, $2, $3::timestamptz, "
        "$4, $5)",
        f.sha.str(), f.approval.by, ts(f.approval.at), f.approval.reason, f.approval.gate_facts);
  }

  void operator()(const core::RejectionAdded& f) {
    w_.exec_params(
        "INSERT INTO rejections (sha, rejected_by, rejected_at, reason, gate_facts) VALUES ($1, $2, $3::timestamptz, "
        "$4, $5)",
        f.sha.str(), f.rejection.by, ts(f.rejection.at), f.rejection.reason, f.rejection.gate_facts);
  }

  void operator()(const core::HotfixDeclared& f) {
    w_.exec_params(
        "INSERT INTO hotfixes (sha, requested_by, requested_at, reason, incident_url, overrides_freeze) VALUES ($1, "
        "$2, $3::timestamptz, $4, $5, $6)",
        f.sha.str(), f.hotfix.by, ts(f.hotfix.at), f.hotfix.reason, f.hotfix.incident_url, f.hotfix.overrides_freeze);
  }

  void operator()(const core::LineStopChanged& f) {
    std::string until;
    w_.exec_params(
        "INSERT INTO line_stops (environment, stopped, by_identity, at, reason, until) VALUES ($1, $2, $3, "
        "$4::timestamptz, $5, $6::timestamptz)",
        environment_, f.stop.has_value(), f.by, ts(f.at), f.reason, f.stop ? opt_ts(f.stop->until, until) : nullptr);
  }

  void operator()(const core::RollbackOpened& f) { write_rollback_opened(w_, environment_, f.rollback); }
  void operator()(const core::RollbackStarted& f) {
    opened[f.target.str()] = write_rollback_started(w_, environment_, now_, f);
  }
  void operator()(const core::RollbackEnded&) { write_rollback_ended(w_, environment_, now_); }
  void operator()(const core::PinChanged& f) { write_pin(w_, environment_, f); }

  void operator()(const core::EvidenceRecorded& f) {
    w_.exec_params(
        "INSERT INTO release_evidence (sha, base, observed_at, evidence) VALUES ($1, $2, $3::timestamptz, $4::jsonb) "
        "ON CONFLICT (sha) DO UPDATE SET base = EXCLUDED.base, observed_at = EXCLUDED.observed_at, "
        "evidence = EXCLUDED.evidence",
        f.sha.str(), f.evidence.base ? f.evidence.base->c_str() : nullptr, ts(f.evidence.observed_at),
        evidence_to_json(f.evidence).dump());
  }

  void operator()(const core::ConfigRecorded& f) {
    w_.exec_params(
        "INSERT INTO release_config (sha, observed_at, view) VALUES ($1, $2::timestamptz, $3::jsonb) ON CONFLICT (sha) "
        "DO UPDATE SET observed_at = EXCLUDED.observed_at, view = EXCLUDED.view",
        f.sha.str(), ts(f.view.observed_at), config_view_to_json(f.view).dump());
  }

  void operator()(const core::ObligationOpened& f) {
    const core::Obligation& o = f.obligation;
    w_.exec_params(
        "INSERT INTO obligations (sha, kind, opened_by, opened_at, due_at) VALUES ($1, $2, $3, $4::timestamptz, "
        "$5::timestamptz)",
        o.sha.str(), std::string(core::to_string(o.kind)), o.opened_by, ts(o.opened_at), ts(o.due_at));
  }

  void operator()(const core::PromotionOpened& f) {
    const auto id = w_.exec_params1(
                          "INSERT INTO promotions (sha, environment, state, hotfix, created_at) VALUES ($1, $2, "
                          "$4, EXISTS (SELECT 1 FROM hotfixes WHERE sha = $1), $3::timestamptz) RETURNING id",
                          f.sha.str(), environment_, ts(now_), running_state())[0]
                        .as<long long>();
    const core::PromotionId promotion{id};
    insert_promotion_steps(w_, promotion, plan_);
    w_.exec_params("UPDATE releases SET promotion_id = $2 WHERE sha = $1", f.sha.str(), id);
    opened[f.sha.str()] = promotion;
  }

  void operator()(const core::PromotionEnded& f) {
    const bool ok = f.outcome == core::PromotionOutcome::succeeded;
    w_.exec_params(
        "UPDATE promotions SET state = $2, finished_at = $3::timestamptz, error = $4 WHERE id = $1 AND state = $5",
        f.promotion_id.value(), std::string(core::to_string(f.outcome)), ts(now_),
        ok ? std::optional<std::string>() : std::optional<std::string>(f.detail), running_state());
    // The record step's side effect is this very transaction: it succeeds with it, atomically.
    if (ok)
      w_.exec_params(
          "UPDATE promotion_steps SET state = 'succeeded', finished_at = $2::timestamptz, "
          "detail = 'production release recorded' WHERE promotion_id = $1 AND kind = 'record' AND state = 'started'",
          f.promotion_id.value(), ts(now_));
  }

  void operator()(const core::ProductionSet& f) {
    w_.exec_params(
        "INSERT INTO production_releases (environment, sha, promotion_id, promoted_at) VALUES ($1, $2, $3, "
        "$4::timestamptz) ON CONFLICT (environment) DO UPDATE SET sha = EXCLUDED.sha, promotion_id = "
        "EXCLUDED.promotion_id, promoted_at = EXCLUDED.promoted_at",
        environment_, f.sha.str(),
        f.promotion_id ? std::optional<std::string>(core::to_string(*f.promotion_id)) : std::nullopt, ts(now_));
  }

 private:
  pqxx::work& w_;
  const core::PromotionPlan& plan_;
  const std::string& environment_;
  Timestamp now_;
};

}  // namespace

core::Result<ports::OpenedPromotions> PgStore::commit(const core::Decision& d, const core::PromotionPlan& plan,
                                                      const std::string& environment, Timestamp now) {
  return with_connection("recording a decision", [&](pqxx::connection& c) -> core::Result<ports::OpenedPromotions> {
    pqxx::work w(c);
    const std::optional<std::int64_t> epoch = fence(w);
    FactWriter writer(w, plan, environment, now);
    for (const auto& fact : d.facts) std::visit(writer, fact);
    for (const auto& note : d.audit)
      insert_audit(w, epoch, now, note.actor, note.action,
                   note.sha ? std::optional<std::string>(note.sha->str()) : std::nullopt, note.detail);
    w.commit();
    return std::move(writer.opened);
  });
}

core::Result<void> PgStore::append_audit(const core::AuditNote& note, Timestamp now) {
  return with_connection("writing the audit log", [&](pqxx::connection& c) -> core::Result<void> {
    pqxx::work w(c);
    const std::optional<std::int64_t> epoch = fence(w);
    insert_audit(w, epoch, now, note.actor, note.action,
                 note.sha ? std::optional<std::string>(note.sha->str()) : std::nullopt, note.detail);
    w.commit();
    return {};
  });
}

core::Result<std::vector<ports::AuditEntry>> PgStore::audit(const std::optional<std::string>& sha, int limit,
                                                            std::optional<std::int64_t> before_id) {
  return with_connection(
      "reading the audit log", [&](pqxx::connection& c) -> core::Result<std::vector<ports::AuditEntry>> {
        pqxx::read_transaction t(c);
        const auto rows = t.exec_params(
            fmt::format(
                "SELECT id, {}, actor, action, sha, detail, epoch FROM audit_log WHERE ($1::text IS NULL OR sha = $1) "
                "AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $2",
                ms("at")),
            sha, limit, before_id ? std::optional<std::string>(std::to_string(*before_id)) : std::nullopt);
        std::vector<ports::AuditEntry> out;
        for (const auto& row : rows) {
          ports::AuditEntry e{row[0].as<long long>(), ms_to_ts(row[1]), row[2].c_str(),
                              row[3].c_str(),         std::nullopt,     row[5].c_str()};
          if (!row[4].is_null()) e.sha = row[4].c_str();
          if (!row[6].is_null()) e.epoch = row[6].as<long long>();
          out.push_back(std::move(e));
        }
        return out;
      });
}

namespace {

ports::PromotionRecord promotion_from_row(const pqxx::row& row) {
  ports::PromotionRecord p;
  p.id = core::PromotionId{row[0].as<long long>()};
  p.sha = row[1].c_str();
  p.environment = row[2].c_str();
  // The table's CHECK allows only these names.
  p.state = ports::parse_promotion_state(row[3].c_str()).value_or(ports::PromotionState::running);
  p.hotfix = row[4].as<bool>();
  p.created_at = ms_to_ts(row[5]);
  p.finished_at = opt_ms(row[6]);
  if (!row[7].is_null()) p.error = row[7].c_str();
  if (!row[8].is_null()) p.abort = ports::AbortRequest{row[8].c_str(), ms_to_ts(row[9]), row[10].c_str()};
  read_rollback_columns(row[11], row[12], p);
  return p;
}

std::string promotion_columns() {
  return fmt::format("id, sha, environment, state, hotfix, {}, {}, error, abort_requested_by, {}, abort_reason, {}",
                     ms("created_at"), ms("finished_at"), ms("abort_requested_at"), rollback_columns());
}

std::vector<ports::StepRecord> promotion_steps(pqxx::transaction_base& t, ports::PromotionId id) {
  std::vector<ports::StepRecord> steps;
  for (const auto& row : t.exec_params(
           fmt::format("SELECT idx, kind, service, state, idempotency_key, attempts, {}, {}, detail, progress FROM "
                       "promotion_steps WHERE promotion_id = $1 ORDER BY idx",
                       ms("started_at"), ms("finished_at")),
           id.value())) {
    ports::StepRecord s;
    s.step.index = row[0].as<int>();
    s.step.kind = core::parse_step_kind(row[1].c_str()).value_or(core::StepKind::preflight);
    if (!row[2].is_null()) s.step.service = row[2].c_str();
    s.state = core::parse_step_state(row[3].c_str()).value_or(core::StepState::planned);
    s.idempotency_key = row[4].c_str();
    s.attempts = row[5].as<int>();
    s.started_at = opt_ms(row[6]);
    s.finished_at = opt_ms(row[7]);
    s.detail = row[8].c_str();
    s.progress = row[9].c_str();
    steps.push_back(std::move(s));
  }
  return steps;
}

}  // namespace

core::Result<std::optional<ports::PromotionRecord>> PgStore::promotion(ports::PromotionId id) {
  return with_connection(
      "reading a promotion", [&](pqxx::connection& c) -> core::Result<std::optional<ports::PromotionRecord>> {
        pqxx::read_transaction t(c);
        const auto rows =
            t.exec_params(fmt::format("SELECT {} FROM promotions WHERE id = $1", promotion_columns()), id.value());
        if (rows.empty()) return std::nullopt;
        ports::PromotionRecord p = promotion_from_row(rows[0]);
        p.steps = promotion_steps(t, id);
        return p;
      });
}

core::Result<ports::PromotionRecord> PgStore::request_abort(ports::PromotionId id, const std::string& by,
                                                            const std::string& reason, Timestamp now) {
  return with_connection("requesting an abort", [&](pqxx::connection& c) -> core::Result<ports::PromotionRecord> {
    pqxx::work w(c);
    const std::optional<std::int64_t> epoch = fence(w);
    // The row lock orders concurrent requests: the first one stands.
    const auto rows = w.exec_params(
        fmt::format("SELECT {} FROM promotions WHERE id = $1 FOR UPDATE", promotion_columns()), id.value());
    if (rows.empty()) return fail(ErrorCode::not_found, fmt::format("no promotion {}", id));
    ports::PromotionRecord p = promotion_from_row(rows[0]);
    p.steps = promotion_steps(w, id);
    if (p.state != ports::PromotionState::running)
      return fail(
          ErrorCode::failed_precondition,
          fmt::format("promotion {} has ended ({}); only a running promotion can be aborted", id, rows[0][3].c_str()));
    if (p.abort) return p;
    bool production_step_left = false;
    for (const auto& s : p.steps)
      if (core::abort_stops_before(s.step.kind) &&
          (s.state == core::StepState::planned || s.state == core::StepState::started))
        production_step_left = true;
    if (!production_step_left)
      return fail(ErrorCode::failed_precondition,
                  fmt::format("promotion {} has deployed every service; only verify and record remain, and an abort "
                              "now would leave production running a release it does not record",
                              id));
    w.exec_params(
        "UPDATE promotions SET abort_requested_by = $2, abort_requested_at = $3::timestamptz, abort_reason = $4 "
        "WHERE id = $1",
        id.value(), by, ts(now), reason);
    insert_audit(w, epoch, now, by, "promotion.abort_requested", p.sha, fmt::format("promotion {}: {}", id, reason));
    w.commit();
    p.abort = ports::AbortRequest{by, now, reason};
    return p;
  });
}

core::Result<std::vector<ports::PromotionRecord>> PgStore::promotions(int limit,
                                                                      std::optional<std::int64_t> before_id) {
  return with_connection(
      "listing promotions", [&](pqxx::connection& c) -> core::Result<std::vector<ports::PromotionRecord>> {
        pqxx::read_transaction t(c);
        std::vector<ports::PromotionRecord> out;
        for (const auto& row : t.exec_params(
                 fmt::format(
                     "SELECT {} FROM promotions WHERE ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $1",
                     promotion_columns()),
                 limit, before_id ? std::optional<std::string>(std::to_string(*before_id)) : std::nullopt))
          out.push_back(promotion_from_row(row));
        return out;
      });
}

core::Result<std::vector<ports::PromotionId>> PgStore::running_promotions(const std::string& environment) {
  return with_connection(
      "listing running promotions", [&](pqxx::connection& c) -> core::Result<std::vector<ports::PromotionId>> {
        pqxx::read_transaction t(c);
        std::vector<ports::PromotionId> out;
        for (const auto& row :
             t.exec_params("SELECT id FROM promotions WHERE environment = $1 AND state = $2 ORDER BY id", environment,
                           running_state()))
          out.emplace_back(row[0].as<long long>());
        return out;
      });
}

core::Result<std::optional<ports::ProductionRecord>> PgStore::production(const std::string& environment) {
  return with_connection(
      "reading the production release",
      [&](pqxx::connection& c) -> core::Result<std::optional<ports::ProductionRecord>> {
        pqxx::read_transaction t(c);
        const auto rows =
            t.exec_params(fmt::format("SELECT sha, promotion_id, {} FROM production_releases WHERE environment = $1",
                                      ms("promoted_at")),
                          environment);
        if (rows.empty()) return std::nullopt;
        ports::ProductionRecord p{rows[0][0].c_str(), std::nullopt, ms_to_ts(rows[0][2])};
        if (!rows[0][1].is_null()) p.promotion_id = core::PromotionId{rows[0][1].as<long long>()};
        return p;
      });
}

core::Result<std::optional<core::LineStop>> PgStore::line_stop(const std::string& environment) {
  return with_connection("reading the line stop",
                         [&](pqxx::connection& c) -> core::Result<std::optional<core::LineStop>> {
                           pqxx::read_transaction t(c);
                           return read_line_stop(t, environment);
                         });
}

core::Result<void> PgStore::journal_step(ports::PromotionId id, int index, core::StepState to,
                                         const std::string& detail, Timestamp at) {
  return with_connection("writing the promotion journal", [&](pqxx::connection& c) -> core::Result<void> {
    pqxx::work w(c);
    fence(w);
    const auto rows = w.exec_params("SELECT state FROM promotion_steps WHERE promotion_id = $1 AND idx = $2 FOR UPDATE",
                                    id.value(), index);
    if (rows.empty()) return fail(ErrorCode::not_found, fmt::format("promotion {} has no step {}", id, index));
    const auto from = core::parse_step_state(rows[0][0].c_str()).value_or(core::StepState::planned);
    if (auto ok = core::check_step_transition(from, to); !ok)
      return fail(ErrorCode::conflict, fmt::format("promotion {} step {}: {}", id, index, ok.error().message));
    const bool starting = to == core::StepState::started;
    w.exec_params(
        "UPDATE promotion_steps SET state = $3, detail = $4, "
        "attempts = attempts + CASE WHEN $5 THEN 1 ELSE 0 END, "
        "started_at = CASE WHEN $5 THEN $6::timestamptz ELSE started_at END, "
        "finished_at = CASE WHEN $5 THEN NULL ELSE $6::timestamptz END "
        "WHERE promotion_id = $1 AND idx = $2",
        id.value(), index, std::string(core::to_string(to)), detail, starting, ts(at));
    w.commit();
    return {};
  });
}

core::Result<void> PgStore::journal_progress(ports::PromotionId id, int index, const std::string& progress) {
  return with_connection("noting a step's progress", [&](pqxx::connection& c) -> core::Result<void> {
    pqxx::work w(c);
    fence(w);
    const auto r = w.exec_params(
        "UPDATE promotion_steps SET progress = $3 WHERE promotion_id = $1 AND idx = $2 AND state = 'started'",
        id.value(), index, progress);
    if (r.affected_rows() != 1)
      return fail(ErrorCode::conflict, fmt::format("promotion {} step {} is not started", id, index));
    w.commit();
    return {};
  });
}

core::Result<std::unique_ptr<ports::EnvironmentLease>> PgStore::lease_environment(const std::string& environment) {
  auto busy = [&] {
    return fail(
        ErrorCode::conflict,
        fmt::format("another executor holds the {} promotion lock; it will finish the running promotion", environment));
  };
  try {
    LeaseSlot& slot = *lease_slot_;
    std::lock_guard lock(slot.mutex);
    if (slot.held) return busy();
    if (!slot.connection || !slot.connection->is_open()) slot.connection = pool_.connect_dedicated();
    pqxx::nontransaction n(*slot.connection);
    const bool got =
        n.exec_params1("SELECT pg_try_advisory_lock(hashtext('promoter-environment:' || $1))", environment)[0]
            .as<bool>();
    if (!got) return busy();
    slot.held = true;
    return std::make_unique<PgEnvironmentLease>(lease_slot_, environment);
  } catch (const pqxx::broken_connection& e) {
    std::lock_guard lock(lease_slot_->mutex);
    lease_slot_->connection.reset();
    return database_error(
        ErrorCode::unavailable,
        fmt::format("the database is unreachable (taking the {} promotion lock); retry later", environment), e.what());
  } catch (const std::exception& e) {
    return database_error(ErrorCode::internal,
                          fmt::format("taking the {} promotion lock failed; see promoterd's log", environment),
                          e.what());
  }
}

core::Result<std::vector<core::Obligation>> PgStore::obligations(bool open_only) {
  return with_connection(
      "reading hotfix obligations", [&](pqxx::connection& c) -> core::Result<std::vector<core::Obligation>> {
        pqxx::read_transaction t(c);
        std::vector<core::Obligation> out;
        for (const auto& row : t.exec(fmt::format("SELECT {} FROM obligations {} ORDER BY due_at, id",
                                                  obligation_columns(), open_only ? "WHERE closed_at IS NULL" : "")))
          out.push_back(obligation_from_row(row));
        return out;
      });
}

core::Result<core::Obligation> PgStore::close_obligation(std::int64_t id, const std::string& by,
                                                         const std::string& link, Timestamp now) {
  return with_connection("closing a hotfix obligation", [&](pqxx::connection& c) -> core::Result<core::Obligation> {
    pqxx::work w(c);
    const std::optional<std::int64_t> epoch = fence(w);
    const auto found =
        w.exec_params(fmt::format("SELECT {} FROM obligations WHERE id = $1 FOR UPDATE", obligation_columns()), id);
    if (found.empty()) return fail(ErrorCode::not_found, fmt::format("no obligation {}", id));
    core::Obligation o = obligation_from_row(found[0]);
    if (!o.open())
      return fail(ErrorCode::failed_precondition,
                  fmt::format("obligation {} was closed by {} at {} ({})", id, o.closed_by,
                              core::format_timestamp(*o.closed_at), o.link));
    w.exec_params("UPDATE obligations SET closed_at = $2::timestamptz, closed_by = $3, link = $4 WHERE id = $1", id,
                  ts(now), by, link);
    insert_audit(
        w, epoch, now, by, "hotfix.obligation_closed", o.sha.str(),
        fmt::format("{} {} closed{}: {}", core::to_string(o.kind), id, o.overdue(now) ? " overdue" : "", link));
    w.commit();
    o.closed_at = now;
    o.closed_by = by;
    o.link = link;
    return o;
  });
}

}  // namespace promoter::adapters
