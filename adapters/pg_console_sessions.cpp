// PgStore's ConsoleSessions (ports/console_sessions.hpp) on the table of sql/014_console_sessions.sql.
#include <utility>

#include "adapters/pg_store.hpp"
#include "adapters/pg_store_internal.hpp"

namespace promoter::adapters {

using namespace pg;

namespace {

std::string ms_text(core::Duration d) { return std::to_string(d.count()); }

}  // namespace

core::Result<void> PgStore::create_session(const std::string& id_digest, const ports::ConsoleSession& session,
                                           ports::SessionLifetime lifetime) {
  return with_connection("starting a console session", [&](pqxx::connection& c) -> core::Result<void> {
    pqxx::work w(c);
    w.exec_params(
        "DELETE FROM console_sessions WHERE created_at < $1::timestamptz - 2 * ($2::bigint * interval '1 millisecond')",
        ts(session.created_at), ms_text(lifetime.absolute));
    w.exec_params(
        "INSERT INTO console_sessions (id_digest, identity, token_digest, csrf_token, created_at, last_seen_at) "
        "VALUES (decode($1, 'hex'), $2, decode($3, 'hex'), $4, $5::timestamptz, $5::timestamptz)",
        id_digest, session.identity, session.token_digest, session.csrf_token, ts(session.created_at));
    w.commit();
    return {};
  });
}

core::Result<std::optional<ports::ConsoleSession>> PgStore::use_session(const std::string& id_digest,
                                                                        core::Timestamp now,
                                                                        ports::SessionLifetime lifetime) {
  return with_connection(
      "reading a console session", [&](pqxx::connection& c) -> core::Result<std::optional<ports::ConsoleSession>> {
        pqxx::work w(c);
        // One statement: a session seen live is the session whose last use moves.
        const auto rows =
            w.exec_params(fmt::format("UPDATE console_sessions SET last_seen_at = $2::timestamptz "
                                      "WHERE id_digest = decode($1, 'hex') AND revoked_at IS NULL "
                                      "AND last_seen_at > $2::timestamptz - $3::bigint * interval '1 millisecond' "
                                      "AND created_at > $2::timestamptz - $4::bigint * interval '1 millisecond' "
                                      "RETURNING identity, encode(token_digest, 'hex'), csrf_token, {}, {}",
                                      ms("created_at"), ms("last_seen_at")),
                          id_digest, ts(now), ms_text(lifetime.idle), ms_text(lifetime.absolute));
        if (rows.empty()) {
          // Not live: expired (if it exists unrevoked). Ended for good, whatever a clock set
          // back later says.
          w.exec_params(
              "UPDATE console_sessions SET revoked_at = $2::timestamptz, revoked_why = 'expired' "
              "WHERE id_digest = decode($1, 'hex') AND revoked_at IS NULL",
              id_digest, ts(now));
          w.commit();
          return std::nullopt;
        }
        w.commit();
        ports::ConsoleSession session;
        session.identity = rows[0][0].c_str();
        session.token_digest = rows[0][1].c_str();
        session.csrf_token = rows[0][2].c_str();
        session.created_at = ms_to_ts(rows[0][3]);
        session.last_seen_at = ms_to_ts(rows[0][4]);
        return session;
      });
}

core::Result<void> PgStore::revoke_session(const std::string& id_digest, core::Timestamp now,
                                           const std::string& reason) {
  return with_connection("ending a console session", [&](pqxx::connection& c) -> core::Result<void> {
    pqxx::work w(c);
    w.exec_params(
        "UPDATE console_sessions SET revoked_at = $2::timestamptz, revoked_why = $3 "
        "WHERE id_digest = decode($1, 'hex') AND revoked_at IS NULL",
        id_digest, ts(now), reason);
    w.commit();
    return {};
  });
}

core::Result<std::size_t> PgStore::revoke_sessions_without(const std::vector<std::string>& token_digests,
                                                           core::Timestamp now, const std::string& reason) {
  return with_connection("ending the console sessions of removed tokens",
                         [&](pqxx::connection& c) -> core::Result<std::size_t> {
                           std::string list;  // hex digits and commas only: safe as one array literal
                           for (const auto& digest : token_digests) {
                             if (digest.find_first_not_of("0123456789abcdef") != std::string::npos)
                               return core::fail(core::ErrorCode::invalid_argument, "a token digest is not hex");
                             if (!list.empty()) list += ',';
                             list += digest;
                           }
                           pqxx::work w(c);
                           const auto rows = w.exec_params(
                               "UPDATE console_sessions SET revoked_at = $1::timestamptz, revoked_why = $2 "
                               "WHERE revoked_at IS NULL AND NOT (encode(token_digest, 'hex') = ANY "
                               "(string_to_array($3, ','))) RETURNING 1",
                               ts(now), reason, list);
                           w.commit();
                           return rows.size();
                         });
}

}  // namespace promoter::adapters
