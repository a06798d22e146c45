// The production promotion end to end: real promoterd, real PostgreSQL, a real `pnpm db:migrate` on the
// fixture app, the fake Railway for staging, the fake Fly for production and a local HTTP server for the
// smoke and verification probes. Proves the order (migrations finished before the first machine update,
// worker before api before www), exactly-once machine updates, a failed migration touching nothing, and
// SIGKILLs at step boundaries changing none of that.
#include "tests/e2e/fly_world.hpp"

using namespace promoter;
using namespace promoter::testing;
using namespace std::chrono_literals;
using fakes::FlyOperation;
using nlohmann::json;
namespace fs = std::filesystem;

using namespace promoter::testing::fly_e2e;

TEST_CASE("a release soaks, passes its smoke probes, is approved and promoted: migrations, then worker, api, www") {
  World w("happy");
  const std::string sha(40, 'a');
  w.merge(sha);
  w.smoke_and_approve(sha);
  REQUIRE(eventually([&] { return w.ended(sha); }, 60s));
  REQUIRE_MESSAGE(w.state(sha) == "promoted", w.release(sha).dump());

  // The migration ran once, applied both migrations, and finished before the first machine update.
  auto runs = w.app_query(
      "SELECT (extract(epoch FROM finished_at) * 1000)::bigint, array_length(applied, 1) "
      "FROM fixture_migration_runs ORDER BY id");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0][1].as<int>() == 2);
  const auto migrated_at = runs[0][0].as<std::int64_t>();
  const auto updates = w.updates();
  REQUIRE(updates.size() == 5);
  CHECK(migrated_at <= epoch_ms(updates.front().at));

  // Worker's machines, then api's, then www's: every update of an app before any of the next.
  std::vector<std::string> app_order;
  for (const auto& u : updates)
    if (app_order.empty() || app_order.back() != u.app) app_order.push_back(u.app);
  CHECK(app_order == std::vector<std::string>{"rotor-worker", "rotor-api", "rotor-www"});
  w.check_each_machine_updated_once(sha);

  // Production was verified after the last service.
  auto verified = w.probes.call([&] { return w.probes.fake().requests(); });
  std::optional<std::chrono::system_clock::time_point> verified_at;
  for (const auto& r : verified)
    if (r.target == "/production/healthz") verified_at = r.at;
  REQUIRE(verified_at);
  CHECK(*verified_at >= updates.back().at);

  // The journal shows each step with what it did.
  auto promotion =
      w.daemon->get("/v1/promotions/" + w.release(sha)["promotion_id"].get<std::string>(), tokens::viewer).json();
  std::vector<std::string> names;
  for (const auto& s : promotion["steps"]) {
    names.push_back(s["name"]);
    CHECK(s["state"] == "succeeded");
  }
  CHECK(names == std::vector<std::string>{"preflight", "migrate", "deploy:worker", "deploy:api", "deploy:www", "verify",
                                          "record"});
  CHECK(promotion["steps"][1]["detail"].get<std::string>().find("exited 0") != std::string::npos);
}

TEST_CASE("a failing migration leaves every production machine untouched and shows its error in promotectl show") {
  const fs::path dir = temp_dir("fly_broken_migrations");
  fs::copy(fs::path(PROMOTER_SOURCE_DIR) / "tests/fixtures/migrate-app/migrations", dir / "migrations");
  {
    std::ofstream broken(dir / "migrations" / "003_broken.sql");
    broken << "ALTER TABLE widgets ADD COLUMN weight numeric NOT NUL;\n";
  }
  World w("broken", {{"FIXTURE_MIGRATIONS_DIR", (dir / "migrations").string()}});
  const std::string sha(40, 'b');
  w.merge(sha);
  w.smoke_and_approve(sha);
  REQUIRE(eventually([&] { return w.ended(sha); }, 60s));
  CHECK(w.state(sha) == "promotion_failed");
  CHECK(w.updates().empty());
  for (const auto& [app, n] : machines_per_app)
    for (const auto& m : w.fly.call([&, app = app] { return w.fly.fake().machines(app); }))
      CHECK(m["config"]["image"] == fmt::format("registry.fly.io/{}:previous", app));

  std::string out;
  const int rc = run_program(
      {PROMOTECTL_BIN, "show", sha},
      {{"PROMOTER_URL", fmt::format("http://127.0.0.1:{}", w.daemon->port())}, {"PROMOTER_TOKEN", tokens::viewer}},
      out);
  CHECK(rc == 0);
  INFO(out);
  CHECK(out.find("promotion_failed") != std::string::npos);
  CHECK(out.find("syntax error") != std::string::npos);  // PostgreSQL's own words, through pnpm
  CHECK(out.find("exited with code") != std::string::npos);
  // Nothing of the broken migration was recorded; the two good ones were.
  CHECK(w.app_query("SELECT name FROM fixture_schema_migrations").size() == 2);

  const std::string metrics = w.daemon->get("/metrics", "").body;
  INFO(metrics);
  CHECK(metrics.find(R"(promoter_migrations_total{result="failed"} 1)") != std::string::npos);
  CHECK(metrics.find(R"(promoter_migration_duration_seconds_count{result="failed"} 1)") != std::string::npos);
  CHECK(metrics.find(R"(promoter_promotions_total{result="failed"} 1)") != std::string::npos);
  CHECK(metrics.find(R"(promoter_promotion_duration_seconds_count{result="failed"} 1)") != std::string::npos);
}

TEST_CASE(
    "SIGKILLs at step boundaries of a promotion: it still ends promoted, each machine updated once, migrations applied "
    "once") {
  const fs::path block = temp_dir("fly_crash_block") / "release-the-migration";
  World w("crashes", {{"FIXTURE_BLOCK_FILE", block.string()}});
  const std::string sha(40, 'c');
  // The first pause is in place before the promotion can reach it.
  w.pause({FlyOperation::acquire_lease, "", "/apps/rotor-worker/", false});
  w.merge(sha);
  w.smoke_and_approve(sha);

  // 1. migrate: the command applied its migrations and recorded its run, but has not exited yet.
  REQUIRE(eventually(
      [&] {
        return w.app_query("SELECT 1 FROM pg_tables WHERE tablename = 'fixture_migration_runs'").size() == 1 &&
               w.app_query("SELECT 1 FROM fixture_migration_runs WHERE finished_at IS NOT NULL").size() == 1;
      },
      60s));
  w.daemon->kill_hard();
  w.daemon->start();
  // The restarted daemon waits the cut-off run out (it never runs two at once), then runs it again.
  std::ofstream(block).put('\n');

  // 2. deploy:worker, journal `started`, before its first side effect (the lease request is held).
  w.crash_at_pause();
  w.pause({FlyOperation::update, "", "/apps/rotor-worker/machines/wor02", true});
  w.daemon->start();

  // 3. deploy:worker, after the side effect: the second machine's update applied, its answer lost.
  w.crash_at_pause();
  w.pause({FlyOperation::list, "", "/apps/rotor-api/", false});
  w.daemon->start();

  // 4. deploy:worker `succeeded`; deploy:api just started (its machine list is held).
  w.crash_at_pause();
  w.pause({FlyOperation::update, "", "/apps/rotor-www/", true});
  w.daemon->start();

  // 5. deploy:www, after the side effect.
  w.crash_at_pause();
  w.daemon->start();

  REQUIRE(eventually([&] { return w.ended(sha); }, 60s));
  REQUIRE_MESSAGE(w.state(sha) == "promoted", w.release(sha).dump());
  w.check_each_machine_updated_once(sha);
  // Migrations applied exactly once: the second run found them all done.
  CHECK(w.app_query("SELECT name FROM fixture_schema_migrations").size() == 2);
  auto runs = w.app_query("SELECT coalesce(array_length(applied, 1), 0) FROM fixture_migration_runs ORDER BY id");
  REQUIRE(runs.size() == 2);
  CHECK(runs[0][0].as<int>() == 2);
  CHECK(runs[1][0].as<int>() == 0);
  // And the first machine update came after the migrations finished.
  auto first_finished =
      w.app_query("SELECT (extract(epoch FROM min(finished_at)) * 1000)::bigint FROM fixture_migration_runs");
  CHECK(first_finished[0][0].as<std::int64_t>() <= epoch_ms(w.updates().front().at));
}

TEST_CASE("an operator's abort stops a Fly rollout after the machine being rolled; nothing after it is touched") {
  World w("abort");
  const std::string sha(40, 'd');
  // Hold the answer to the first worker machine's update (applied): the abort arrives mid-rollout.
  w.pause({FlyOperation::update, "", "/apps/rotor-worker/machines/wor01", true});
  w.merge(sha);
  w.smoke_and_approve(sha);
  REQUIRE(eventually([&] { return w.paused(); }, 60s));
  const std::string id = w.release(sha)["promotion_id"].get<std::string>();
  auto asked = w.daemon->post("/v1/promotions/" + id + "/abort", json{{"reason", "error rate on wor01"}}, tokens::bob);
  REQUIRE_MESSAGE(asked.status == 202, asked.body);
  CHECK(asked.json()["abort"]["by"] == "bob");
  // Still running (the fake holds the update's answer): status shows the abort waiting to take effect.
  const json status = w.daemon->get("/v1/status", tokens::viewer).json();
  CHECK(status["active_promotion"]["id"] == id);
  CHECK(status["active_promotion"]["abort"]["by"] == "bob");
  CHECK(status["active_promotion"]["abort"]["reason"] == "error rate on wor01");
  w.fly.call([&] { w.fly.fake().resume_all(); });

  REQUIRE(eventually([&] { return w.state(sha) == "promotion_aborted"; }, 60s));
  // wor01 finished (started, checks passing); wor02 and every api and www machine kept the old image.
  const auto updates = w.updates();
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].machine_id == "wor01000000000");
  for (const auto& [app, n] : machines_per_app)
    for (const auto& m : w.fly.call([&, app = app] { return w.fly.fake().machines(app); }))
      if (m["id"] != "wor01000000000") CHECK(m["config"]["image"] == fmt::format("registry.fly.io/{}:previous", app));
  int acquired = 0, released = 0;
  for (const auto& q : w.fly.call([&] { return w.fly.fake().requests(); })) {
    acquired += q.operation == FlyOperation::acquire_lease;
    released += q.operation == FlyOperation::release_lease;
  }
  CHECK(acquired == 1);
  CHECK(released == 1);  // the lease was given back: nobody is left locked out of wor01

  const json p = w.daemon->get("/v1/promotions/" + id, tokens::viewer).json();
  CHECK(p["state"] == "aborted");
  std::map<std::string, json> steps;
  for (const auto& s : p["steps"]) steps[s["name"].get<std::string>()] = s;
  CHECK(steps["migrate"]["state"] == "succeeded");
  CHECK(steps["deploy:worker"]["state"] == "failed");
  CHECK(steps["deploy:worker"]["detail"] ==
        "stopped after 1 of 2 machines of rotor-worker were on registry.fly.io/rotor-worker:" + sha +
            ": the promotion was aborted by bob");
  CHECK(steps["deploy:api"]["state"] == "planned");
  CHECK(p["error"].get<std::string>().find("may have changed in part: deploy:worker; not touched: deploy:api, "
                                           "deploy:www") != std::string::npos);
  const std::string metrics = w.daemon->get("/metrics", "").body;
  CHECK(metrics.find("promoter_promotions_total{result=\"aborted\"} 1") != std::string::npos);
  CHECK(metrics.find("promoter_promotions_total{result=\"failed\"} 0") != std::string::npos);
}

TEST_CASE("promoterd --check refuses Fly, migration and probe settings that cannot work, with file:line:col") {
  const fs::path dir = temp_dir("fly_check");
  const std::string head = ConfigBuilder("30m").shared_tokens().toml();
  const auto head_lines = static_cast<int>(std::count(head.begin(), head.end(), '\n'));
  const std::string api = "[[services]]\nname = \"api\"\nrestart_order = 1\n";
  struct Case {
    std::string toml;
    int line = 0;  // within `toml`, 1-based; 0: the message names no line
    int column = 0;
    std::string message;
  };
  const std::vector<Case> cases{
      {api + "production = { provider = \"fly\", app = \"rotor-api\", image = \"registry.fly.io/rotor-api:latest\" "
             "}\n[fly]\n",
       4, 61, "services.production.image = \"registry.fly.io/rotor-api:latest\" must contain {sha}"},
      {api + "production = { provider = \"fly\", app = \"rotor-api\", image = \"r/api:{sha}\" }\n", 0, 0,
       "a production target or the migrations use Fly: add a [fly] section"},
      {api + "production = { provider = \"heroku\" }\n", 4, 27,
       "services.production.provider = \"heroku\": use \"railway\", \"fly\" or \"simulated\""},
      {api + "[migrations]\nprovider = \"fly\"\napp = \"rotor-api\"\n", 4, 1, "migrations.image is required"},
      {api + "[migrations]\nprovider = \"cron\"\n", 5, 12,
       "migrations.provider = \"cron\": use \"local\", \"fly\" or \"simulated\""},
      {api + "[smoke]\n[[smoke.staging]]\nurl = \"ftp://x\"\n", 6, 7,
       "smoke.staging.url must be an http:// or https:// URL"},
      {api + "[smoke]\n[[smoke.production]]\nurl = \"http://x\"\nexpect = 200\n", 7, 10,
       "unknown key 'smoke.production.expect'"},
      {api + "[fly]\nlease_ttl = \"1s\"\n", 5, 13, "fly.lease_ttl must be at least 10s"},
  };
  int n = 0;
  for (const auto& c : cases) {
    const fs::path file = dir / fmt::format("case{}.toml", ++n);
    std::ofstream(file) << head << c.toml;
    const std::string expected = c.line
                                     ? fmt::format("case{}.toml:{}:{}: {}", n, head_lines + c.line, c.column, c.message)
                                     : fmt::format("case{}.toml: {}", n, c.message);
    std::string out;
    CHECK(run_program({PROMOTERD_BIN, "--config", file.string(), "--check"}, {}, out) == 2);
    INFO(out);
    CHECK(out.find(expected) != std::string::npos);
  }
}
