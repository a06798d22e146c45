// Freeze windows and stop-the-line end to end: the real promoterd and promotectl, real PostgreSQL, simulated
// production. A release whose gates hold inside a window starts when the window ends; a line stop survives a
// kill -9, holds releases back until it is lifted, and only a hotfix with --override-freeze starts inside it.
#include <utility>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "core/time.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/stage_release.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace promoter::testing;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> services{"worker", "api", "www"};

// RFC 3339 in UTC ("2026-12-02T19:00:00.000Z"), which TOML reads as an offset date-time.
std::string toml_time(core::Timestamp t) { return core::format_timestamp(t); }

struct FreezeWorld {
  fs::path dir;
  std::unique_ptr<Daemon> daemon;

  FreezeWorld(const std::string& name, const std::function<void(ConfigBuilder&)>& configure = {})
      : dir(temp_dir(name)) {
    auto env = auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_" + name);
    ConfigBuilder builder("1s");
    builder.services(services).simulated(dir).shared_tokens();
    if (configure) configure(builder);
    daemon = std::make_unique<Daemon>(dir, builder.toml(), env);
    daemon->start();
  }

  // Live on every staging service (by alice), with its smoke run, approved by bob: every gate holds once the
  // 1s soak is over.
  void ready(const std::string& sha, const json& ancestors = nullptr) {
    stage_release(*daemon, sha, services, ancestors);
    auto approved = daemon->post("/v1/releases/" + sha + "/approve", {{"reason", "ok"}}, tokens::bob);
    REQUIRE_MESSAGE(approved.status == 200, approved.body);
  }

  json release(const std::string& sha) const {
    auto r = daemon->get("/v1/releases/" + sha, tokens::viewer);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json();
  }

  int promotectl(const std::vector<std::string>& args, const std::string& token, std::string& out) const {
    std::vector<std::string> argv{PROMOTECTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(
        argv, {{"PROMOTER_URL", fmt::format("http://127.0.0.1:{}", daemon->port())}, {"PROMOTER_TOKEN", token}}, out);
  }
};

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// The ready release held back by a freeze, as its reason says.
bool held(const json& release, std::string_view freeze) {
  return release["state"] == "ready" && has(release["state_reason"].get<std::string>(), freeze);
}

}  // namespace

TEST_CASE("a release whose gates hold inside a freeze window starts when the window ends, not before") {
  // The window opened an hour ago and closes 30s after the daemon's configuration is written: long enough for
  // the release to be ready inside it (the test fails, not passes, if it is not).
  const auto now = std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now());
  const auto ends = std::chrono::ceil<std::chrono::seconds>(now + 30s);
  FreezeWorld w("freeze_window_e2e", [&](ConfigBuilder& b) {
    b.entry("policy.freeze", {{"name", "launch"},
                              {"reason", "launch day: nothing ships"},
                              {"from", TomlValue::literal(toml_time(now - 1h))},
                              {"until", TomlValue::literal(toml_time(ends))}});
  });
  const std::string sha(40, 'a');
  w.ready(sha);
  REQUIRE(eventually([&] { return w.release(sha)["state"] == "ready"; }));
  const json waiting = w.release(sha);
  INFO(waiting.dump());
  REQUIRE(held(waiting, "waiting for the end of the freeze: launch (launch day: nothing ships) until " +
                            core::format_timestamp(ends)));

  auto freezes = w.daemon->get("/v1/freezes", tokens::viewer).json();
  CHECK(freezes["frozen"] == true);
  CHECK(freezes["active"]["name"] == "launch");
  CHECK(freezes["next_change"] == core::format_timestamp(ends));
  REQUIRE(freezes["windows"].size() == 1);
  CHECK(freezes["windows"][0]["kind"] == "one_off");
  std::string out;
  CHECK(w.promotectl({"freezes", "--check"}, tokens::viewer, out) == 0);
  CHECK(has(out, "no windows overlap"));
  CHECK(has(w.daemon->get("/metrics", "").body, "promoter_environment_frozen 1"));

  REQUIRE(eventually([&] { return w.release(sha)["state"] == "promoted"; }, 90s));
  auto promotions = w.daemon->get("/v1/promotions", tokens::viewer).json()["promotions"];
  REQUIRE(promotions.size() == 1);
  const auto created = core::parse_timestamp(promotions[0]["created_at"].get<std::string>());
  REQUIRE(created.has_value());
  CHECK(*created >= ends);  // not a moment before the window closed
  CHECK(w.daemon->get("/v1/freezes", tokens::viewer).json()["frozen"] == false);
}

TEST_CASE(
    "a stop-the-line freeze survives kill -9, holds releases until lifted, and only an override starts a "
    "hotfix inside it") {
  FreezeWorld w("line_stop_e2e");
  std::string out;
  CHECK(w.daemon->post("/v1/freeze", {{"reason", "x"}}, tokens::viewer).status == 403);
  CHECK(w.promotectl({"freeze"}, tokens::alice, out) == 2);  // a reason is required
  REQUIRE_MESSAGE(w.promotectl({"freeze", "--reason", "database failover"}, tokens::alice, out) == 0, out);
  CHECK(has(out, "Line stopped"));
  CHECK(has(out, "by alice"));

  const std::string first(40, '1');
  w.ready(first);
  REQUIRE(eventually([&] { return held(w.release(first), "stop-the-line (alice: database failover)"); }));

  w.daemon->restart();  // kill -9: the stop is in the database, not in memory
  auto status = w.daemon->get("/v1/status", tokens::viewer).json();
  CHECK(status["freeze"]["frozen"] == true);
  CHECK(status["freeze"]["line_stop"]["by"] == "alice");
  CHECK(status["freeze"]["line_stop"]["reason"] == "database failover");
  CHECK(w.release(first)["state"] == "ready");
  CHECK(w.daemon->get("/v1/promotions", tokens::viewer).json()["promotions"].empty());
  REQUIRE(w.promotectl({"status"}, tokens::viewer, out) == 0);
  CHECK(has(out, "no promotion starts: freeze: stop-the-line"));

  REQUIRE_MESSAGE(w.promotectl({"unfreeze", "--reason", "failover complete"}, tokens::bob, out) == 0, out);
  REQUIRE(eventually([&] { return w.release(first)["state"] == "promoted"; }, 30s));
  CHECK(w.promotectl({"unfreeze", "--reason", "again"}, tokens::bob, out) == 1);
  CHECK(has(out, "the line is not stopped"));

  // Stopped again, for two hours from now: a hotfix needs the override, which is audited.
  CHECK(w.promotectl({"freeze", "--reason", "pager storm", "--until", "soon"}, tokens::alice, out) == 1);
  CHECK(has(out, "field 'until' must be an RFC 3339 time"));
  const auto asked = std::chrono::system_clock::now();
  REQUIRE(w.promotectl({"freeze", "--reason", "pager storm", "--until", "2h"}, tokens::alice, out) == 0);
  const auto until = core::parse_timestamp(
      w.daemon->get("/v1/freezes", tokens::viewer).json()["line_stop"]["until"].get<std::string>());
  REQUIRE(until.has_value());
  CHECK(*until >= asked + 2h - 1s);  // resolved by the daemon's clock when it recorded the stop
  CHECK(*until <= std::chrono::system_clock::now() + 2h);
  const std::string fix(40, '2');
  w.ready(fix, json::array({first}));
  const std::vector<std::string> hotfix{"hotfix",       fix,          "--reason",
                                        "checkout 500", "--incident", "https://inc.example/1"};
  CHECK(w.promotectl(hotfix, tokens::bob, out) == 1);
  CHECK(has(out, "--override-freeze"));
  auto overriding = hotfix;
  overriding.push_back("--override-freeze");
  REQUIRE_MESSAGE(w.promotectl(overriding, tokens::bob, out) == 0, out);
  REQUIRE(eventually([&] { return w.release(fix)["state"] == "promoted"; }, 30s));
  CHECK(w.release(fix)["hotfix"]["overrides_freeze"] == true);
  const std::string audit = w.daemon->get("/v1/audit?limit=100", tokens::viewer).body;
  CHECK(has(audit, "environment.frozen"));
  CHECK(has(audit, "environment.unfrozen"));
  CHECK(has(audit, "promotion.freeze_overridden"));
  CHECK(has(audit, "hotfix.refused"));
}
