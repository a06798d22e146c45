#pragma once
// The production promotion's world for e2e tests: real promoterd and PostgreSQL, a real `pnpm db:migrate` on the
// fixture app, the fake Railway for staging, the fake Fly for production (two worker, two api and one www machine)
// and a local HTTP server for the smoke and verification probes. Shared by the promotion and rollback tests.
#include <utility>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fstream>
#include <pqxx/pqxx>

#include "tests/fakes/fake_fly.hpp"
#include "tests/fakes/fake_railway.hpp"
#include "tests/fakes/http_receiver.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/test_support.hpp"

namespace promoter::testing::fly_e2e {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

inline const std::string railway_token = "railway-fake-token-123456";
inline const std::string fly_token = "fly-fake-token-abcdefghijkl";
inline const std::vector<std::string> services{"worker", "api", "www"};
inline const std::map<std::string, int> machines_per_app{{"rotor-worker", 2}, {"rotor-api", 2}, {"rotor-www", 1}};

inline fakes::FakeFlyOptions fly_options() {
  fakes::FakeFlyOptions o;
  o.token = fly_token;
  o.start_delay = 30ms;
  o.checks_delay = 30ms;
  return o;
}

inline fakes::FakeRailwayOptions railway_options() {
  fakes::FakeRailwayOptions o;
  o.token = railway_token;
  return o;
}

inline std::int64_t epoch_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Everything outside promoterd, and promoterd on a config pointing at it.
struct World {
  OnThread<fakes::FakeRailway> railway{railway_options()};
  OnThread<fakes::FakeFly> fly{fly_options()};
  OnThread<fakes::HttpReceiver> probes;
  fs::path dir;
  fs::path app_dir;  // a copy of the fixture app: the migrations the command applies
  std::string app_db;
  std::unique_ptr<Daemon> daemon;
  TomlKeys policy_;

  // `policy`: extra [policy] keys (on_verify_failure, ...).
  explicit World(const std::string& name, std::map<std::string, std::string> extra_env = {}, TomlKeys policy = {})
      : dir(temp_dir("fly_" + name)), app_dir(dir / "migrate-app"), policy_(std::move(policy)) {
    fs::copy(fs::path(PROMOTER_SOURCE_DIR) / "tests/fixtures/migrate-app", app_dir, fs::copy_options::recursive);
    app_db = fresh_database("fly_app_" + name);
    for (const auto& [app, n] : machines_per_app)
      for (int i = 0; i < n; ++i) {
        fakes::FakeMachineSpec spec;
        spec.app = app;
        spec.id = fmt::format("{}{:02d}000000000", app.substr(6, 3), i + 1);  // "wor01000000000", ...
        spec.image = fmt::format("registry.fly.io/{}:previous", app);
        spec.checks = {"http"};
        fly.call([&] { return fly.fake().add_machine(spec); });
      }
    auto env = auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_fly_" + name);
    env["RW_TOKEN"] = railway_token;
    env["FLY_TOKEN"] = fly_token;
    env["APP_DATABASE_URL"] = app_db;
    for (auto& [k, v] : extra_env) env[k] = v;
    daemon = std::make_unique<Daemon>(dir, config(), env);
    daemon->start();
  }

  std::string config() {
    ConfigBuilder builder("2s");
    builder.table("policy", policy_);
    builder
        .table("railway", {{"endpoint", railway.call([&] { return railway.fake().url(); })},
                           {"token_env", "RW_TOKEN"},
                           {"reconcile_interval", "1s"}})
        .table("fly", {{"endpoint", fly.call([&] { return fly.fake().url(); })},
                       {"token_env", "FLY_TOKEN"},
                       {"poll_interval", "50ms"},
                       {"lease_ttl", "10s"},
                       {"lease_wait", "20s"},
                       {"machine_timeout", "20s"}})
        .table("migrations",
               {{"provider", "local"},
                {"command", std::vector<std::string>{"pnpm", "db:migrate"}},
                {"workdir", app_dir.string()},
                {"timeout", "2m"},
                {"pass_env", std::vector<std::string>{"PATH", "HOME", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD",
                                                      "FIXTURE_MIGRATIONS_DIR", "FIXTURE_BLOCK_FILE"}},
                {"database_url_env", "APP_DATABASE_URL"}})
        .table("smoke", {{"suite", "e2e"}})
        .entry("smoke.staging", {{"name", "staging health"},
                                 {"url", probes.call([&] { return probes.fake().url("/staging/healthz"); })},
                                 {"expect_body", "ok"}})
        .entry("smoke.production", {{"name", "production health"},
                                    {"url", probes.call([&] { return probes.fake().url("/production/healthz"); })}})
        .shared_tokens();
    for (const auto& s : services)
      builder.service(
          s, {{"staging", TomlValue::inline_table({{"provider", "railway"},
                                                   {"project_id", "proj-fake"},
                                                   {"environment_id", "env-staging"},
                                                   {"service_id", "svc-" + s}})},
              {"production",
               TomlValue::inline_table(
                   {{"provider", "fly"}, {"app", "rotor-" + s}, {"image", "registry.fly.io/rotor-" + s + ":{sha}"}})}});
    return builder.toml();
  }

  // A merge to main, live on every staging service (the reconciler finds it within a second).
  void merge(const std::string& sha) {
    for (const auto& s : services)
      railway.call([&] {
        return railway.fake().add_deployment(
            {"", "env-staging", "svc-" + s, "SUCCESS", sha, "alice-gh", "merge", "main", {}});
      });
  }

  json release(const std::string& sha) {
    auto r = daemon->get("/v1/releases/" + sha, tokens::viewer);
    return r.status == 200 ? r.json() : json();
  }
  std::string state(const std::string& sha) {
    auto r = release(sha);
    return r.is_object() ? r["state"].get<std::string>() : "absent";
  }

  // Staging smoke probes ran by themselves and passed; then bob (not the author) approves.
  void smoke_and_approve(const std::string& sha) {
    REQUIRE(eventually([&] {
      auto r = release(sha);
      return r.is_object() && r["gates"]["smoke"]["ok"].get<bool>();
    }));
    auto smoke = release(sha)["smoke_results"];
    REQUIRE(smoke.size() == 1);
    CHECK(smoke[0]["reported_by"] == "promoterd");
    CHECK(smoke[0]["details"].get<std::string>().find("1/1 probes passed") != std::string::npos);
    auto a = daemon->post("/v1/releases/" + sha + "/approve", json{{"reason", "reviewed"}}, tokens::bob);
    REQUIRE_MESSAGE(a.status == 200, a.body);
  }

  bool ended(const std::string& sha) {
    const auto s = state(sha);
    return s == "promoted" || s == "promotion_failed";
  }

  std::vector<fakes::FakeMachineUpdate> updates() {
    return fly.call([&] { return fly.fake().updates(); });
  }

  void pause(fakes::PausePoint p) {
    fly.call([&] { fly.fake().pause(p); });
  }
  bool paused() {
    return fly.call([&] { return fly.fake().paused_count(); }) > 0;
  }
  // SIGKILL while the fake holds the request, then let the fake forget it (the client is gone).
  void crash_at_pause() {
    REQUIRE(eventually([&] { return paused(); }, 60s));
    daemon->kill_hard();
    fly.call([&] { fly.fake().resume_all(/*drop=*/true); });
  }

  pqxx::result app_query(const std::string& sql) {
    pqxx::connection c(app_db);
    pqxx::nontransaction n(c);
    return n.exec(sql);
  }
  // Each machine exactly once, on the release's image.
  void check_each_machine_updated_once(const std::string& sha) {
    std::map<std::string, int> per_machine;
    for (const auto& u : updates()) {
      ++per_machine[u.app + "/" + u.machine_id];
      CHECK(u.new_image == fmt::format("registry.fly.io/{}:{}", u.app, sha));
    }
    CHECK(per_machine.size() == 5);
    for (const auto& [m, n] : per_machine) CHECK_MESSAGE(n == 1, m << " updated " << n << " times");
  }
};

}  // namespace promoter::testing::fly_e2e
