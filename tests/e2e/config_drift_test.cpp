// Configuration drift end to end: real promoterd, real PostgreSQL, the fake Railway (staging, and worker's
// production) and the fake Fly (api's production), and two scratch databases standing in for staging's and
// production's feature_flags tables. A release waits while production lacks a variable staging has, and promotes
// once the fake adds it; a variable or a flag changed in production first is reported (audit, metric, chat notice,
// /v1/status) without blocking anything. Every value the fakes and the flag tables hold carries a marker, and
// nothing promoterd printed, stored, counted or answered contains it.
#include <utility>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fstream>
#include <pqxx/pqxx>
#include <set>

#include "tests/fakes/fake_fly.hpp"
#include "tests/fakes/fake_railway.hpp"
#include "tests/fakes/http_receiver.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace promoter::testing;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string railway_token = "railway-fake-token-drift-0001";
const std::string fly_token = "fly-fake-token-drift-000000001";
const std::string marker = "VALUE-MARKER-7f3a9c1e5b";
const std::string hook_path = "/services/T000/B000/drift-hook";
const std::string sha1 = "d1f1d1f1d1f1d1f1d1f1d1f1d1f1d1f1d1f1d1f1";

fakes::FakeRailwayOptions railway_options() {
  fakes::FakeRailwayOptions o;
  o.token = railway_token;
  o.value_marker = marker;
  return o;
}

fakes::FakeFlyOptions fly_options() {
  fakes::FakeFlyOptions o;
  o.token = fly_token;
  o.value_marker = marker;
  return o;
}

fakes::FakeVariable variable(const std::string& service_id, const std::string& name, const std::string& value) {
  fakes::FakeVariable v;
  v.name = name;
  v.service_id = service_id;
  v.value = value;
  return v;
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// A feature_flags table as the app keeps it: a payload column promoterd must never read.
std::string flag_database(const std::string& name) {
  const std::string url = fresh_database(name);
  pqxx::connection c(url);
  pqxx::work w(c);
  w.exec(
      "CREATE TABLE feature_flags (key text PRIMARY KEY, enabled boolean NOT NULL, updated_at timestamptz NOT NULL "
      "DEFAULT now(), payload text)");
  w.commit();
  return url;
}

void set_flag(const std::string& url, const std::string& key, bool enabled) {
  pqxx::connection c(url);
  pqxx::work w(c);
  w.exec_params(
      "INSERT INTO feature_flags (key, enabled, payload) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET "
      "enabled = EXCLUDED.enabled, updated_at = now()",
      key, enabled, "limits-" + marker);
  w.commit();
}

struct DriftWorld {
  OnThread<fakes::FakeRailway> railway{railway_options()};
  OnThread<fakes::FakeFly> fly{fly_options()};
  OnThread<fakes::HttpReceiver> hook;
  fs::path dir = temp_dir("config_drift_e2e");
  std::string database = fresh_database("promoter_config_drift_e2e");
  std::string staging_flags = flag_database("config_drift_flags_staging");
  std::string production_flags = flag_database("config_drift_flags_production");
  std::unique_ptr<Daemon> daemon;

  DriftWorld() {
    for (int i = 0; i < 2; ++i) {
      fakes::FakeMachineSpec spec;
      spec.app = "rotor-api";
      spec.id = fmt::format("api{:02d}000000000", i + 1);
      spec.image = "registry.fly.io/rotor-api:previous";
      spec.checks = {"http"};
      spec.env = {{"SESSION_SECRET", "session-" + marker}};
      fly.call([&] { return fly.fake().add_machine(spec); });
    }
    // What both environments hold before promoterd starts: its first observation is the baseline.
    railway.call([&] {
      auto& f = railway.fake();
      f.upsert_variable("env-staging", variable("svc-worker", "QUEUE_URL", "amqp://staging"));
      f.upsert_variable("env-staging", variable("svc-api", "STRIPE_KEY", "sk_test"));
      f.upsert_variable("env-production", variable("svc-worker", "QUEUE_URL", "amqp://production"));
      f.upsert_variable("env-production", variable("svc-worker", "DATABASE_URL", "postgres://production"));
      return 0;
    });
    fly.call([&] {
      fly.fake().set_secret("rotor-api", "STRIPE_KEY", "sk_live");
      return 0;
    });
    set_flag(staging_flags, "billing_v2", false);
    set_flag(production_flags, "billing_v2", false);

    auto env = auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = database;
    env["RW_TOKEN"] = railway_token;
    env["FLY_TOKEN"] = fly_token;
    env["STAGING_FLAGS_URL"] = staging_flags;
    env["PRODUCTION_FLAGS_URL"] = production_flags;
    env["T_HOOK"] = hook.call([&] { return hook.fake().url(hook_path); });
    daemon = std::make_unique<Daemon>(dir, config(), env);
    daemon->start();
  }

  std::string config() {
    ConfigBuilder builder("0ms");
    builder
        .table("railway", {{"endpoint", railway.call([&] { return railway.fake().url(); })},
                           {"token_env", "RW_TOKEN"},
                           {"reconcile_interval", "1s"},
                           {"poll_interval", "50ms"},
                           {"requests_per_hour", 1000000}})
        .table("fly", {{"endpoint", fly.call([&] { return fly.fake().url(); })},
                       {"token_env", "FLY_TOKEN"},
                       {"poll_interval", "50ms"},
                       {"requests_per_hour", 1000000}})
        .table("env", {{"require_env", true},
                       {"interval", "1s"},
                       {"production_only", TomlValue::literal(R"([{ name = "DATABASE_URL", reason = "each )"
                                                              R"(environment has its own database" }])")}})
        .table("flags", {{"staging_url_env", "STAGING_FLAGS_URL"},
                         {"production_url_env", "PRODUCTION_FLAGS_URL"},
                         {"interval", "1s"}})
        .table("migrations", {{"enabled", false}})
        .table("notifications", {{"slack_webhook_url_env", "T_HOOK"}, {"max_attempts", 3}, {"backoff", "50ms"}})
        .shared_tokens();
    builder.service("worker", {{"staging", TomlValue::inline_table({{"provider", "railway"},
                                                                    {"project_id", "proj-fake"},
                                                                    {"environment_id", "env-staging"},
                                                                    {"service_id", "svc-worker"}})},
                               {"production", TomlValue::inline_table({{"provider", "railway"},
                                                                       {"project_id", "proj-fake"},
                                                                       {"environment_id", "env-production"},
                                                                       {"service_id", "svc-worker"}})}});
    builder.service("api", {{"staging", TomlValue::inline_table({{"provider", "railway"},
                                                                 {"project_id", "proj-fake"},
                                                                 {"environment_id", "env-staging"},
                                                                 {"service_id", "svc-api"}})},
                            {"production", TomlValue::inline_table({{"provider", "fly"},
                                                                    {"app", "rotor-api"},
                                                                    {"image", "registry.fly.io/rotor-api:{sha}"}})}});
    return builder.toml();
  }

  json get(const std::string& target) {
    auto r = daemon->get(target, tokens::viewer);
    REQUIRE_MESSAGE(r.status == 200, target << ": " << r.body);
    return r.json();
  }

  json service_env(const std::string& service) {
    const json body = get("/v1/env?service=" + service);
    REQUIRE(body["services"].size() == 1);
    return body["services"][0];
  }

  bool observed(const std::string& service) {
    const json s = service_env(service);
    return !s["staging"].is_null() && !s["production"].is_null();
  }

  std::string state(const std::string& sha) {
    auto r = daemon->get("/v1/releases/" + sha, tokens::viewer);
    return r.status == 200 ? r.json()["state"].get<std::string>() : "absent";
  }

  json gate(const std::string& sha, const std::string& name) { return get("/v1/releases/" + sha)["gates"][name]; }

  // A merge to main, live on both staging services; CI's smoke suite passed and bob approved.
  void merge_and_approve(const std::string& sha) {
    for (const char* s : {"svc-worker", "svc-api"})
      railway.call([&] {
        return railway.fake().add_deployment({"", "env-staging", s, "SUCCESS", sha, "alice-gh", "merge", "main", {}});
      });
    REQUIRE(eventually([&] { return state(sha) != "absent"; }));
    auto smoke =
        daemon->post("/v1/releases/" + sha + "/smoke-results", json{{"suite", "e2e"}, {"passed", true}}, tokens::ci);
    REQUIRE_MESSAGE(smoke.status == 200, smoke.body);
    auto approved = daemon->post("/v1/releases/" + sha + "/approve", json{{"reason", "ok"}}, tokens::bob);
    REQUIRE_MESSAGE(approved.status == 200, approved.body);
  }

  std::vector<std::string> notices() {
    std::vector<std::string> out;
    for (const auto& r : hook.call([&] { return hook.fake().requests(); }))
      if (r.target == hook_path) out.push_back(json::parse(r.body).at("text").get<std::string>());
    return out;
  }

  int violation_notices() {
    int n = 0;
    for (const auto& t : notices()) n += t.starts_with("[production] config.violation: ");
    return n;
  }

  std::string metrics() { return daemon->get("/metrics", tokens::viewer).body; }

  // Every row of every table of promoterd's database, as text.
  std::string database_text() {
    pqxx::connection c(database);
    pqxx::nontransaction n(c);
    std::string out;
    const auto tables =
        n.exec("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    for (const auto& t : tables) {
      const auto rows = n.exec(fmt::format("SELECT t::text FROM {} t", c.quote_name(t[0].c_str())));
      for (const auto& row : rows) out += std::string(row[0].c_str()) + "\n";
    }
    return out;
  }
};

}  // namespace

TEST_CASE("a release waits for a variable staging has and production lacks, then promotes once production has it") {
  DriftWorld w;
  REQUIRE(eventually([&] { return w.observed("worker") && w.observed("api"); }));
  // Staging's flag table goes away: no gate reads flags here (require_flag is off), so nothing waits for it.
  {
    pqxx::connection c(w.staging_flags);
    pqxx::nontransaction n(c);
    n.exec("ALTER TABLE feature_flags RENAME TO feature_flags_gone");
  }
  // Production-only names are not missing on staging, and production's extra name is shown as such.
  const json worker = w.service_env("worker");
  CHECK(worker["missing_in_production"].empty());
  CHECK(worker["only_in_production"] == json::array({"DATABASE_URL"}));

  // Staging gains a variable for the worker; the release built with it cannot go until production has it.
  w.railway.call([&] {
    w.railway.fake().upsert_variable("env-staging", variable("svc-worker", "RATE_LIMIT", "100"));
    return 0;
  });
  REQUIRE(eventually([&] { return w.service_env("worker")["missing_in_production"] == json::array({"RATE_LIMIT"}); }));
  w.merge_and_approve(sha1);
  const bool gated = eventually([&] { return has(w.gate(sha1, "env")["reason"].get<std::string>(), "RATE_LIMIT"); });
  if (!gated)
    MESSAGE(w.get("/v1/releases/" + sha1).dump(2) << "\n" << w.get("/v1/env").dump(2) << "\n" << w.daemon->log());
  REQUIRE(gated);
  const json blocked = w.gate(sha1, "env");
  CHECK_FALSE(blocked["ok"].get<bool>());
  CHECK(has(blocked["reason"].get<std::string>(), "worker: RATE_LIMIT"));
  CHECK(w.state(sha1) == "soaking");
  CHECK(w.gate(sha1, "approval")["ok"].get<bool>());
  CHECK(w.gate(sha1, "smoke")["ok"].get<bool>());

  // Production gets it (after staging: no violation), and the release promotes.
  w.railway.call([&] {
    w.railway.fake().upsert_variable("env-production", variable("svc-worker", "RATE_LIMIT", "100"));
    return 0;
  });
  const bool promoted = eventually([&] { return w.state(sha1) == "promoted"; }, 60s);
  if (!promoted) MESSAGE(w.get("/v1/releases/" + sha1).dump(2) << "\n" << w.daemon->log());
  REQUIRE(promoted);
  CHECK(w.gate(sha1, "env")["ok"].get<bool>());
  const json history = w.get("/v1/env?service=worker")["history"];
  std::vector<std::string> seen;
  for (const auto& h : history) {
    seen.push_back(h["environment"].get<std::string>() + " " + h["kind"].get<std::string>() + " " +
                   h["name"].get<std::string>());
    CHECK(h["violation"].is_null());
  }
  CHECK(seen == std::vector<std::string>{"production added RATE_LIMIT", "staging added RATE_LIMIT"});
  CHECK(w.get("/v1/status")["config_violations"]["total"] == 0);
  CHECK(w.violation_notices() == 0);
  CHECK(has(w.metrics(), R"(promoter_config_observations_total{result="failed",source="flags"})"));
  // The preflight re-read production before anything changed, and said so.
  const json promotions = w.get("/v1/promotions");
  REQUIRE(promotions["promotions"].size() == 1);
  const json steps = w.get("/v1/promotions/" + promotions["promotions"][0]["id"].get<std::string>())["steps"];
  CHECK(has(steps[0]["detail"].get<std::string>(), "env: production has every variable staging has"));
}

TEST_CASE("a variable or a flag changed in production first is reported in the audit, the metric and the chat") {
  DriftWorld w;
  REQUIRE(eventually([&] {
    return w.observed("worker") && w.observed("api") && !w.get("/v1/flags")["observed_at"]["production"].is_null();
  }));

  // A name added straight to production on Railway, and one on Fly.
  w.railway.call([&] {
    w.railway.fake().upsert_variable("env-production", variable("svc-worker", "DEBUG_TOKEN", "hunter2"));
    return 0;
  });
  w.fly.call([&] {
    w.fly.fake().set_secret("rotor-api", "ADMIN_TOKEN", "admin");
    return 0;
  });
  REQUIRE(eventually([&] { return w.get("/v1/status")["config_violations"]["total"] == 2; }));
  const json env = w.get("/v1/env");
  REQUIRE(env["violations"].size() == 2);
  std::set<std::string> names;
  for (const auto& v : env["violations"]) {
    CHECK(v["kind"] == "env_production_first");
    names.insert(v["service"].get<std::string>() + " " + v["name"].get<std::string>());
  }
  CHECK(names == std::set<std::string>{"worker DEBUG_TOKEN", "api ADMIN_TOKEN"});

  // A flag enabled in production that staging never had enabled; then one enabled on staging first.
  set_flag(w.production_flags, "quota_burst", true);
  REQUIRE(eventually([&] { return w.get("/v1/status")["config_violations"]["total"] == 3; }));
  set_flag(w.staging_flags, "billing_v2", true);
  REQUIRE(eventually([&] {
    const json flags = w.get("/v1/flags")["flags"];
    for (const auto& f : flags)
      if (f["key"] == "billing_v2") return f["staging_ever_enabled"].get<bool>();
    return false;
  }));
  set_flag(w.production_flags, "billing_v2", true);
  REQUIRE(eventually([&] {
    const json history = w.get("/v1/flags")["history"];
    for (const auto& h : history)
      if (h["key"] == "billing_v2" && h["environment"] == "production") return h["kind"] == "enabled";
    return false;
  }));
  const json flags = w.get("/v1/flags");
  REQUIRE(flags["violations"].size() == 1);
  CHECK(flags["violations"][0]["name"] == "quota_burst");
  CHECK(w.get("/v1/status")["config_violations"]["total"] == 3);

  // Counted, audited and sent to the chat: never blocking, and naming names only.
  const std::string metrics = w.metrics();
  CHECK(has(metrics, R"(promoter_config_violations_total{kind="env_production_first"} 2)"));
  CHECK(has(metrics, R"(promoter_config_violations_total{kind="flag_production_first"} 1)"));
  int audited = 0;
  const json audit = w.get("/v1/audit?limit=200")["entries"];
  for (const auto& e : audit) audited += e["action"] == "config.violation";
  CHECK(audited == 3);
  REQUIRE(eventually([&] { return w.violation_notices() == 3; }));
  bool named = false;
  for (const auto& t : w.notices()) named = named || has(t, "DEBUG_TOKEN");
  CHECK(named);

  // No value ever left the providers: not in the log, the database, the metrics or any answer; and the
  // value-bearing Railway query was never sent.
  CHECK(w.railway.call([&] { return w.railway.fake().value_reads(); }) == 0);
  CHECK_FALSE(has(w.daemon->log(), marker));
  CHECK_FALSE(has(w.database_text(), marker));
  CHECK_FALSE(has(metrics, marker));
  for (const char* target : {"/v1/env", "/v1/flags", "/v1/status", "/v1/audit?limit=200", "/v1/releases"})
    CHECK_MESSAGE(!has(w.daemon->get(target, tokens::viewer).body, marker), target);
  for (const auto& t : w.notices()) CHECK_FALSE(has(t, marker));
  // The marker is really there to find: the fakes and the flag tables hold it.
  pqxx::connection c(w.production_flags);
  pqxx::nontransaction n(c);
  CHECK(has(n.exec1("SELECT string_agg(payload, ' ') FROM feature_flags")[0].c_str(), marker));
}

TEST_CASE("promoterd --check refuses [env] and [flags] settings that cannot work, with file:line:col") {
  const fs::path dir = temp_dir("config_drift_check");
  ConfigBuilder builder("30m");
  builder.table("railway", {{"endpoint", "http://127.0.0.1:9/graphql/v2"}, {"token_env", "RW_TOKEN"}});
  builder.service("worker", {{"staging", TomlValue::inline_table({{"provider", "railway"},
                                                                  {"project_id", "p"},
                                                                  {"environment_id", "env-staging"},
                                                                  {"service_id", "svc-worker"}})},
                             {"production", TomlValue::inline_table({{"provider", "railway"},
                                                                     {"project_id", "p"},
                                                                     {"environment_id", "env-production"},
                                                                     {"service_id", "svc-worker"}})}});
  const std::string good = builder.toml();
  std::ofstream(dir / "good.toml") << good << "\n[env]\nrequire_env = true\n";
  std::string out;
  CHECK_MESSAGE(run_program({PROMOTERD_BIN, "--config", (dir / "good.toml").string(), "--check"}, {}, out) == 0, out);
  struct Bad {
    std::string append;
    std::string message;
  };
  const Bad cases[] = {
      {"\n[env]\nproduction_only = [\"DATABASE_URL\"]\n", ":3:20: each env.production_only entry must be a table"},
      {"\n[env]\nproduction_only = [{ name = \"DATABASE_URL\" }]\n", ":3:20: env.production_only.reason is required"},
      {"\n[env]\nclock_skew = \"2h\"\n", ":3:14: env.clock_skew above 1h"},
      {"\n[env]\nstaging_only = [{ name = \"A\", reason = \"x\" }]\nproduction_only = [{ name = \"A\", reason = \"y\" "
       "}]\n",
       "A is both production_only and staging_only"},
      {"\n[flags]\nstaging_url_env = \"S\"\nproduction_url_env = \"P\"\ntable = \"flags; DROP TABLE x\"\n",
       ":5:9: flags.table must be a plain SQL name"},
      {"\n[flags]\nstaging_url_env = \"S\"\nproduction_url_env = \"P\"\nrequire_flag = true\n",
       "flags.require_flag = true needs the billing, quota and enterprise paths"},
      {"\n[flags]\nstaging_url_env = \"S\"\n", "flags.production_url_env"},
  };
  const auto lines = std::count(good.begin(), good.end(), '\n');
  for (const auto& c : cases) {
    CAPTURE(c.append);
    std::ofstream(dir / "bad.toml") << good << c.append;
    out.clear();
    CHECK(run_program({PROMOTERD_BIN, "--config", (dir / "bad.toml").string(), "--check"}, {}, out) == 2);
    if (c.message.starts_with(":")) {
      // The line is counted from the end of the good part.
      const std::string expected = c.message.substr(c.message.find(':', 1));
      const auto line = std::stoi(c.message.substr(1, c.message.find(':', 1) - 1)) + lines;
      CHECK_MESSAGE(has(out, fmt::format("bad.toml:{}{}", line, expected)), out);
    } else {
      CHECK_MESSAGE(has(out, "bad.toml:"), out);
      CHECK_MESSAGE(has(out, c.message), out);
    }
  }
  // Simulated services list no variables: [env] over them alone cannot work.
  ConfigBuilder simulated("30m");
  simulated.simulated(dir).services({"api"});
  std::ofstream(dir / "none.toml") << simulated.toml() << "\n[env]\nrequire_env = true\n";
  out.clear();
  CHECK(run_program({PROMOTERD_BIN, "--config", (dir / "none.toml").string(), "--check"}, {}, out) == 2);
  CHECK_MESSAGE(has(out, "[env] needs at least one service whose staging is a Railway service"), out);
}
