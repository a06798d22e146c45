// Rollback end to end on the real binary, fake Railway and fake Fly: `promotectl rollback` puts every machine back
// on the previous release's image, in reverse restart order, once each, even across a kill -9 mid-rollback; a
// failed production verify rolls back by itself, and the pin then holds the next release until `resume`.
#include <set>

#include "tests/e2e/fly_world.hpp"

using namespace promoter;
using namespace promoter::testing;
using namespace promoter::testing::fly_e2e;
using namespace std::chrono_literals;
using fakes::FlyOperation;
using nlohmann::json;

namespace {

std::string image(const std::string& app, const std::string& sha) {
  return fmt::format("registry.fly.io/{}:{}", app, sha);
}

// Merges, smokes, approves and waits for `sha` to be production.
void promote(World& w, const std::string& sha) {
  w.merge(sha);
  w.smoke_and_approve(sha);
  REQUIRE(eventually([&] { return w.ended(sha); }, 60s));
  REQUIRE_MESSAGE(w.state(sha) == "promoted", w.release(sha).dump());
}

json status(World& w) { return w.daemon->get("/v1/status", tokens::viewer).json(); }

// The promotion the environment ran last (rollbacks included).
json newest_promotion(World& w) {
  auto list = w.daemon->get("/v1/promotions?limit=1", tokens::viewer).json();
  REQUIRE(list["promotions"].size() == 1);
  return w.daemon->get("/v1/promotions/" + list["promotions"][0]["id"].get<std::string>(), tokens::viewer).json();
}

int promotectl(World& w, std::vector<std::string> args, std::string& out, const std::string& token = tokens::alice) {
  args.insert(args.begin(), PROMOTECTL_BIN);
  return run_program(
      args, {{"PROMOTER_URL", fmt::format("http://127.0.0.1:{}", w.daemon->port())}, {"PROMOTER_TOKEN", token}}, out);
}

// The machine updates from `from`'s images onto `to`'s, in order.
std::vector<fakes::FakeMachineUpdate> updates_between(World& w, const std::string& from, const std::string& to) {
  std::vector<fakes::FakeMachineUpdate> out;
  for (const auto& u : w.updates())
    if (u.old_image == image(u.app, from) && u.new_image == image(u.app, to)) out.push_back(u);
  return out;
}

}  // namespace

TEST_CASE(
    "promotectl rollback restores the previous images on every machine, in reverse order, once each, across "
    "a kill -9") {
  World w("rollback");
  const std::string a(40, 'a'), b(40, 'b');
  promote(w, a);
  promote(w, b);

  // A rollback nobody can reach is refused with the valid targets.
  std::string out;
  CHECK(promotectl(w, {"rollback", "--to", std::string(40, 'f'), "--reason", "x"}, out) != 0);
  CHECK(out.find("valid targets") != std::string::npos);
  // A viewer may not roll back.
  CHECK(w.daemon->post("/v1/rollbacks", json{{"reason", "x"}}, tokens::viewer).status == 403);

  // The rollback's first machine update (www: reverse restart order) takes effect, and its answer is lost to a
  // kill -9.
  w.pause({FlyOperation::update, "", "/apps/rotor-www/", true});
  REQUIRE_MESSAGE(promotectl(w, {"rollback", "--reason", "checkout returns 500 since b"}, out) == 0, out);
  INFO(out);
  CHECK(out.find("Rollback to " + a) != std::string::npos);
  w.crash_at_pause();
  w.daemon->start();

  REQUIRE(eventually([&] { return status(w)["pin"]["pinned"] == true; }, 60s));
  const json st = status(w);
  CHECK(st["production"]["sha"] == a);
  CHECK(st["pin"]["by"] == "alice");
  CHECK(st["pin"]["text"].get<std::string>().find("environment pinned by alice at") != std::string::npos);

  // Every machine back on a's image exactly once, www first, then api, then worker.
  const auto back = updates_between(w, b, a);
  std::map<std::string, int> per_machine;
  std::vector<std::string> app_order;
  for (const auto& u : back) {
    ++per_machine[u.app + "/" + u.machine_id];
    if (app_order.empty() || app_order.back() != u.app) app_order.push_back(u.app);
  }
  CHECK(app_order == std::vector<std::string>{"rotor-www", "rotor-api", "rotor-worker"});
  CHECK(per_machine.size() == 5);
  for (const auto& [m, n] : per_machine) CHECK_MESSAGE(n == 1, m << " rolled back " << n << " times");
  for (const auto& [app, n] : machines_per_app)
    for (const auto& m : w.fly.call([&, app = app] { return w.fly.fake().machines(app); }))
      CHECK(m["config"]["image"] == image(app, a));

  // The rollback's own journal: no migration, deploys in reverse order, verified, recorded.
  const json rollback = newest_promotion(w);
  CHECK(rollback["kind"] == "rollback");
  CHECK(rollback["sha"] == a);
  CHECK(rollback["state"] == "succeeded");
  CHECK(rollback["rollback"]["trigger"] == "operator");
  CHECK(rollback["rollback"]["requested_by"] == "alice");
  std::vector<std::string> names;
  for (const auto& s : rollback["steps"]) names.push_back(s["name"]);
  CHECK(names ==
        std::vector<std::string>{"preflight", "deploy:www", "deploy:api", "deploy:worker", "verify", "record"});
  // No migration ran a second time (or backwards).
  CHECK(w.app_query("SELECT 1 FROM fixture_migration_runs").size() == 2);

  const std::string metrics = w.daemon->get("/metrics", "").body;
  CHECK(metrics.find("promoter_environment_pinned 1") != std::string::npos);
  CHECK(metrics.find(R"(promoter_rollbacks_total{trigger="verify_failure"} 0)") != std::string::npos);

  // The audit has the request and the end.
  const auto audit = w.daemon->get("/v1/audit?limit=100", tokens::viewer).json();
  std::set<std::string> actions;
  for (const auto& e : audit["entries"]) actions.insert(e["action"].get<std::string>());
  CHECK(actions.contains("rollback.requested"));
  CHECK(actions.contains("rollback.succeeded"));

  // Resume lifts the pin (once).
  REQUIRE_MESSAGE(promotectl(w, {"resume", "--reason", "b's fix is on its way"}, out) == 0, out);
  CHECK(status(w)["pin"]["pinned"] == false);
  CHECK(promotectl(w, {"resume", "--reason", "again"}, out) != 0);
}

TEST_CASE(
    "a production verify that fails rolls back by itself, links both ways, and the pin holds the next release "
    "until resume") {
  World w("auto_rollback", {}, {{"on_verify_failure", "rollback"}});
  const std::string a(40, 'a'), b(40, 'b'), c(40, 'c');
  promote(w, a);

  // b's verify: the probe answers 500 to each of the client's three attempts; later probes answer 200.
  for (int i = 0; i < 3; ++i)
    w.probes.call([&] { w.probes.fake().respond_once("/production/healthz", 500, "checkout down"); });
  w.merge(b);
  w.smoke_and_approve(b);
  REQUIRE(eventually([&] { return status(w)["pin"]["pinned"] == true; }, 60s));
  CHECK(w.state(b) == "promotion_failed");
  CHECK(status(w)["production"]["sha"] == a);
  for (const auto& [app, n] : machines_per_app)
    for (const auto& m : w.fly.call([&, app = app] { return w.fly.fake().machines(app); }))
      CHECK(m["config"]["image"] == image(app, a));

  // The failed promotion and the rollback name each other.
  const json rollback = newest_promotion(w);
  REQUIRE(rollback["kind"] == "rollback");
  CHECK(rollback["state"] == "succeeded");
  CHECK(rollback["rollback"]["trigger"] == "verify_failure");
  const std::string failed_id = w.release(b)["promotion_id"].get<std::string>();
  CHECK(rollback["rollback"]["after_promotion"] == failed_id);
  const json failed = w.daemon->get("/v1/promotions/" + failed_id, tokens::viewer).json();
  CHECK(failed["rolled_back_by"] == rollback["id"]);
  const std::string metrics = w.daemon->get("/metrics", "").body;
  CHECK(metrics.find(R"(promoter_rollbacks_total{trigger="verify_failure"} 1)") != std::string::npos);
  CHECK(metrics.find(R"(promoter_rollbacks_finished_total{result="succeeded"} 1)") != std::string::npos);
  // The failed promotion counts as a promotion; the rollback does not.
  CHECK(metrics.find(R"(promoter_promotions_total{result="succeeded"} 1)") != std::string::npos);
  CHECK(metrics.find(R"(promoter_promotions_total{result="failed"} 1)") != std::string::npos);

  // The next release whose gates hold waits for resume, and says why.
  w.merge(c);
  w.smoke_and_approve(c);
  REQUIRE(eventually([&] { return w.state(c) == "ready"; }, 60s));
  CHECK(w.release(c)["state_reason"].get<std::string>().find("environment pinned by promoterd") != std::string::npos);
  CHECK(updates_between(w, a, c).empty());

  std::string out;
  REQUIRE_MESSAGE(promotectl(w, {"resume", "--reason", "probe fixed"}, out) == 0, out);
  REQUIRE(eventually([&] { return w.ended(c); }, 60s));
  CHECK(w.state(c) == "promoted");
}
