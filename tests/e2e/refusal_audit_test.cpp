// Requests without a valid token, audited in aggregate by the real promoterd: a flood of 401s is a
// handful of audit rows whose counts add up, and counts that could not be written during a database
// failure are written once it is back.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;

namespace {

const std::string bad_token = "not-a-token-anyone-was-given-0123";

struct Row {
  std::string actor, detail;
};

std::vector<Row> unauthenticated_rows(const std::string& conninfo) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction n(c);
  std::vector<Row> rows;
  for (const auto& r : n.exec("SELECT actor, detail FROM audit_log WHERE action = 'auth.unauthenticated' ORDER BY id"))
    rows.push_back(Row{r[0].c_str(), r[1].c_str()});
  return rows;
}

// "N refusals from ..." → N.
long count_of(const std::string& detail) { return std::stol(detail.substr(0, detail.find(' '))); }

double sample(const std::string& exposition, const std::string& series) {
  const auto at = exposition.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("a flood of 2,000 requests without a valid token leaves a handful of audit rows whose counts add up") {
  auto env = auth_tokens_env();
  const std::string conninfo = fresh_database("promoter_refusal_audit");
  env["PROMOTER_DATABASE_URL"] = conninfo;
  const auto dir = temp_dir("refusal_audit");
  Daemon daemon(dir, ConfigBuilder("30m").service("api").simulated(dir).shared_tokens().toml(), env);
  daemon.start();

  for (int i = 0; i < 1000; ++i) {
    REQUIRE(http(daemon.port(), "GET", "/v1/status").status == 401);
    REQUIRE(http(daemon.port(), "GET", "/v1/releases", "", bad_token).status == 401);
  }
  const auto metrics = daemon.get("/metrics", "").body;
  CHECK(sample(metrics, R"(promoter_auth_refusals_total{reason="missing_token"})") == 1000);
  CHECK(sample(metrics, R"(promoter_auth_refusals_total{reason="invalid_token"})") == 1000);
  // An authenticated caller's refusal (403) stays audited on its own.
  CHECK(daemon
            .post("/v1/hotfixes", {{"sha", std::string(40, 'd')}, {"reason", "r"}, {"incident_url", "https://i/1"}},
                  tokens::viewer)
            .status == 403);

  // Whatever minute is still open is written at shutdown.
  CHECK(daemon.terminate() == 0);
  const auto rows = unauthenticated_rows(conninfo);
  // One row per peer, route and reason per minute: two keys, over at most a few minutes.
  CHECK(rows.size() >= 2);
  CHECK(rows.size() <= 6);
  long missing = 0, invalid = 0;
  for (const auto& row : rows) {
    CAPTURE(row.detail);
    CHECK(row.actor == "anonymous");
    CHECK(row.detail.find(bad_token) == std::string::npos);
    if (row.detail.find("from 127.0.0.1 on GET /v1/status: missing bearer token between ") != std::string::npos)
      missing += count_of(row.detail);
    else if (row.detail.find("from 127.0.0.1 on GET /v1/releases: invalid bearer token between ") != std::string::npos)
      invalid += count_of(row.detail);
    else
      FAIL("unexpected row: " << row.detail);
  }
  CHECK(missing == 1000);
  CHECK(invalid == 1000);

  pqxx::connection c(conninfo);
  pqxx::nontransaction n(c);
  CHECK(n.exec("SELECT 1 FROM audit_log WHERE action = 'auth.forbidden' AND actor = 'dashboard'").size() == 1);
}

TEST_CASE("refusals whose audit write fails are kept and written once the database takes writes again") {
  auto env = auth_tokens_env();
  const std::string conninfo = fresh_database("promoter_refusal_outage");
  env["PROMOTER_DATABASE_URL"] = conninfo;
  const auto dir = temp_dir("refusal_outage");
  Daemon daemon(dir, ConfigBuilder("30m").service("api").simulated(dir).shared_tokens().toml(), env);
  daemon.start();

  // The audit table is unavailable: every audit write fails as it would with the database down.
  pqxx::connection admin(conninfo);
  pqxx::nontransaction sql(admin);
  sql.exec("ALTER TABLE audit_log RENAME TO audit_log_away");
  for (int i = 0; i < 25; ++i) REQUIRE(http(daemon.port(), "GET", "/v1/promotions").status == 401);
  // The minute closes and the daemon tries to write it: the failure is in its log.
  REQUIRE(eventually([&] { return daemon.log().find("could not audit refused requests") != std::string::npos; },
                     std::chrono::seconds(120)));
  CHECK(daemon.log().find("could not audit refused requests") != std::string::npos);

  sql.exec("ALTER TABLE audit_log_away RENAME TO audit_log");
  std::vector<Row> rows;
  REQUIRE(eventually(
      [&] {
        rows = unauthenticated_rows(conninfo);
        return !rows.empty();
      },
      std::chrono::seconds(60)));
  REQUIRE(rows.size() == 1);
  CAPTURE(rows[0].detail);
  CHECK(count_of(rows[0].detail) == 25);
  CHECK(rows[0].detail.find("from 127.0.0.1 on GET /v1/promotions: missing bearer token") != std::string::npos);
  CHECK(rows[0].detail.find("the database was unavailable") != std::string::npos);
  CHECK(daemon.terminate() == 0);
}
