#include "adapters/pg_flag_reader.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <optional>
#include <pqxx/pqxx>

#include "adapters/pg_pool.hpp"

namespace promoter::adapters {

namespace {

// "schema.table" or "table", each part quoted. Empty parts or more than one dot are refused.
std::expected<std::string, std::string> quoted_table(pqxx::connection_base& connection, const std::string& name) {
  const auto dot = name.find('.');
  if (dot == std::string::npos) {
    if (name.empty()) return std::unexpected("the flag table name is empty");
    return connection.quote_name(name);
  }
  const auto schema = name.substr(0, dot);
  const auto table = name.substr(dot + 1);
  if (schema.empty() || table.empty() || table.find('.') != std::string::npos) {
    return std::unexpected("the flag table \"" + name + "\" is neither TABLE nor SCHEMA.TABLE");
  }
  return connection.quote_name(schema) + "." + connection.quote_name(table);
}

// `url` with a connect_timeout, unless it names one already: a URI gets a query parameter, a key=value string
// one more pair.
std::string with_connect_timeout(const std::string& url, std::chrono::milliseconds timeout) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  const auto seconds = std::max<long long>(1, (timeout.count() + 999) / 1000);
  const bool uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
  if (!uri) return url + (url.empty() ? "" : " ") + "connect_timeout=" + std::to_string(seconds);
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + std::to_string(seconds);
}

AdapterError error(AdapterError::Kind kind, const std::string& url, const std::string& what) {
  // redact_connection_string with the URL as given and as sent (the timeout appended) hides both.
  return AdapterError{kind, 0, redact_connection_string(what, url)};
}

}  // namespace

std::expected<std::vector<core::FlagSighting>, AdapterError> read_feature_flags(const std::string& url,
                                                                                const FlagTable& table,
                                                                                std::chrono::milliseconds timeout) {
  const std::string where = "feature flags (" + table.table + ")";
  const std::string sent = with_connect_timeout(url, timeout);
  std::optional<pqxx::connection> connection;
  try {
    connection.emplace(sent);
  } catch (const std::exception& e) {
    return std::unexpected(error(AdapterError::Kind::transport, url,
                                 redact_connection_string(where + ": cannot connect: " + e.what(), sent)));
  }
  try {
    auto quoted = quoted_table(*connection, table.table);
    if (!quoted) return std::unexpected(AdapterError{AdapterError::Kind::protocol, 0, where + ": " + quoted.error()});
    const auto key = connection->quote_name(table.key_column);
    const auto enabled = connection->quote_name(table.enabled_column);
    // A table without an update time ([flags] updated_at_column = ""): changes then carry the observed time.
    const std::string updated = table.updated_at_column.empty()
                                    ? std::string("NULL::bigint")
                                    : fmt::format("floor(extract(epoch from {}) * 1000)::bigint",
                                                  connection->quote_name(table.updated_at_column));

    pqxx::read_transaction tx(*connection);
    // Belt and braces: the transaction must say it is read only before anything is read.
    const auto read_only = tx.exec1("SHOW transaction_read_only")[0].as<std::string>();
    if (read_only != "on") {
      return std::unexpected(
          AdapterError{AdapterError::Kind::protocol, 0, where + ": the transaction is not read only; nothing read"});
    }
    tx.exec0(fmt::format("SET LOCAL statement_timeout = {}", std::max<long long>(1, timeout.count())));
    // Milliseconds since the epoch, so the reader needs no text format of timestamps.
    const auto rows = tx.exec(
        fmt::format("SELECT {0}::text, {1} IS TRUE, {2} FROM {3} ORDER BY {0}", key, enabled, updated, *quoted));
    std::vector<core::FlagSighting> out;
    out.reserve(rows.size());
    for (const auto& row : rows) {
      if (row[0].is_null()) continue;  // a NULL key names no flag
      core::FlagSighting flag;
      flag.key = row[0].as<std::string>();
      flag.enabled = row[1].as<bool>();
      if (!row[2].is_null()) flag.updated_at = core::Timestamp{core::Duration{row[2].as<long long>()}};
      out.push_back(std::move(flag));
    }
    tx.commit();
    // ORDER BY follows the column's collation; callers compare keys as bytes.
    std::ranges::sort(out, {}, &core::FlagSighting::key);
    // A table without a unique key may list a key twice: one sighting per key (the first), as the diff expects.
    const auto [first, last] = std::ranges::unique(out, {}, &core::FlagSighting::key);
    out.erase(first, last);
    return out;
  } catch (const pqxx::broken_connection& e) {
    return std::unexpected(error(AdapterError::Kind::transport, url, where + ": connection lost: " + e.what()));
  } catch (const pqxx::sql_error& e) {
    const bool timed_out = e.sqlstate() == "57014";  // query_canceled: statement_timeout
    return std::unexpected(error(timed_out ? AdapterError::Kind::timeout : AdapterError::Kind::protocol, url,
                                 where + ": " + (timed_out ? "timed out: " : "") + e.what() +
                                     " (check the table and column names in the flag table settings)"));
  } catch (const std::exception& e) {
    return std::unexpected(error(AdapterError::Kind::protocol, url, where + ": " + e.what()));
  }
}

}  // namespace promoter::adapters
