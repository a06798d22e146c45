// PgStore's EventLog (ports/event_log.hpp) on the table of sql/015_events.sql.
#include <utility>

#include "adapters/pg_store.hpp"
#include "adapters/pg_store_internal.hpp"

namespace promoter::adapters {

using namespace pg;

core::Result<std::vector<ports::ChangeEvent>> PgStore::events_after(std::int64_t after,
                                                                    std::optional<std::int64_t> up_to, int limit) {
  return with_connection("reading events", [&](pqxx::connection& c) -> core::Result<std::vector<ports::ChangeEvent>> {
    pqxx::read_transaction t(c);
    const std::string bound = up_to ? std::to_string(*up_to) : "";
    const auto rows = t.exec_params(
        fmt::format("SELECT id, kind, {}, sha, promotion_id FROM events WHERE id > $1 AND ($2::bigint IS NULL OR id <= "
                    "$2::bigint) ORDER BY id LIMIT $3",
                    ms("at")),
        after, up_to ? bound.c_str() : nullptr, limit);
    std::vector<ports::ChangeEvent> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
      ports::ChangeEvent e;
      e.id = row[0].as<std::int64_t>();
      e.kind = row[1].c_str();
      e.at = ms_to_ts(row[2]);
      if (!row[3].is_null()) e.sha = row[3].c_str();
      if (!row[4].is_null()) e.promotion_id = row[4].as<std::int64_t>();
      out.push_back(std::move(e));
    }
    return out;
  });
}

core::Result<std::pair<std::int64_t, std::int64_t>> PgStore::event_id_range() {
  return with_connection("reading events",
                         [&](pqxx::connection& c) -> core::Result<std::pair<std::int64_t, std::int64_t>> {
                           pqxx::read_transaction t(c);
                           // max(id) and min(id) read the primary key's two ends.
                           const auto row = t.exec1("SELECT coalesce(max(id), 0), coalesce(min(id), 0) FROM events");
                           return std::pair{row[0].as<std::int64_t>(), row[1].as<std::int64_t>()};
                         });
}

core::Result<std::size_t> PgStore::prune_events(core::Timestamp before) {
  return with_connection("pruning events", [&](pqxx::connection& c) -> core::Result<std::size_t> {
    pqxx::work w(c);
    const auto result = w.exec_params("DELETE FROM events WHERE at < $1::timestamptz", ts(before));
    w.commit();
    return result.affected_rows();
  });
}

}  // namespace promoter::adapters
