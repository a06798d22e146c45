// PgStore's rollbacks and pins (sql/013_rollbacks.sql): the rows decisions write, what load() reads back, and
// the production history a rollback request is decided on.
#include <nlohmann/json.hpp>

#include "adapters/evidence_json.hpp"
#include "adapters/pg_store.hpp"
#include "adapters/pg_store_internal.hpp"

namespace promoter::adapters {

using namespace pg;

namespace pg {

void write_rollback_opened(pqxx::transaction_base& w, const std::string& environment, const core::Rollback& rb) {
  w.exec_params(
      "INSERT INTO rollbacks (environment, target_sha, requested_by, requested_at, reason, trigger, after_promotion, "
      "migrations_since, schema_state) VALUES ($1, $2, $3, $4::timestamptz, $5, $6, $7, $8::jsonb, $9)",
      environment, rb.target.str(), rb.by, ts(rb.requested_at), rb.reason, std::string(core::to_string(rb.trigger)),
      rb.after ? std::optional<std::string>(std::to_string(rb.after->value())) : std::nullopt,
      nlohmann::json(rb.migrations_since).dump(), rb.schema_state);
}

core::PromotionId write_rollback_started(pqxx::transaction_base& w, const std::string& environment, Timestamp now,
                                         const core::RollbackStarted& f) {
  const auto id = w.exec_params1(
                       "INSERT INTO promotions (sha, environment, state, hotfix, created_at, kind) VALUES ($1, $2, "
                       "'running', false, $3::timestamptz, 'rollback') RETURNING id",
                       f.target.str(), environment, ts(now))[0]
                      .as<long long>();
  const core::PromotionId promotion{id};
  insert_promotion_steps(w, promotion, f.plan);
  w.exec_params("UPDATE rollbacks SET promotion_id = $2 WHERE environment = $1 AND ended_at IS NULL", environment, id);
  return promotion;
}

void write_rollback_ended(pqxx::transaction_base& w, const std::string& environment, Timestamp now) {
  w.exec_params("UPDATE rollbacks SET ended_at = $2::timestamptz WHERE environment = $1 AND ended_at IS NULL",
                environment, ts(now));
}

void write_pin(pqxx::transaction_base& w, const std::string& environment, const core::PinChanged& f) {
  w.exec_params(
      "INSERT INTO pins (environment, pinned, by_identity, at, reason) VALUES ($1, $2, $3, $4::timestamptz, $5)",
      environment, f.pin.has_value(), f.by, ts(f.at), f.reason);
}

std::optional<core::Pin> read_pin(pqxx::transaction_base& t, const std::string& environment) {
  const auto rows = t.exec_params(
      fmt::format("SELECT pinned, by_identity, {}, reason FROM pins WHERE environment = $1 ORDER BY id DESC LIMIT 1",
                  ms("at")),
      environment);
  if (rows.empty() || !rows[0][0].as<bool>()) return std::nullopt;
  return core::Pin{rows[0][1].c_str(), ms_to_ts(rows[0][2]), rows[0][3].c_str()};
}

std::optional<core::Rollback> read_open_rollback(pqxx::transaction_base& t, const std::string& environment) {
  const auto rows = t.exec_params(
      fmt::format("SELECT target_sha, requested_by, {}, reason, trigger, after_promotion, promotion_id, "
                  "migrations_since::text, schema_state FROM rollbacks WHERE environment = $1 AND ended_at IS NULL",
                  ms("requested_at")),
      environment);
  if (rows.empty()) return std::nullopt;
  const auto& row = rows[0];
  auto sha = core::Sha::parse(row[0].c_str());
  if (!sha) throw std::runtime_error(fmt::format("rollback target {} is no SHA", row[0].c_str()));
  core::Rollback rb{*sha, row[1].c_str(), row[3].c_str()};
  rb.requested_at = ms_to_ts(row[2]);
  // The table's CHECK allows only these names.
  rb.trigger = core::parse_rollback_trigger(row[4].c_str()).value_or(core::RollbackTrigger::operator_request);
  if (!row[5].is_null()) rb.after = core::PromotionId{row[5].as<long long>()};
  if (!row[6].is_null()) rb.promotion_id = core::PromotionId{row[6].as<long long>()};
  rb.migrations_since = nlohmann::json::parse(row[7].c_str()).get<std::vector<std::string>>();
  rb.schema_state = row[8].c_str();
  return rb;
}

std::string rollback_columns() {
  return "(SELECT r.promotion_id FROM rollbacks r WHERE r.after_promotion = promotions.id ORDER BY r.id DESC LIMIT 1), "
         "(SELECT json_build_object('by', r.requested_by, 'at', (extract(epoch from r.requested_at) * 1000)::bigint, "
         "'reason', r.reason, 'trigger', r.trigger, 'after', r.after_promotion, 'migrations', r.migrations_since, "
         "'schema_state', r.schema_state)::text FROM rollbacks r WHERE r.promotion_id = promotions.id)";
}

void read_rollback_columns(const pqxx::field& rolled_back_by, const pqxx::field& info, ports::PromotionRecord& p) {
  if (!rolled_back_by.is_null()) p.rolled_back_by = core::PromotionId{rolled_back_by.as<long long>()};
  if (info.is_null()) return;
  const auto j = nlohmann::json::parse(info.c_str());
  ports::RollbackInfo r;
  r.requested_by = j.at("by").get<std::string>();
  r.requested_at = Timestamp{core::Duration{j.at("at").get<long long>()}};
  r.reason = j.at("reason").get<std::string>();
  r.trigger = j.at("trigger").get<std::string>();
  if (!j.at("after").is_null()) r.after = core::PromotionId{j.at("after").get<long long>()};
  r.migrations_since = j.at("migrations").get<std::vector<std::string>>();
  r.schema_state = j.at("schema_state").get<std::string>();
  p.rollback = std::move(r);
}

}  // namespace pg

core::Result<std::optional<core::Pin>> PgStore::pin(const std::string& environment) {
  return with_connection("reading the pin", [&](pqxx::connection& c) -> core::Result<std::optional<core::Pin>> {
    pqxx::read_transaction t(c);
    return read_pin(t, environment);
  });
}

core::Result<ports::ProductionHistory> PgStore::production_history(const std::string& environment) {
  return with_connection(
      "reading the production history", [&](pqxx::connection& c) -> core::Result<ports::ProductionHistory> {
        pqxx::read_transaction t(c);
        ports::ProductionHistory out;
        // Every promotion and rollback that made a release production here, newest first, and a running
        // promotion before them (it may have changed production in part). The migrations each ran come from
        // its release's evidence or its migrate step's output. A promotion that failed or was aborted after its
        // migrate step is no target, but its migrations stay applied: they count with the next newer entry (or
        // the newest, when none is newer), so that a rollback past it names them.
        const auto rows = t.exec_params(
            fmt::format("SELECT p.id, p.sha, {}, p.kind, COALESCE(m.detail, ''), m.state, e.evidence::text, p.state "
                        "FROM promotions p LEFT JOIN promotion_steps m ON m.promotion_id = p.id AND m.kind = 'migrate' "
                        "LEFT JOIN release_evidence e ON e.sha = p.sha AND p.kind = 'promotion' "
                        "WHERE p.environment = $1 AND (p.state = 'succeeded' OR (p.kind = 'promotion' AND (p.state = "
                        "'running' OR m.state IN ('started', 'succeeded', 'failed')))) ORDER BY p.id DESC LIMIT 200",
                        ms("COALESCE(p.finished_at, p.created_at)")),
            environment);
        std::vector<std::string> carried;  // migrations of ended promotions newer than every entry so far
        for (const auto& row : rows) {
          auto sha = core::Sha::parse(row[1].c_str());
          if (!sha) continue;
          const std::string state = row[7].c_str();
          core::ProductionEntry entry{*sha, core::PromotionId{row[0].as<long long>()}, ms_to_ts(row[2]), {}};
          const std::string detail = row[4].c_str();
          const bool migrated = !row[5].is_null() && std::string_view(row[5].c_str()) != "planned";
          std::optional<core::Evidence> evidence;
          if (!row[6].is_null())
            if (auto e = evidence_from_json(nlohmann::json::parse(row[6].c_str())); e) evidence = std::move(*e);
          if (migrated) {
            entry.migrations = core::applied_migrations(detail, evidence ? &*evidence : nullptr);
            if (out.schema_state.empty()) out.schema_state = core::schema_state_of(detail);
          }
          if (state == "failed" || state == "aborted") {
            auto& into = out.entries.empty() ? carried : out.entries.back().migrations;
            into.insert(into.end(), entry.migrations.begin(), entry.migrations.end());
            continue;
          }
          entry.migrations.insert(entry.migrations.end(), carried.begin(), carried.end());
          carried.clear();
          out.entries.push_back(std::move(entry));
        }
        // A production release set without a promotion (seeded before promoterd ran) ends the history.
        const auto seeded = t.exec_params(
            fmt::format("SELECT sha, {} FROM production_releases WHERE environment = $1 AND promotion_id IS NULL",
                        ms("promoted_at")),
            environment);
        if (!seeded.empty())
          if (auto sha = core::Sha::parse(seeded[0][0].c_str()); sha)
            out.entries.push_back(core::ProductionEntry{*sha, std::nullopt, ms_to_ts(seeded[0][1]), {}});
        return out;
      });
}

}  // namespace promoter::adapters
