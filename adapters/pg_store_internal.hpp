#pragma once
// What PgStore's source files share: time conversions, the fencing refusal, the audit insert, and the one
// place libpqxx exceptions become core errors (with_connection). Not for use outside adapters/pg_store*.cpp.
#include <fmt/format.h>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <string_view>

#include "adapters/pg_store.hpp"
#include "core/error.hpp"
#include "core/fact.hpp"
#include "core/promotion_plan.hpp"
#include "ports/promotion_journal.hpp"
#include "core/time.hpp"

// libpqxx 6.4 has no std::optional parameters: pass them as text or NULL.
namespace pqxx {
template <>
struct string_traits<std::optional<std::string>> {
  static constexpr const char* name() noexcept { return "std::optional<std::string>"; }
  static constexpr bool has_null() noexcept { return true; }
  static bool is_null(const std::optional<std::string>& v) { return !v.has_value(); }
  static std::optional<std::string> null() { return std::nullopt; }
  static void from_string(const char* str, std::optional<std::string>& obj) { obj = std::string(str); }
  static std::string to_string(const std::optional<std::string>& obj) { return obj.value_or(""); }
};
}  // namespace pqxx

namespace promoter::adapters::pg {

using core::ErrorCode;
using core::fail;
using core::Timestamp;

inline std::string first_line(std::string_view text) {
  auto nl = text.find('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(0, nl));
}

// libpq's words (constraint names, "Could not obtain client encoding") go to the log, never to clients:
// the message is a sentence for people and the detail carries the driver's text.
inline std::unexpected<core::Error> database_error(ErrorCode code, std::string message, std::string_view driver_text) {
  return std::unexpected(core::Error{code, std::move(message), first_line(driver_text)});
}

inline std::string ts(Timestamp t) { return core::format_timestamp(t); }

inline const char* opt_ts(const std::optional<Timestamp>& t, std::string& storage) {
  if (!t) return nullptr;
  storage = ts(*t);
  return storage.c_str();
}

inline Timestamp ms_to_ts(const pqxx::field& f) { return Timestamp{core::Duration{f.as<long long>()}}; }
inline std::optional<Timestamp> opt_ms(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return ms_to_ts(f);
}

// SQL expression giving a timestamptz column as milliseconds since the epoch.
inline std::string ms(std::string_view column) {
  return fmt::format("(extract(epoch from {}) * 1000)::bigint", column);
}

// A write refused by fencing: this instance is not (or no longer) the leader.
struct NotLeader : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One audit entry, stamped with the epoch it was written under (none when the store is not fenced).
inline void insert_audit(pqxx::transaction_base& w, std::optional<std::int64_t> epoch, Timestamp at,
                         const std::string& actor, const std::string& action, const std::optional<std::string>& sha,
                         const std::string& detail) {
  w.exec_params(
      "INSERT INTO audit_log (at, actor, action, sha, detail, epoch) VALUES ($1::timestamptz, $2, $3, $4, $5, $6)",
      ts(at), actor, action, sha, detail,
      epoch ? std::optional<std::string>(std::to_string(*epoch)) : std::optional<std::string>());
}

// A promotion's (or a rollback's) journal: one planned row per step of its plan.
inline void insert_promotion_steps(pqxx::transaction_base& w, core::PromotionId promotion,
                                   const core::PromotionPlan& plan) {
  for (const auto& step : plan.steps)
    w.exec_params(
        "INSERT INTO promotion_steps (promotion_id, idx, kind, service, name, state, idempotency_key) VALUES "
        "($1, $2, $3, $4, $5, 'planned', $6)",
        promotion.value(), step.index, std::string(core::to_string(step.kind)),
        step.service.empty() ? std::nullopt : std::optional<std::string>(step.service), step.name(),
        core::idempotency_key(promotion, step));
}

// Rollbacks and pins (adapters/pg_rollbacks.cpp).
void write_rollback_opened(pqxx::transaction_base&, const std::string& environment, const core::Rollback&);
core::PromotionId write_rollback_started(pqxx::transaction_base&, const std::string& environment, Timestamp now,
                                         const core::RollbackStarted&);
void write_rollback_ended(pqxx::transaction_base&, const std::string& environment, Timestamp now);
void write_pin(pqxx::transaction_base&, const std::string& environment, const core::PinChanged&);
std::optional<core::Pin> read_pin(pqxx::transaction_base&, const std::string& environment);
std::optional<core::Rollback> read_open_rollback(pqxx::transaction_base&, const std::string& environment);
// Two columns for promotion listings: the rollback that followed the promotion, and (for a rollback row) what it
// carries, as JSON; read_rollback_columns puts them on the record.
std::string rollback_columns();
void read_rollback_columns(const pqxx::field& rolled_back_by, const pqxx::field& info, ports::PromotionRecord&);

}  // namespace promoter::adapters::pg

namespace promoter::adapters {

template <class F>
auto PgStore::with_connection(std::string_view what, F&& f) -> decltype(f(std::declval<pqxx::connection&>())) {
  try {
    auto lease = pool_.acquire();
    try {
      return f(*lease);
    } catch (const pqxx::broken_connection&) {
      lease.discard();
      throw;
    }
  } catch (const pqxx::broken_connection& e) {
    return pg::database_error(core::ErrorCode::unavailable,
                              fmt::format("the database is unreachable ({}); retry later", what), e.what());
  } catch (const pg::NotLeader& e) {
    // Written for people already, and carries no database text.
    return core::fail(core::ErrorCode::not_leader, fmt::format("not {}: {}", what, e.what()));
  } catch (const pqxx::unique_violation& e) {
    return pg::database_error(core::ErrorCode::conflict,
                              fmt::format("{} conflicts with what another request recorded at the same time; read the "
                                          "current state and retry if it still applies",
                                          what),
                              e.what());
  } catch (const pqxx::sql_error& e) {
    return pg::database_error(core::ErrorCode::internal,
                              fmt::format("the database failed while {}; see promoterd's log", what), e.what());
  } catch (const std::invalid_argument& e) {
    // PgPool's refusal of a malformed connection string: written for people, password redacted.
    return core::fail(core::ErrorCode::internal, fmt::format("cannot connect to the database: {}", e.what()));
  } catch (const std::exception& e) {
    return pg::database_error(core::ErrorCode::internal,
                              fmt::format("unexpected error while {}; see promoterd's log", what), e.what());
  }
}

}  // namespace promoter::adapters
