#include "adapters/pg_leadership.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

namespace promoter::adapters {

using core::ErrorCode;
using core::fail;

namespace {

// Client side: libpq's keepalives and TCP user timeout (milliseconds) on this socket.
constexpr std::string_view client_keepalives[][2] = {{"keepalives", "1"},
                                                     {"keepalives_idle", "2"},
                                                     {"keepalives_interval", "1"},
                                                     {"keepalives_count", "3"},
                                                     {"tcp_user_timeout", "5000"}};

std::string first_line(std::string_view text) {
  auto nl = text.find('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(0, nl));
}

std::optional<ports::LeaderInfo> info_from(const pqxx::result& rows) {
  if (rows.empty()) return std::nullopt;
  ports::LeaderInfo info;
  info.epoch = rows[0][0].as<long long>();
  info.holder = rows[0][1].c_str();
  info.advertise_url = rows[0][2].c_str();
  info.acquired_at = core::Timestamp{core::Duration{rows[0][3].as<long long>()}};
  return info;
}

constexpr const char* leader_columns = "epoch, holder, advertise_url, (extract(epoch from acquired_at) * 1000)::bigint";

}  // namespace

std::string with_keepalives(const std::string& url) {
  const bool uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
  std::string out = url;
  char separator = uri ? (url.find('?') == std::string::npos ? '?' : '&') : ' ';
  for (const auto& [key, value] : client_keepalives) {
    if (!out.empty() || uri) out += separator;
    out += fmt::format("{}={}", key, value);
    if (uri) separator = '&';
  }
  return out;
}

PgLeadership::PgLeadership(PgLeadershipOptions options)
    : options_(std::move(options)), connector_(with_keepalives(options_.database_url), 1) {}

PgLeadership::~PgLeadership() { release(); }

pqxx::connection& PgLeadership::connection() {
  if (connection_ && connection_->is_open()) return *connection_;
  connection_.reset();
  auto c = connector_.connect_dedicated();
  pqxx::nontransaction n(*c);
  // Server side: the lock is freed when the server stops hearing from this host, not two hours later.
  n.exec(
      "SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3; "
      "SET tcp_user_timeout = 5000");
  n.exec_params("SELECT set_config('application_name', $1, false)",
                fmt::format("promoterd standby {}", options_.instance).substr(0, 63));
  connection_ = std::move(c);
  return *connection_;
}

core::Result<std::optional<ports::LeaderInfo>> PgLeadership::try_acquire(core::Timestamp now) {
  std::lock_guard lock(mutex_);
  try {
    pqxx::connection& c = connection();
    {
      pqxx::nontransaction n(c);
      const bool got =
          n.exec_params1("SELECT pg_try_advisory_lock(hashtext('promoter-leader:' || $1))", options_.environment)[0]
              .as<bool>();
      if (!got) return std::nullopt;
    }
    try {
      pqxx::work w(c);
      // The row is read FOR SHARE by every fenced write: wait for those, but not forever.
      w.exec("SET LOCAL lock_timeout = '10s'");
      auto rows = w.exec_params(
          fmt::format("INSERT INTO leadership (environment, epoch, holder, advertise_url, acquired_at) VALUES ($1, 1, "
                      "$2, $3, $4::timestamptz) ON CONFLICT (environment) DO UPDATE SET epoch = leadership.epoch + 1, "
                      "holder = EXCLUDED.holder, advertise_url = EXCLUDED.advertise_url, acquired_at = "
                      "EXCLUDED.acquired_at RETURNING {}",
                      leader_columns),
          options_.environment, options_.instance, options_.advertise_url, core::format_timestamp(now));
      w.commit();
      // Operators (and the fencing tests) find the leader's lock session by its name.
      pqxx::nontransaction n(c);
      n.exec_params("SELECT set_config('application_name', $1, false)",
                    fmt::format("promoterd leader lock {}", options_.instance).substr(0, 63));
      return info_from(rows);
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const std::exception&) {
      // Holding the lock without having raised the epoch would lead nothing: give it back, then report.
      pqxx::nontransaction n(c);
      n.exec_params("SELECT pg_advisory_unlock(hashtext('promoter-leader:' || $1))", options_.environment);
      throw;
    }
  } catch (const pqxx::broken_connection& e) {
    connection_.reset();
    return fail(ErrorCode::unavailable, fmt::format("database unreachable while taking the {} leadership: {}",
                                                    options_.environment, first_line(e.what())));
  } catch (const std::exception& e) {
    return fail(ErrorCode::unavailable,
                fmt::format("taking the {} leadership: {}", options_.environment, first_line(e.what())));
  }
}

bool PgLeadership::confirm(std::int64_t epoch) {
  std::lock_guard lock(mutex_);
  // Never reconnect here: a new session would not hold the lock.
  if (!connection_ || !connection_->is_open()) return false;
  try {
    pqxx::nontransaction n(*connection_);
    const auto rows = n.exec_params("SELECT epoch FROM leadership WHERE environment = $1", options_.environment);
    return !rows.empty() && rows[0][0].as<long long>() == epoch;
  } catch (const std::exception&) {
    connection_.reset();
    return false;
  }
}

core::Result<std::optional<ports::LeaderInfo>> PgLeadership::current() {
  std::lock_guard lock(mutex_);
  try {
    pqxx::nontransaction n(connection());
    return info_from(n.exec_params(fmt::format("SELECT {} FROM leadership WHERE environment = $1", leader_columns),
                                   options_.environment));
  } catch (const std::exception& e) {
    connection_.reset();
    return fail(ErrorCode::unavailable,
                fmt::format("reading the {} leadership: {}", options_.environment, first_line(e.what())));
  }
}

void PgLeadership::release() {
  std::lock_guard lock(mutex_);
  // Unlock before closing: a closed socket frees the lock only once the server's backend has noticed,
  // and a standby should not wait for that.
  try {
    if (connection_ && connection_->is_open()) {
      pqxx::nontransaction n(*connection_);
      n.exec_params("SELECT pg_advisory_unlock(hashtext('promoter-leader:' || $1))", options_.environment);
    }
  } catch (const std::exception&) {
  }
  connection_.reset();
}

}  // namespace promoter::adapters
