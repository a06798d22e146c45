// PgStore's ConfigHistory (ports/config_history.hpp) on the tables of sql/011_config_drift.sql.
#include <map>
#include <utility>

#include "adapters/pg_store.hpp"
#include "adapters/pg_store_internal.hpp"

namespace promoter::adapters {

using namespace pg;

namespace {

std::string tier_text(core::ConfigTier t) { return std::string(core::to_string(t)); }

core::ConfigTier tier_of(const pqxx::field& f) {
  auto tier = core::parse_config_tier(f.c_str());
  if (!tier) throw std::runtime_error(fmt::format("unknown environment {} in the config history", f.c_str()));
  return *tier;
}

std::optional<std::string> opt_text(const std::optional<Timestamp>& t) {
  if (!t) return std::nullopt;
  return ts(*t);
}

// One audit note per line of the transaction: config changes are audited with the observation that saw them.
void write_audit(pqxx::transaction_base& w, std::optional<std::int64_t> epoch,
                 const std::vector<core::AuditNote>& audit, Timestamp now) {
  for (const auto& note : audit)
    insert_audit(w, epoch, now, note.actor, note.action,
                 note.sha ? std::optional<std::string>(note.sha->str()) : std::nullopt, note.detail);
}

// Upserts a snapshot row; true when the row is new (the first observation: its contents must be written even
// though it has no changes).
bool upsert_snapshot(pqxx::transaction_base& w, const std::string& table, const std::string& key_columns,
                     const std::vector<std::string>& keys, Timestamp observed_at) {
  std::string placeholders;
  for (std::size_t i = 0; i < keys.size(); ++i) placeholders += fmt::format("${}, ", i + 1);
  const std::string sql = fmt::format(
      "INSERT INTO {} ({}, observed_at) VALUES ({}${}::timestamptz) ON CONFLICT ({}) DO UPDATE SET observed_at = "
      "EXCLUDED.observed_at RETURNING (xmax = 0)",
      table, key_columns, placeholders, keys.size() + 1, key_columns);
  const auto rows = keys.size() == 2 ? w.exec_params(sql, keys[0], keys[1], ts(observed_at))
                                     : w.exec_params(sql, keys[0], ts(observed_at));
  return rows[0][0].as<bool>();
}

}  // namespace

core::Result<ports::ConfigState> PgStore::config_state() {
  return with_connection("reading the config history", [&](pqxx::connection& c) -> core::Result<ports::ConfigState> {
    pqxx::read_transaction t(c);
    ports::ConfigState state;
    std::map<std::pair<std::string, std::string>, std::size_t> index;
    const auto snapshots = t.exec(fmt::format(
        "SELECT service, environment, {} FROM config_snapshots ORDER BY service, environment", ms("observed_at")));
    for (const auto& row : snapshots) {
      core::VariableSnapshot s;
      s.service = row[0].c_str();
      s.tier = tier_of(row[1]);
      s.observed_at = ms_to_ts(row[2]);
      index[{row[0].c_str(), row[1].c_str()}] = state.variables.size();
      state.variables.push_back(std::move(s));
    }
    const auto variables = t.exec(fmt::format(
        "SELECT service, environment, name, {}, digest FROM config_variables ORDER BY service, environment, name",
        ms("updated_at")));
    for (const auto& row : variables) {
      auto it = index.find({row[0].c_str(), row[1].c_str()});
      if (it == index.end()) continue;
      state.variables[it->second].variables.push_back(
          core::VariableSighting{row[2].c_str(), opt_ms(row[3]), row[4].c_str()});
    }
    std::map<std::string, std::size_t> flag_index;
    const auto flag_snapshots =
        t.exec(fmt::format("SELECT environment, {} FROM flag_snapshots ORDER BY environment", ms("observed_at")));
    for (const auto& row : flag_snapshots) {
      core::FlagSnapshot s;
      s.tier = tier_of(row[0]);
      s.observed_at = ms_to_ts(row[1]);
      flag_index[row[0].c_str()] = state.flags.size();
      state.flags.push_back(std::move(s));
    }
    const auto flags = t.exec(fmt::format(
        "SELECT environment, key, enabled, {} FROM flag_states ORDER BY environment, key", ms("updated_at")));
    for (const auto& row : flags) {
      auto it = flag_index.find(row[0].c_str());
      if (it == flag_index.end()) continue;
      state.flags[it->second].flags.push_back(core::FlagSighting{row[1].c_str(), row[2].as<bool>(), opt_ms(row[3])});
    }
    for (const auto& row : t.exec("SELECT key FROM flag_ever_enabled"))
      state.staging_flags_ever_enabled.insert(row[0].c_str());
    return state;
  });
}

core::Result<std::vector<core::VariableChange>> PgStore::staging_changes(const std::string& service, Timestamp since) {
  return with_connection(
      "reading staging's variable changes",
      [&](pqxx::connection& c) -> core::Result<std::vector<core::VariableChange>> {
        pqxx::read_transaction t(c);
        const auto rows = t.exec_params(
            fmt::format("SELECT name, kind, {}, {} FROM config_changes WHERE service = $1 AND environment = 'staging' "
                        "AND COALESCE(provider_at, observed_at) >= $2::timestamptz ORDER BY id",
                        ms("observed_at"), ms("provider_at")),
            service, ts(since));
        std::vector<core::VariableChange> out;
        for (const auto& row : rows) {
          auto kind = core::parse_change_kind(row[1].c_str());
          if (!kind) continue;
          out.push_back(core::VariableChange{service, core::ConfigTier::staging, row[0].c_str(), *kind,
                                             ms_to_ts(row[2]), opt_ms(row[3])});
        }
        return out;
      });
}

core::Result<void> PgStore::record_variables(const core::VariableSnapshot& snapshot,
                                             const std::vector<ports::JudgedVariableChange>& changes,
                                             const std::vector<core::AuditNote>& audit, Timestamp now) {
  return with_connection("recording variable names", [&](pqxx::connection& c) -> core::Result<void> {
    pqxx::work w(c);
    const std::optional<std::int64_t> epoch = fence(w);
    const std::string tier = tier_text(snapshot.tier);
    const bool first =
        upsert_snapshot(w, "config_snapshots", "service, environment", {snapshot.service, tier}, snapshot.observed_at);
    if (first || !changes.empty()) {
      w.exec_params("DELETE FROM config_variables WHERE service = $1 AND environment = $2", snapshot.service, tier);
      for (const auto& v : snapshot.variables)
        w.exec_params(
            "INSERT INTO config_variables (service, environment, name, updated_at, digest) VALUES ($1, $2, $3, "
            "$4::timestamptz, $5)",
            snapshot.service, tier, v.name, opt_text(v.updated_at), v.digest);
    }
    for (const auto& j : changes) {
      const auto& ch = j.change;
      w.exec_params(
          "INSERT INTO config_changes (service, environment, name, kind, observed_at, provider_at, violation) "
          "VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7)",
          ch.service, tier_text(ch.tier), ch.name, std::string(core::to_string(ch.kind)), ts(ch.observed_at),
          opt_text(ch.provider_at), j.violation ? std::optional<std::string>(j.violation->reason) : std::nullopt);
    }
    write_audit(w, epoch, audit, now);
    w.commit();
    return {};
  });
}

core::Result<void> PgStore::record_flags(const core::FlagSnapshot& snapshot,
                                         const std::vector<ports::JudgedFlagChange>& changes,
                                         const std::vector<core::AuditNote>& audit, Timestamp now) {
  return with_connection("recording feature flags", [&](pqxx::connection& c) -> core::Result<void> {
    pqxx::work w(c);
    const std::optional<std::int64_t> epoch = fence(w);
    const std::string tier = tier_text(snapshot.tier);
    const bool first = upsert_snapshot(w, "flag_snapshots", "environment", {tier}, snapshot.observed_at);
    if (first || !changes.empty()) {
      w.exec_params("DELETE FROM flag_states WHERE environment = $1", tier);
      for (const auto& f : snapshot.flags)
        w.exec_params(
            "INSERT INTO flag_states (environment, key, enabled, updated_at) VALUES ($1, $2, $3, $4::timestamptz)",
            tier, f.key, f.enabled, opt_text(f.updated_at));
    }
    if (snapshot.tier == core::ConfigTier::staging)
      for (const auto& f : snapshot.flags)
        if (f.enabled)
          w.exec_params(
              "INSERT INTO flag_ever_enabled (key, first_seen) VALUES ($1, $2::timestamptz) ON CONFLICT DO NOTHING",
              f.key, ts(snapshot.observed_at));
    for (const auto& j : changes) {
      const auto& ch = j.change;
      w.exec_params(
          "INSERT INTO flag_changes (environment, key, kind, enabled, observed_at, provider_at, violation) VALUES "
          "($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7)",
          tier_text(ch.tier), ch.key, std::string(core::to_string(ch.kind)), ch.enabled, ts(ch.observed_at),
          opt_text(ch.provider_at), j.violation ? std::optional<std::string>(j.violation->reason) : std::nullopt);
    }
    write_audit(w, epoch, audit, now);
    w.commit();
    return {};
  });
}

core::Result<std::vector<ports::VariableChangeRecord>> PgStore::variable_changes(
    const std::optional<std::string>& service, int limit) {
  return with_connection(
      "reading variable changes", [&](pqxx::connection& c) -> core::Result<std::vector<ports::VariableChangeRecord>> {
        pqxx::read_transaction t(c);
        const auto rows = t.exec_params(
            fmt::format("SELECT id, service, environment, name, kind, {}, {}, violation FROM config_changes WHERE "
                        "($1::text IS NULL OR service = $1) ORDER BY id DESC LIMIT $2",
                        ms("observed_at"), ms("provider_at")),
            service, limit);
        std::vector<ports::VariableChangeRecord> out;
        for (const auto& row : rows) {
          auto kind = core::parse_change_kind(row[4].c_str());
          if (!kind) continue;
          ports::VariableChangeRecord r;
          r.id = row[0].as<long long>();
          r.judged.change = core::VariableChange{row[1].c_str(), tier_of(row[2]),  row[3].c_str(),
                                                 *kind,          ms_to_ts(row[5]), opt_ms(row[6])};
          if (!row[7].is_null())
            r.judged.violation = core::ConfigViolation{core::ViolationKind::env_production_first, row[1].c_str(),
                                                       row[3].c_str(), r.judged.change.at(), row[7].c_str()};
          out.push_back(std::move(r));
        }
        return out;
      });
}

core::Result<std::vector<ports::FlagChangeRecord>> PgStore::flag_changes(int limit) {
  return with_connection(
      "reading flag changes", [&](pqxx::connection& c) -> core::Result<std::vector<ports::FlagChangeRecord>> {
        pqxx::read_transaction t(c);
        const auto rows =
            t.exec_params(fmt::format("SELECT id, environment, key, kind, enabled, {}, {}, violation FROM "
                                      "flag_changes ORDER BY id DESC LIMIT $1",
                                      ms("observed_at"), ms("provider_at")),
                          limit);
        std::vector<ports::FlagChangeRecord> out;
        for (const auto& row : rows) {
          auto kind = core::parse_flag_change_kind(row[3].c_str());
          if (!kind) continue;
          ports::FlagChangeRecord r;
          r.id = row[0].as<long long>();
          r.judged.change = core::FlagChange{tier_of(row[1]),   row[2].c_str(),   *kind,
                                             row[4].as<bool>(), ms_to_ts(row[5]), opt_ms(row[6])};
          if (!row[7].is_null())
            r.judged.violation = core::ConfigViolation{core::ViolationKind::flag_production_first, "", row[2].c_str(),
                                                       r.judged.change.at(), row[7].c_str()};
          out.push_back(std::move(r));
        }
        return out;
      });
}

core::Result<std::vector<core::ConfigViolation>> PgStore::config_violations(std::optional<core::ViolationKind> kind,
                                                                            const std::optional<std::string>& service,
                                                                            int limit) {
  return with_connection(
      "reading config violations", [&](pqxx::connection& c) -> core::Result<std::vector<core::ConfigViolation>> {
        pqxx::read_transaction t(c);
        const auto rows = t.exec_params(
            fmt::format("SELECT kind, service, name, {} AS at_ms, violation FROM ("
                        "  SELECT 'env_production_first' AS kind, service, name, COALESCE(provider_at, observed_at) "
                        "AS at, violation, id FROM config_changes WHERE violation IS NOT NULL"
                        "  UNION ALL"
                        "  SELECT 'flag_production_first', '', key, COALESCE(provider_at, observed_at), violation, id "
                        "FROM flag_changes WHERE violation IS NOT NULL) v "
                        "WHERE ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR service = $3) "
                        "ORDER BY at DESC, id DESC LIMIT $1",
                        ms("at")),
            limit, kind ? std::optional<std::string>(std::string(core::to_string(*kind))) : std::nullopt, service);
        std::vector<core::ConfigViolation> out;
        for (const auto& row : rows) {
          auto kind = core::parse_violation_kind(row[0].c_str());
          if (!kind) continue;
          out.push_back(core::ConfigViolation{*kind, row[1].c_str(), row[2].c_str(), ms_to_ts(row[3]), row[4].c_str()});
        }
        return out;
      });
}

core::Result<std::int64_t> PgStore::config_violation_count() {
  return with_connection("counting config violations", [&](pqxx::connection& c) -> core::Result<std::int64_t> {
    pqxx::read_transaction t(c);
    const auto rows = t.exec(
        "SELECT (SELECT count(*) FROM config_changes WHERE violation IS NOT NULL) + (SELECT count(*) FROM "
        "flag_changes WHERE violation IS NOT NULL)");
    return static_cast<std::int64_t>(rows[0][0].as<long long>());
  });
}

}  // namespace promoter::adapters
