// Who may do what: every route of the real promoterd × {no token, a bad token, viewer, ci, operator},
// each with the exact status. Requests that pass authorisation are shaped to change nothing (unknown
// SHAs and ids, an unconfigured service), so the matrix measures access, not state.
#include <utility>

#include <doctest/doctest.h>
#include <cstdlib>
#include <set>
#include <sstream>
#include <fmt/format.h>

#include "tests/support/config_builder.hpp"
#include "tests/support/sse_client.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace promoter::testing;
using nlohmann::json;

namespace {

const std::string unknown_sha(40, 'd');
const std::string bad_token = "not-a-token-anyone-was-given-0123";

struct Case {
  std::string method;
  std::string pattern;  // as the router names it
  std::string target;
  json body;
  // The status for each caller: no token, bad token, viewer, ci, operator.
  std::array<unsigned, 5> expect;
};

}  // namespace

TEST_CASE("every route answers each caller with the exact status; refusals are audited without the token") {
  auto env = auth_tokens_env();
  const std::string conninfo = fresh_database("promoter_auth_matrix");
  // A URL with the cluster's password in it, so the secrets check (tests/scripts/check_secrets) looks for
  // that password in everything this daemon prints.
  const char* password = std::getenv("PGPASSWORD");
  const char* port = std::getenv("PGPORT");
  env["PROMOTER_DATABASE_URL"] =
      password && port && *password
          ? fmt::format("postgresql://{}:{}@localhost:{}/promoter_auth_matrix",
                        std::getenv("PGUSER") ? std::getenv("PGUSER") : "postgres", password, port)
          : conninfo;
  const std::string toml = ConfigBuilder("30m").shared_tokens().service("api").toml();
  const auto dir = temp_dir("auth_matrix");
  Daemon daemon(dir, toml, env);
  daemon.start();

  const json nothing = nullptr;
  const std::vector<Case> cases{
      {"GET", "/healthz", "/healthz", nothing, {200, 200, 200, 200, 200}},
      {"GET", "/readyz", "/readyz", nothing, {200, 200, 200, 200, 200}},
      {"GET", "/metrics", "/metrics", nothing, {200, 200, 200, 200, 200}},
      {"GET", "/v1/status", "/v1/status", nothing, {401, 401, 200, 200, 200}},
      {"GET", "/v1/releases", "/v1/releases", nothing, {401, 401, 200, 200, 200}},
      {"GET", "/v1/releases/{sha}", "/v1/releases/" + unknown_sha, nothing, {401, 401, 404, 404, 404}},
      {"POST",
       "/v1/releases/{sha}/approve",
       "/v1/releases/" + unknown_sha + "/approve",
       json::object(),
       {401, 401, 403, 403, 404}},
      {"POST",
       "/v1/releases/{sha}/reject",
       "/v1/releases/" + unknown_sha + "/reject",
       json{{"reason", "no"}},
       {401, 401, 403, 403, 404}},
      {"POST",
       "/v1/releases/{sha}/smoke-results",
       "/v1/releases/" + unknown_sha + "/smoke-results",
       json{{"suite", "e2e"}, {"passed", true}},
       {401, 401, 403, 404, 404}},
      {"POST",
       "/v1/staging-deployments",
       "/v1/staging-deployments",
       json{{"service", "unconfigured"}, {"sha", unknown_sha}, {"deployment_id", "d"}, {"status", "SUCCESS"}},
       {401, 401, 403, 400, 400}},
      {"GET", "/v1/promotions", "/v1/promotions", nothing, {401, 401, 200, 200, 200}},
      {"GET", "/v1/promotions/{id}", "/v1/promotions/999", nothing, {401, 401, 404, 404, 404}},
      {"POST",
       "/v1/promotions/{id}/abort",
       "/v1/promotions/999/abort",
       json{{"reason", "wrong build"}},
       {401, 401, 403, 403, 404}},
      {"GET", "/v1/audit", "/v1/audit", nothing, {401, 401, 200, 200, 200}},
      {"POST",
       "/v1/hotfixes",
       "/v1/hotfixes",
       json{{"sha", unknown_sha}, {"reason", "outage"}, {"incident_url", "https://inc.example/1"}},
       {401, 401, 403, 403, 404}},
      {"GET", "/v1/obligations", "/v1/obligations", nothing, {401, 401, 200, 200, 200}},
      {"GET", "/v1/env", "/v1/env", nothing, {401, 401, 200, 200, 200}},
      {"GET", "/v1/flags", "/v1/flags", nothing, {401, 401, 200, 200, 200}},
      {"POST",
       "/v1/obligations/{id}/close",
       "/v1/obligations/999/close",
       json{{"link", "https://review.example/1"}},
       {401, 401, 403, 403, 404}},
      {"GET", "/v1/freezes", "/v1/freezes", nothing, {401, 401, 200, 200, 200}},
      // The operator stops the line, then lifts it: the lift finds the stop to lift.
      {"POST", "/v1/freeze", "/v1/freeze", json{{"reason", "matrix"}}, {401, 401, 403, 403, 200}},
      {"POST", "/v1/unfreeze", "/v1/unfreeze", json{{"reason", "matrix done"}}, {401, 401, 403, 403, 200}},
      // Nothing is production and nothing is pinned: the operator passes the role check and is refused by the
      // rules.
      {"POST", "/v1/rollbacks", "/v1/rollbacks", json{{"reason", "matrix"}}, {401, 401, 403, 403, 409}},
      {"POST", "/v1/resume", "/v1/resume", json{{"reason", "matrix"}}, {401, 401, 403, 403, 409}},
      // The console: its page is public; signing in takes the token from the body, so the header does not count.
      {"GET", "/ui", "/ui", nothing, {308, 308, 308, 308, 308}},
      {"GET", "/ui/", "/ui/", nothing, {200, 200, 200, 200, 200}},
      {"GET", "/ui/{file}", "/ui/missing.js", nothing, {404, 404, 404, 404, 404}},
      {"POST", "/v1/session", "/v1/session", json{{"token", bad_token}}, {401, 401, 401, 401, 401}},
      {"GET", "/v1/session", "/v1/session", nothing, {401, 401, 200, 200, 200}},
      {"DELETE", "/v1/session", "/v1/session", nothing, {401, 401, 204, 204, 204}},
      // A stream: its status is read from the response header (the body lasts until it is closed).
      {"GET", "/v1/events", "/v1/events", nothing, {401, 401, 200, 200, 200}},
  };
  // The matrix covers exactly the routes this daemon serves (the Railway webhook, authenticated by the
  // secret in its path, is not served without [railway]; tests/e2e/railway_test covers it).
  std::string listed;
  REQUIRE(run_program({PROMOTERD_BIN, "--config", (dir / "promoter.toml").string(), "--list-routes"}, env, listed) ==
          0);
  std::set<std::string> served, covered;
  std::istringstream lines(listed);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) served.insert(line);
  for (const auto& c : cases) covered.insert(c.method + " " + c.pattern);
  CHECK(served == covered);

  const std::array<std::string, 5> callers{"", bad_token, tokens::viewer, tokens::ci, tokens::alice};
  const std::array<std::string, 5> caller_names{"no token", "bad token", "viewer", "ci", "operator"};

  for (const auto& c : cases) {
    for (std::size_t i = 0; i < callers.size(); ++i) {
      CAPTURE(c.method);
      CAPTURE(c.target);
      CAPTURE(caller_names[i]);
      if (c.pattern == "/v1/events") {
        std::vector<std::pair<std::string, std::string>> headers;
        if (!callers[i].empty()) headers.emplace_back("Authorization", "Bearer " + callers[i]);
        SseClient stream(daemon.port(), c.target, headers);
        CHECK(stream.status() == c.expect[i]);
        continue;
      }
      auto reply = http(daemon.port(), c.method, c.target, c.body.is_null() ? "" : c.body.dump(), callers[i]);
      CHECK(reply.status == c.expect[i]);
      if (reply.status == 401) {
        CHECK(reply.headers["www-authenticate"] == "Bearer");
        CHECK(reply.json()["error"]["code"] == "unauthorized");
      }
      if (reply.status == 403) {
        CHECK(reply.json()["error"]["message"].get<std::string>().find("needs") != std::string::npos);
      }
      CHECK(reply.body.find(bad_token) == std::string::npos);
      CHECK(reply.body.find(tokens::viewer) == std::string::npos);
    }
  }

  // Refusals reach the audit trail, naming who and what, never the token that was presented. A 403 is
  // written at once; 401s are counted per peer, route and reason and written when their minute closes or
  // at shutdown, so restart to see them now.
  CHECK(daemon.terminate() == 0);
  daemon.start();
  const auto audit = daemon.get("/v1/audit?limit=1000", tokens::viewer).body;
  CHECK(audit.find("auth.unauthenticated") != std::string::npos);
  CHECK(audit.find("auth.forbidden") != std::string::npos);
  CHECK(audit.find("POST /v1/hotfixes") != std::string::npos);
  CHECK(audit.find("1 refusal from 127.0.0.1 on POST /v1/hotfixes: invalid bearer token") != std::string::npos);
  for (const auto& token : {bad_token, tokens::viewer, tokens::ci, tokens::alice}) {
    CHECK(audit.find(token) == std::string::npos);
    CHECK(daemon.get("/metrics", "").body.find(token) == std::string::npos);
    CHECK(daemon.log().find(token) == std::string::npos);
  }
}
