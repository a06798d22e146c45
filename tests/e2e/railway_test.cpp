// promoterd against the fake Railway over real HTTP: staging tracked from webhooks and reconciliation
// without manual calls, and Railway production deploys of the exact commit, once, across a crash.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "tests/fakes/fake_railway.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace promoter::testing;
using nlohmann::json;
namespace asio = boost::asio;

namespace {

using tokens::bob;
using tokens::ci;
using tokens::viewer;
const std::string railway_token = "railway-fake-token-123456";
const std::string secret = "webhook-secret-0123456789abcdef";
const std::vector<std::string> services{"worker", "api", "www"};

fakes::FakeRailwayOptions railway_options(int deploy_reads_to_finish) {
  fakes::FakeRailwayOptions o;
  o.token = railway_token;
  o.deploy_reads_to_finish = deploy_reads_to_finish;
  return o;
}

// The fake Railway on a thread of its own; every call to it runs on that thread.
class RailwayFixture : public OnThread<fakes::FakeRailway> {
 public:
  explicit RailwayFixture(int deploy_reads_to_finish = 0) : OnThread(railway_options(deploy_reads_to_finish)) {}
  std::string url() {
    return call([this] { return fake().url(); });
  }

  // A merge to main: every staging service builds and deploys `sha`.
  std::vector<std::string> merge(const std::string& sha, const std::string& final_status = "SUCCESS") {
    std::vector<std::string> ids;
    for (const auto& s : services)
      ids.push_back(call([&] {
        return fake().add_deployment({"", "env-staging", "svc-" + s, "BUILDING", sha, "alice-gh", "merge", "main", {}});
      }));
    for (const auto& id : ids) call([&] { return fake().set_status(id, "DEPLOYING"); });
    for (const auto& id : ids) call([&] { return fake().set_status(id, final_status); });
    return ids;
  }
};

std::string config(const std::string& railway_url, const std::filesystem::path& dir, const std::string& soak) {
  ConfigBuilder builder(soak);
  builder
      .table("railway", {{"endpoint", railway_url},
                         {"token_env", "RW_TOKEN"},
                         {"webhook_secret_env", "RW_SECRET"},
                         {"reconcile_interval", "1s"},
                         {"poll_interval", "50ms"},
                         {"deploy_timeout", "1m"}})
      .table("migrations", {{"provider", "simulated"}})
      .table("simulation", {{"record_file", (dir / "effects.jsonl").string()}})
      .shared_tokens();
  for (const auto& s : services)
    builder.service(s, {{"staging", TomlValue::inline_table({{"provider", "railway"},
                                                             {"project_id", "proj-fake"},
                                                             {"environment_id", "env-staging"},
                                                             {"service_id", "svc-" + s}})},
                        {"production", TomlValue::inline_table({{"provider", "railway"},
                                                                {"project_id", "proj-fake"},
                                                                {"environment_id", "env-prod"},
                                                                {"service_id", "svc-" + s + "-prod"}})}});
  return builder.toml();
}

std::map<std::string, std::string> daemon_env(const std::string& name) {
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_railway_" + name);
  env["RW_TOKEN"] = railway_token;
  env["RW_SECRET"] = secret;
  return env;
}

struct Env {
  Env(const std::string& name, RailwayFixture& railway, const std::string& soak = "1h")
      : dir(temp_dir(name)), daemon(dir, config(railway.url(), dir, soak), daemon_env(name)) {
    daemon.start();
  }
  std::string webhook_url() const {
    return fmt::format("http://127.0.0.1:{}/webhooks/railway/{}", daemon.port(), secret);
  }
  std::optional<json> release(const std::string& sha) const {
    auto r = daemon.get("/v1/releases/" + sha, viewer);
    if (r.status == 404) return std::nullopt;
    REQUIRE(r.status == 200);
    return r.json();
  }
  std::string state(const std::string& sha) const {
    auto r = release(sha);
    return r ? (*r)["state"].get<std::string>() : "absent";
  }
  std::filesystem::path dir;
  Daemon daemon;
};

const std::string sha1 = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const std::string sha2 = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";

}  // namespace

TEST_CASE("a merge to main deployed to Railway staging becomes a soaking release without any manual call") {
  RailwayFixture railway;
  Env env("tracking", railway);
  railway.call([&] { railway.fake().set_webhook(env.webhook_url()); });
  auto ids = railway.merge(sha1);
  REQUIRE(eventually([&] { return env.state(sha1) == "soaking"; }));
  json r = *env.release(sha1);
  CHECK(r["author"] == "alice-gh");
  CHECK(r["deployments"].size() == 3);
  CHECK(r["soak"]["started_at"].is_string());

  // A crash of one service resets the soak.
  railway.call([&] { return railway.fake().set_status(ids[1], "CRASHED"); });
  REQUIRE(eventually([&] { return (*env.release(sha1))["soak"]["resets"] == 1; }));
  CHECK(env.state(sha1) == "deploying");
  CHECK((*env.release(sha1))["gates"]["soak"]["reason"] == "soak: not started (api is CRASHED)");

  // The webhook route itself: a wrong secret is no route, bad JSON is 400, alerts are accepted and ignored.
  CHECK(http(env.daemon.port(), "POST", "/webhooks/railway/wrong-secret", "{}").status == 404);
  CHECK(http(env.daemon.port(), "POST", "/webhooks/railway/" + secret, "{nope").status == 400);
  auto alert =
      http(env.daemon.port(), "POST", "/webhooks/railway/" + secret,
           R"({"type":"VolumeAlert.triggered","details":{},"resource":{},"timestamp":"2026-11-25T00:00:00Z"})");
  CHECK(alert.status == 200);
  CHECK(alert.json()["status"] == "ignored");
  // A deployment whose metadata has no commit is recorded and reported, never guessed into a release.
  const auto no_commit = railway.call([&] {
    return railway.fake().add_deployment(
        {"", "env-staging", "svc-www", "SUCCESS", std::nullopt, std::nullopt, std::nullopt, "main", {}});
  });
  const bool audited = eventually([&] {
    const json audit = env.daemon.get("/v1/audit?limit=200", viewer).json();  // named: the loop must not dangle
    for (const auto& e : audit["entries"])
      if (e["action"] == "staging.deployment_without_commit" &&
          e["detail"].get<std::string>().find(no_commit) != std::string::npos)
        return true;
    return false;
  });
  CHECK(audited);
  CHECK(env.daemon.get("/v1/releases", viewer).json()["releases"].size() == 1);
  auto huge = http(env.daemon.port(), "POST", "/webhooks/railway/" + secret, std::string(2 << 20, ' '));
  CHECK(huge.status == 413);
  CHECK((*env.release(sha1))["soak"]["resets"] == 1);  // nothing recorded was lost

  // The metrics saw the webhooks, the reconciler and the Railway calls, with bounded labels only.
  const std::string metrics = env.daemon.get("/metrics", "").body;
  INFO(metrics);
  CHECK(metrics.find(R"(promoter_webhook_events_total{result="accepted",type="deployment"} )") != std::string::npos);
  CHECK(metrics.find(R"(promoter_webhook_events_total{result="refused",type="unknown"} 1)") != std::string::npos);
  CHECK(metrics.find(R"(promoter_webhook_events_total{result="invalid",type="unknown"} 1)") != std::string::npos);
  CHECK(metrics.find(R"(promoter_webhook_events_total{result="ignored",type="other"} 1)") != std::string::npos);
  CHECK(metrics.find(R"(promoter_adapter_requests_total{adapter="railway",code="2xx",operation="GetDeployment"} )") !=
        std::string::npos);
  CHECK(metrics.find("\npromoter_reconciler_last_success_timestamp_seconds 0\n") == std::string::npos);
  CHECK(metrics.find(sha1.substr(0, 7)) == std::string::npos);
}

TEST_CASE("missed webhooks are caught by the reconciler") {
  RailwayFixture railway;
  Env env("missed", railway);
  // No webhook URL at all: only the reconciler can learn about the merge.
  railway.merge(sha1);
  REQUIRE(eventually([&] { return env.state(sha1) == "soaking"; }));
  const int before = railway.call([&] { return railway.fake().request_count("ListDeploymentsBatch"); });
  CHECK(before >= 1);
}

TEST_CASE("duplicated and reordered webhooks change nothing") {
  RailwayFixture railway;
  Env env("duplicates", railway);
  railway.call([&] { railway.fake().set_webhook(env.webhook_url()); });
  railway.merge(sha1);
  REQUIRE(eventually([&] { return env.state(sha1) == "soaking"; }));
  const json before = *env.release(sha1);
  const auto audit_before = env.daemon.get("/v1/audit?limit=1000&sha=" + sha1, viewer).json()["entries"].size();

  // Every webhook of the merge again, twice each, in a shuffled order, including stale BUILDING ones.
  std::vector<std::string> bodies;
  for (const auto& d : railway.call([&] { return railway.fake().deployments(); })) {
    auto stale = d;
    stale.status = "BUILDING";
    bodies.push_back(railway.call([&] { return railway.fake().webhook_payload(stale, fakes::WebhookShape::current); }));
    bodies.push_back(railway.call([&] { return railway.fake().webhook_payload(d, fakes::WebhookShape::legacy); }));
  }
  auto replay = fakes::FakeRailway::reordered(fakes::FakeRailway::duplicated(bodies), 42);
  auto results = railway.await(railway.fake().send_webhooks(env.webhook_url(), replay));
  for (const auto& r : results) {
    REQUIRE(r.has_value());
    CHECK(*r == 200);
  }
  const json after = *env.release(sha1);
  CHECK(after["state"] == before["state"]);
  CHECK(after["deployments"] == before["deployments"]);
  CHECK(after["soak"] == before["soak"]);
  CHECK(env.daemon.get("/v1/audit?limit=1000&sha=" + sha1, viewer).json()["entries"].size() == audit_before);
}

TEST_CASE("a Railway production promotion deploys the exact commit once per service, across a daemon crash") {
  RailwayFixture railway(/*deploy_reads_to_finish=*/8);
  Env env("production", railway, "1s");
  railway.call([&] { railway.fake().set_webhook(env.webhook_url()); });
  railway.merge(sha2);
  REQUIRE(eventually([&] { return env.state(sha2) == "soaking"; }));
  REQUIRE(env.daemon.post("/v1/releases/" + sha2 + "/smoke-results", {{"suite", "e2e"}, {"passed", true}}, ci).status ==
          200);
  REQUIRE(env.daemon.post("/v1/releases/" + sha2 + "/approve", json::object(), bob).status == 200);

  // Crash promoterd as soon as it has asked Railway for the first production deploy.
  REQUIRE(eventually([&] { return railway.call([&] { return railway.fake().request_count("DeployCommit"); }) >= 1; }));
  env.daemon.kill_hard();
  env.daemon.start();
  REQUIRE(eventually([&] { return env.state(sha2) == "promoted"; }, std::chrono::seconds(60)));

  CHECK(railway.call([&] { return railway.fake().request_count("DeployCommit"); }) == 3);
  std::map<std::string, int> per_service;
  for (const auto& d : railway.call([&] { return railway.fake().deployments(); })) {
    if (d.environment_id != "env-prod") continue;
    CHECK(d.commit_hash == sha2);
    CHECK(d.status == "SUCCESS");
    ++per_service[d.service_id];
  }
  CHECK(per_service == std::map<std::string, int>{{"svc-api-prod", 1}, {"svc-worker-prod", 1}, {"svc-www-prod", 1}});
  auto p = env.daemon.get("/v1/promotions/" + (*env.release(sha2))["promotion_id"].get<std::string>(), viewer).json();
  CHECK(p["state"] == "succeeded");
  CHECK(p["steps"][2]["detail"].get<std::string>().find("is live") != std::string::npos);
}

TEST_CASE("a webhook that arrives while the database is down gets 503, and its retry is recorded") {
  RailwayFixture railway;
  Env env("db_down", railway);
  const std::string db = "promoter_railway_db_down";
  auto ids = railway.merge(sha1);  // no webhook URL: the webhooks are sent by hand below
  const auto deployment = railway.call([&] { return *railway.fake().deployment(ids[0]); });
  const std::string body =
      railway.call([&] { return railway.fake().webhook_payload(deployment, fakes::WebhookShape::current); });

  auto admin = [&](const std::string& sql) {
    pqxx::connection c("dbname=postgres");
    pqxx::nontransaction n(c);
    n.exec(sql);
  };
  admin("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false");
  admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db + "'");
  auto down = railway.await(railway.fake().send_webhook(env.webhook_url(), body));
  REQUIRE(down.has_value());
  CHECK(*down == 503);
  CHECK(env.daemon.get("/readyz", "").status == 503);

  admin("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true");
  auto retried = railway.await(railway.fake().send_webhook(env.webhook_url(), body));
  REQUIRE(retried.has_value());
  CHECK(*retried == 200);
  auto r = env.release(sha1);
  REQUIRE(r.has_value());
  CHECK(eventually([&] { return env.state(sha1) == "soaking"; }));  // the reconciler fills in the rest
}

TEST_CASE("a webhook Railway's API does not confirm is acknowledged 202 ignored and audited; an API error is 503") {
  RailwayFixture railway;
  Env env("webhook_ignored", railway);
  auto ids = railway.merge(sha1);  // no webhook URL: the webhooks are sent by hand below
  CHECK(eventually([&] { return env.state(sha1) == "soaking"; }));
  const auto real = railway.call([&] { return *railway.fake().deployment(ids[1]); });  // api on staging
  auto payload = [&](fakes::FakeDeployment d) {
    return railway.call([&] { return railway.fake().webhook_payload(d, fakes::WebhookShape::current); });
  };
  auto post = [&](const std::string& body) {
    return http(env.daemon.port(), "POST", "/webhooks/railway/" + secret, body);
  };

  // A deployment id Railway answers "not found" for: retrying cannot help, so it is not a 503.
  auto unknown = real;
  unknown.id = "dep-railway-never-made";
  auto r = post(payload(unknown));
  CHECK_MESSAGE(r.status == 202, r.body);
  CHECK(r.json()["status"] == "ignored");
  CHECK(r.json()["reason"].get<std::string>().find("dep-railway-never-made") != std::string::npos);

  // A real deployment of another environment, claimed by the webhook for staging: Railway's word wins.
  const auto prod = railway.call([&] {
    return railway.fake().add_deployment(
        {"", "env-prod", "svc-api-prod", "SUCCESS", sha2, "alice-gh", "x", "main", {}});
  });
  auto elsewhere = real;
  elsewhere.id = prod;
  elsewhere.commit_hash = sha2;
  r = post(payload(elsewhere));
  CHECK_MESSAGE(r.status == 202, r.body);
  CHECK(r.json()["status"] == "ignored");
  CHECK(r.json()["reason"].get<std::string>().find("env-prod") != std::string::npos);
  CHECK(env.state(sha2) == "absent");

  // Webhooks for other environments and other projects of the token: acknowledged, not looked up.
  const int lookups = railway.call([&] { return railway.fake().request_count("GetDeployment"); });
  auto other_env = real;
  other_env.environment_id = "env-prod";
  other_env.service_id = "svc-api-prod";
  r = post(payload(other_env));
  CHECK_MESSAGE(r.status == 202, r.body);
  CHECK(r.json()["status"] == "ignored");
  auto other_project = real;
  other_project.project_id = "proj-someone-else";
  r = post(payload(other_project));
  CHECK_MESSAGE(r.status == 202, r.body);
  CHECK(r.json()["status"] == "ignored");
  CHECK(railway.call([&] { return railway.fake().request_count("GetDeployment"); }) == lookups);

  const bool audited = eventually([&] {
    const json audit = env.daemon.get("/v1/audit?limit=200", viewer).json();  // named: the loop must not dangle
    bool never_made = false, in_prod = false;
    for (const auto& e : audit["entries"]) {
      if (e["action"] != "staging.webhook_ignored") continue;
      const auto detail = e["detail"].get<std::string>();
      never_made = never_made || detail.find("dep-railway-never-made") != std::string::npos;
      in_prod = in_prod || detail.find(prod) != std::string::npos;
    }
    return never_made && in_prod;
  });
  CHECK(audited);

  // Railway answering with an error that is not "not found" (here: the token may not see it) may pass: 503,
  // so Railway retries.
  railway.call([&] {
    railway.fake().graphql_error_next(1000, "Not Authorized");
    return 0;
  });
  r = post(payload(real));
  CHECK_MESSAGE(r.status == 503, r.body);
  CHECK(env.state(sha1) == "soaking");  // nothing recorded was changed by any of it

  // The Railway token's budget is a metric labelled by its config section, never by the token.
  const std::string metrics = env.daemon.get("/metrics", "").body;
  CHECK_MESSAGE(
      metrics.find(R"(promoter_provider_budget_remaining{provider="railway",token="railway"} )") != std::string::npos,
      metrics);
  CHECK(metrics.find(railway_token.substr(0, 8)) == std::string::npos);
}
