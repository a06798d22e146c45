// End to end: the real promoterd binary on a real PostgreSQL, driven over HTTP only, as an operator and
// CI would drive it.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <algorithm>
#include <fstream>
#include <regex>
#include <set>

#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;
using nlohmann::json;

namespace {

using tokens::alice;
using tokens::bob;
using tokens::ci;
using tokens::viewer;

ConfigBuilder builder(const std::string& soak, const std::filesystem::path& dir,
                      const std::string& step_delay = "0ms") {
  return std::move(ConfigBuilder(soak).services({"worker", "api", "www"}).simulated(dir, step_delay).shared_tokens());
}

std::string config(const std::string& soak, const std::filesystem::path& dir, const std::string& step_delay = "0ms") {
  return builder(soak, dir, step_delay).toml();
}

// The 1-based line of `toml` on which `needle` starts.
long line_of(const std::string& toml, const std::string& needle) {
  const auto at = toml.find(needle);
  REQUIRE_MESSAGE(at != std::string::npos, needle);
  return std::count(toml.begin(), toml.begin() + static_cast<std::ptrdiff_t>(at), '\n') + 1;
}

std::map<std::string, std::string> daemon_env(const std::string& name) {
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_e2e_" + name);
  return env;
}

struct Env {
  Env(const std::string& name, const std::string& soak, const std::string& step_delay = "0ms")
      : dir(temp_dir(name)), daemon(dir, config(soak, dir, step_delay), daemon_env(name)) {
    daemon.start();
  }
  std::filesystem::path dir;
  Daemon daemon;

  json release(const std::string& sha) const {
    auto r = daemon.get("/v1/releases/" + sha, viewer);
    REQUIRE(r.status == 200);
    return r.json();
  }
  void deploy(const std::string& sha, const std::string& service, const std::string& status,
              const std::string& author = "alice-gh") const {
    auto r = daemon.post("/v1/staging-deployments",
                         {{"service", service},
                          {"sha", sha},
                          {"deployment_id", "dep-" + service + "-" + sha.substr(0, 6)},
                          {"status", status},
                          {"author", author}},
                         ci);
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  void deploy_all(const std::string& sha) const {
    for (const char* s : {"worker", "api", "www"}) deploy(sha, s, "BUILDING");
    for (const char* s : {"worker", "api", "www"}) deploy(sha, s, "SUCCESS");
  }
  void smoke(const std::string& sha, bool passed) const {
    auto r = daemon.post("/v1/releases/" + sha + "/smoke-results", {{"suite", "e2e"}, {"passed", passed}}, ci);
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  std::vector<json> effects() const {
    std::vector<json> out;
    std::ifstream in(dir / "effects.jsonl");
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }
  bool promoted(const std::string& sha) const { return release(sha)["state"] == "promoted"; }
};

const std::string sha1 = "1111111111111111111111111111111111111111";

}  // namespace

TEST_CASE("a release walks from staging deploy through soak, smoke and approval to production") {
  Env env("happy", "2s");
  env.deploy_all(sha1);
  json r = env.release(sha1);
  CHECK(r["state"] == "soaking");
  CHECK(r["author"] == "alice-gh");
  CHECK(r["gates"]["soak"]["ok"] == false);
  CHECK(std::regex_match(r["gates"]["soak"]["reason"].get<std::string>(), std::regex("soak: [0-2]s of 2s")));
  CHECK(r["gates"]["smoke"]["reason"] == "smoke: suite e2e has not reported");
  CHECK(r["gates"]["approval"]["ok"] == false);

  // The author may not approve their own release, and the refusal says why.
  auto self = env.daemon.post("/v1/releases/" + sha1 + "/approve", {{"reason", "mine"}}, alice);
  CHECK(self.status == 403);
  CHECK(self.json()["error"]["message"].get<std::string>().find("author") != std::string::npos);

  // Approval before soak and smoke complete is kept.
  auto approved = env.daemon.post("/v1/releases/" + sha1 + "/approve", {{"reason", "looks good"}}, bob);
  REQUIRE(approved.status == 200);
  CHECK(approved.json()["gates"]["approval"]["ok"] == true);
  CHECK(approved.json()["state"] == "soaking");
  env.smoke(sha1, true);

  // The soak deadline timer completes the gates and the promotion starts by itself.
  REQUIRE(eventually([&] { return env.promoted(sha1); }));
  r = env.release(sha1);
  REQUIRE(r["promotion_id"].is_string());
  auto p = env.daemon.get("/v1/promotions/" + r["promotion_id"].get<std::string>(), viewer).json();
  CHECK(p["state"] == "succeeded");
  std::vector<std::string> names;
  for (const auto& s : p["steps"]) {
    names.push_back(s["name"]);
    CHECK(s["state"] == "succeeded");
  }
  CHECK(names == std::vector<std::string>{"preflight", "migrate", "deploy:worker", "deploy:api", "deploy:www", "verify",
                                          "record"});
  std::vector<std::string> effect_steps;
  for (const auto& e : env.effects()) effect_steps.push_back(e["step"]);
  CHECK(effect_steps == std::vector<std::string>{"migrate", "deploy:worker", "deploy:api", "deploy:www", "verify"});

  auto status = env.daemon.get("/v1/status", viewer).json();
  CHECK(status["production"]["sha"] == sha1);
  CHECK(status["short_soak"] == true);
  CHECK(status["warnings"][0].get<std::string>().find("SHORT SOAK MODE") != std::string::npos);

  auto audit = env.daemon.get("/v1/audit?sha=" + sha1, viewer).json();
  std::set<std::string> actions;
  for (const auto& e : audit["entries"])
    actions.insert(e["actor"].get<std::string>() + " " + e["action"].get<std::string>());
  CHECK(actions.count("bob release.approved") == 1);
  CHECK(actions.count("alice release.approval_refused") == 1);
  CHECK(actions.count("promoterd promotion.succeeded") == 1);

  const std::string metrics = env.daemon.get("/metrics", "").body;
  CHECK(metrics.find("promoter_promotions_total{result=\"succeeded\"} 1") != std::string::npos);
  CHECK(metrics.find("promoter_short_soak_enabled 1") != std::string::npos);
}

TEST_CASE("an unexpired soak blocks promotion with a clear reason") {
  Env env("soak_blocks", "1h");
  env.deploy_all(sha1);
  env.smoke(sha1, true);
  auto approved = env.daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), bob);
  REQUIRE(approved.status == 200);
  json r = approved.json();
  CHECK(r["state"] == "soaking");
  CHECK(r["ready"] == false);
  CHECK(r["promotion_id"].is_null());
  CHECK(r["gates"]["smoke"]["ok"] == true);
  CHECK(r["gates"]["approval"]["ok"] == true);
  CHECK(std::regex_match(r["gates"]["soak"]["reason"].get<std::string>(), std::regex("soak: [0-9]+s of 1h")));
  CHECK(env.daemon.get("/v1/promotions", viewer).json()["promotions"].empty());
}

TEST_CASE("a missing smoke suite blocks promotion after the soak completed") {
  Env env("smoke_blocks", "1s");
  env.deploy_all(sha1);
  REQUIRE(env.daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), bob).status == 200);
  REQUIRE(eventually([&] { return env.release(sha1)["gates"]["soak"]["ok"] == true; }));
  json r = env.release(sha1);
  CHECK(r["state"] == "soaking");
  CHECK(r["gates"]["smoke"]["ok"] == false);
  CHECK(r["gates"]["smoke"]["reason"] == "smoke: suite e2e has not reported");
  CHECK(r["promotion_id"].is_null());
  env.smoke(sha1, false);
  r = env.release(sha1);
  CHECK(r["gates"]["smoke"]["reason"] == "smoke: suite e2e failed");
  CHECK(r["promotion_id"].is_null());
  // Once the suite passes, the release goes at once: every other gate already held.
  env.smoke(sha1, true);
  CHECK(eventually([&] { return env.promoted(sha1); }));
}

TEST_CASE("a crash during soak resets it and blocks promotion until a full soak passes again") {
  Env env("crash_blocks", "2s");
  env.deploy_all(sha1);
  const json soaking = env.release(sha1);
  REQUIRE(soaking["state"] == "soaking");
  const std::string first_soak_started = soaking["soak"]["started_at"];
  // The crash comes before smoke and approval, so no gate can complete the release while the test is
  // still setting it up, however slowly it runs.
  env.deploy(sha1, "api", "CRASHED");
  env.smoke(sha1, true);
  REQUIRE(env.daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), bob).status == 200);
  json r = env.release(sha1);
  CHECK(r["state"] == "deploying");
  CHECK(r["soak"]["resets"] == 1);
  CHECK(r["soak"]["started_at"].is_null());
  CHECK(r["gates"]["soak"]["reason"] == "soak: not started (api is CRASHED)");
  CHECK(r["gates"]["smoke"]["ok"] == true);
  CHECK(r["gates"]["approval"]["ok"] == true);
  CHECK(r["promotion_id"].is_null());

  // Live again, the release soaks from zero: a new start, not the old one resumed.
  env.deploy(sha1, "api", "SUCCESS");
  r = env.release(sha1);
  CHECK(r["state"] == "soaking");
  CHECK(r["soak"]["resets"] == 1);
  const std::string second_soak_started = r["soak"]["started_at"];
  const std::string second_deadline = r["soak"]["deadline"];
  CHECK(second_soak_started > first_soak_started);  // same fixed-width UTC format: text order is time order

  // The promotion waits for the new soak's deadline: the daemon's own timestamps say so, whenever the test
  // gets to look.
  REQUIRE(eventually([&] { return env.promoted(sha1); }));
  r = env.release(sha1);
  REQUIRE(r["promotion_id"].is_string());
  auto p = env.daemon.get("/v1/promotions/" + r["promotion_id"].get<std::string>(), viewer).json();
  CHECK(p["created_at"].get<std::string>() >= second_deadline);
  CHECK(r["soak"]["started_at"] == second_soak_started);
}

TEST_CASE("a promotion interrupted by killing promoterd finishes after restart, each step once") {
  Env env("restart", "1s", "300ms");
  env.deploy_all(sha1);
  env.smoke(sha1, true);
  REQUIRE(env.daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), bob).status == 200);
  // Kill it once the promotion is part-way: some deploys recorded, not all.
  REQUIRE(eventually([&] { return env.effects().size() >= 2; }));
  env.daemon.kill_hard();
  const auto before = env.effects().size();
  CHECK(before < 5);
  env.daemon.start();
  REQUIRE(eventually([&] { return env.promoted(sha1); }));
  std::map<std::string, int> counts;
  for (const auto& e : env.effects()) ++counts[e["key"].get<std::string>()];
  CHECK(counts.size() == 5);
  for (const auto& [key, n] : counts) CHECK_MESSAGE(n == 1, key);
  CHECK(env.daemon.log().find("resuming promotion interrupted by a restart") != std::string::npos);
}

TEST_CASE(
    "an operator aborts a running promotion: the running step ends, nothing after it is touched, and the next "
    "release can still go") {
  Env env("abort", "1s", "2s");
  env.deploy_all(sha1);
  env.smoke(sha1, true);
  REQUIRE(env.daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), bob).status == 200);
  // Part-way: the migration took effect, a deploy is running (each simulated step takes 2s).
  REQUIRE(eventually([&] { return env.effects().size() >= 1; }));
  const std::string id = env.release(sha1)["promotion_id"].get<std::string>();
  const std::string abort_path = "/v1/promotions/" + id + "/abort";

  CHECK(env.daemon.post(abort_path, {{"reason", "x"}}, viewer).status == 403);
  auto no_reason = env.daemon.post(abort_path, json::object(), bob);
  CHECK(no_reason.status == 400);
  CHECK(no_reason.json()["error"]["message"] == "field 'reason' is required");

  std::string out;
  const int rc = run_program(
      {PROMOTECTL_BIN, "abort", id, "--reason", "wrong image tag"},
      {{"PROMOTER_URL", fmt::format("http://127.0.0.1:{}", env.daemon.port())}, {"PROMOTER_TOKEN", bob}}, out);
  INFO(out);
  CHECK(rc == 0);
  CHECK(out.find("Abort of promotion " + id + " requested by bob") != std::string::npos);

  REQUIRE(eventually([&] { return env.release(sha1)["state"] == "promotion_aborted"; }));
  json r = env.release(sha1);
  CHECK(r["state_reason"].get<std::string>().find("aborted by bob: wrong image tag") != std::string::npos);
  auto p = env.daemon.get("/v1/promotions/" + id, viewer).json();
  CHECK(p["state"] == "aborted");
  CHECK(p["abort"]["by"] == "bob");
  CHECK(p["abort"]["reason"] == "wrong image tag");
  // What the world saw is exactly the steps the journal says succeeded; www, verify and record never ran.
  std::vector<std::string> succeeded, effect_steps;
  for (const auto& s : p["steps"]) {
    if (s["state"] == "succeeded" && (s["kind"] == "migrate" || s["kind"] == "deploy")) succeeded.push_back(s["name"]);
    if (s["name"] == "deploy:www" || s["name"] == "verify" || s["name"] == "record") CHECK(s["state"] == "planned");
  }
  for (const auto& e : env.effects()) effect_steps.push_back(e["step"]);
  CHECK(effect_steps == succeeded);
  CHECK(effect_steps.size() < 4);
  CHECK(env.daemon.get("/v1/status", viewer).json()["production"].is_null());

  auto again = env.daemon.post(abort_path, {{"reason", "again"}}, bob);
  CHECK(again.status == 409);
  CHECK(again.json()["error"]["message"].get<std::string>().find("has ended (aborted)") != std::string::npos);

  std::set<std::string> actions;
  const json audit = env.daemon.get("/v1/audit?sha=" + sha1, viewer).json();  // named: g++ 12's range-for dangles
  for (const auto& e : audit["entries"])
    actions.insert(e["actor"].get<std::string>() + " " + e["action"].get<std::string>());
  CHECK(actions.count("bob promotion.abort_requested") == 1);
  CHECK(actions.count("promoterd promotion.aborted") == 1);
  const std::string metrics = env.daemon.get("/metrics", "").body;
  CHECK(metrics.find("promoter_promotions_total{result=\"aborted\"} 1") != std::string::npos);
  CHECK(metrics.find("promoter_promotions_total{result=\"failed\"} 0") != std::string::npos);
  CHECK(metrics.find("promoter_releases{state=\"promotion_aborted\"} 1") != std::string::npos);

  // The production lane is free again: the next commit goes through on its own gates.
  const std::string sha2 = "2222222222222222222222222222222222222222";
  env.deploy_all(sha2);
  env.smoke(sha2, true);
  REQUIRE(env.daemon.post("/v1/releases/" + sha2 + "/approve", json::object(), bob).status == 200);
  CHECK(eventually([&] { return env.promoted(sha2); }, std::chrono::seconds(60)));
}

TEST_CASE("bad requests get a clear error and change nothing") {
  Env env("bad_input", "1h");
  CHECK(env.daemon.get("/v1/releases", "").status == 401);
  CHECK(env.daemon.get("/v1/releases", "not-a-token").status == 401);
  auto wrong_role = env.daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), ci);
  CHECK(wrong_role.status == 403);
  auto bad_sha = env.daemon.get("/v1/releases/xyz", viewer);
  CHECK(bad_sha.status == 400);
  CHECK(bad_sha.json()["error"]["code"] == "invalid_argument");
  auto unknown = env.daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), bob);
  CHECK(unknown.status == 404);
  auto bad_json = http(env.daemon.port(), "POST", "/v1/staging-deployments", "{not json", ci);
  CHECK(bad_json.status == 400);
  CHECK(bad_json.json()["error"]["message"] == "request body is not valid JSON");
  auto missing = env.daemon.post("/v1/staging-deployments", {{"sha", sha1}, {"status", "SUCCESS"}}, ci);
  CHECK(missing.status == 400);
  CHECK(missing.json()["error"]["message"] == "field 'service' is required");
  auto unknown_service = env.daemon.post(
      "/v1/staging-deployments", {{"service", "db"}, {"sha", sha1}, {"deployment_id", "x"}, {"status", "SUCCESS"}}, ci);
  CHECK(unknown_service.status == 400);
  CHECK(env.daemon.get("/v1/releases", viewer).json()["releases"].empty());
  auto no_reason = env.daemon.post("/v1/releases/" + sha1 + "/reject", json::object(), bob);
  CHECK(no_reason.status == 400);
  CHECK(no_reason.json()["error"]["message"] == "field 'reason' is required");
}

TEST_CASE("text that would be stored cut short or shown disguised is refused with 400 naming the field") {
  Env env("input_rules", "1h");
  const auto post_raw = [&](const std::string& target, const std::string& body, const std::string& token) {
    return http(env.daemon.port(), "POST", target, body, token);
  };
  const std::string head = R"({"service":"api","sha":")" + sha1 + R"(","status":"SUCCESS",)";
  auto nul = post_raw("/v1/staging-deployments", head + R"("deployment_id":"a\u0000b"})", ci);
  CHECK(nul.status == 400);
  CHECK(nul.json()["error"]["message"] == "field 'deployment_id' contains U+0000 (a control character) at byte 1");
  auto twice = post_raw("/v1/staging-deployments", head + R"("deployment_id":"d1","status":"FAILED"})", ci);
  CHECK(twice.status == 400);
  CHECK(twice.json()["error"]["message"] == "request body has a duplicate key 'status' in the same object");
  auto lookalike = post_raw("/v1/staging-deployments", head + R"("deployment_id":"d1","author":"b\u043eb"})", ci);
  CHECK(lookalike.status == 400);
  CHECK(lookalike.json()["error"]["message"].get<std::string>().starts_with("field 'author': the name mixes scripts"));
  CHECK(env.daemon.get("/v1/releases", viewer).json()["releases"].empty());  // nothing was recorded

  // bob, spelled "Bob " by CI, is still bob: his approval of his own release is refused.
  env.deploy(sha1, "api", "SUCCESS", "Bob ");
  auto own = env.daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), bob);
  CHECK(own.status == 403);
  CHECK(own.json()["error"]["message"].get<std::string>().find("bob is the author of") != std::string::npos);
  auto disguised = post_raw("/v1/releases/" + sha1 + "/reject", R"({"reason":"breaks \u202echeckout"})", alice);
  CHECK(disguised.status == 400);
  CHECK(disguised.json()["error"]["message"] ==
        "field 'reason' contains U+202E (a bidirectional control character) at byte 7");
  CHECK(env.release(sha1)["rejection"].is_null());
}

TEST_CASE("promoterd --check warns when two git_authors entries are one author once normalised, and still exits 0") {
  auto dir = temp_dir("check_git_authors");
  const std::string toml = builder("30m", dir)
                               .entry("auth.tokens", {{"identity", "carol"},
                                                      {"role", "operator"},
                                                      {"token_env", "T_CAROL"},
                                                      {"git_authors", std::vector<std::string>{"carol", "Alice-GH "}}})
                               .toml();
  std::ofstream(dir / "promoter.toml") << toml;
  std::string out;
  CHECK(run_program({PROMOTERD_BIN, "--config", (dir / "promoter.toml").string(), "--check"}, {}, out) == 0);
  CHECK_MESSAGE(out.find(fmt::format("promoter.toml:{}:25: warning: auth.tokens.git_authors \"Alice-GH \" (identity "
                                     "carol) and \"alice-gh\" (identity alice) are the same commit author",
                                     line_of(toml, "git_authors = [\"carol\""))) != std::string::npos,
                out);
  CHECK_MESSAGE(out.find(": ok (3 services") != std::string::npos, out);
}

TEST_CASE("promoterd --check validates a config: exit 0, or file:line:col and exit 2") {
  auto dir = temp_dir("check");
  std::ofstream(dir / "good.toml") << config("30m", dir);
  std::string out;
  CHECK(run_program({PROMOTERD_BIN, "--config", (dir / "good.toml").string(), "--check"}, {}, out) == 0);
  const std::string bad = builder("10m", dir).set("policy", "allow_short_soak", false).toml();
  std::ofstream(dir / "bad.toml") << bad;
  CHECK(run_program({PROMOTERD_BIN, "--config", (dir / "bad.toml").string(), "--check"}, {}, out) == 2);
  CHECK_MESSAGE(out.find(fmt::format("bad.toml:{}:8: policy.soak = \"10m\" is below the policy floor of 30m",
                                     line_of(bad, "soak = \"10m\""))) != std::string::npos,
                out);
}

TEST_CASE("promoterd --check refuses bad [hotfix] and approval rule settings with file:line:col") {
  auto dir = temp_dir("check_hotfix");
  const std::string good = config("30m", dir);
  struct Bad {
    std::string append;
    std::string message;
  };
  const Bad cases[] = {
      {"\n[hotfix]\nreview_window = \"2d\"\n", ":3:17: unknown key 'hotfix.review_window'"},
      {"\n[hotfix]\nholidays = [\"2026-02-30\"]\n", ":3:13: hotfix.holidays entries must be dates"},
      {"\n[hotfix]\nincident_report_within = \"10m\"\n", ":3:26: hotfix.incident_report_within must be between 1h"},
      {"\n[hotfix]\nreview_backfill_business_days = 0\n",
       ":3:33: hotfix.review_backfill_business_days = 0 is out of range"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.append);
    std::ofstream(dir / "bad.toml") << good << c.append;
    const auto lines = std::count(good.begin(), good.end(), '\n');
    std::string out;
    CHECK(run_program({PROMOTERD_BIN, "--config", (dir / "bad.toml").string(), "--check"}, {}, out) == 2);
    // The line is counted from the end of the good part.
    const std::string expected = c.message.substr(c.message.find(':', 1));
    const auto line = std::stoi(c.message.substr(1, c.message.find(':', 1) - 1)) + lines;
    CHECK_MESSAGE(out.find(fmt::format("bad.toml:{}{}", line, expected)) != std::string::npos, out);
  }
  std::string rule = good;
  rule.insert(rule.find("[policy]") + 9, "approval_rules = [{ services = [\"billing\"], approvals_required = 2 }]\n");
  std::ofstream(dir / "rule.toml") << rule;
  std::string out;
  CHECK(run_program({PROMOTERD_BIN, "--config", (dir / "rule.toml").string(), "--check"}, {}, out) == 2);
  CHECK_MESSAGE(out.find("names 'billing', which is not a configured service") != std::string::npos, out);
}

TEST_CASE("after a restart, a report about a superseded release (no longer in memory) is kept as history") {
  Env env("late_report", "1h");
  const std::string sha2 = "2222222222222222222222222222222222222222";
  env.deploy_all(sha1);
  env.deploy_all(sha2);
  REQUIRE(env.release(sha1)["state"] == "superseded");
  env.daemon.restart();
  // The restarted daemon loads only active work; the late report must find sha1 in the database.
  env.deploy(sha1, "api", "REMOVED");
  const json r = env.release(sha1);
  CHECK(r["state"] == "superseded");
  bool removed_seen = false;
  for (const auto& d : r["deployments"]) removed_seen = removed_seen || d["status"] == "REMOVED";
  CHECK(removed_seen);
  // Decisions on it are refused for its state, not for being unknown.
  auto approve = env.daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), bob);
  CHECK(approve.status == 409);
  CHECK(approve.json()["error"]["message"].get<std::string>().find("superseded") != std::string::npos);
  const json listed = env.daemon.get("/v1/releases?limit=1", viewer).json();
  REQUIRE(listed["releases"].size() == 1);
  CHECK(listed["releases"][0]["sha"] == sha2);
  const std::string before = listed["next_before"];
  const json older = env.daemon.get("/v1/releases?limit=1&before=" + before, viewer).json();
  REQUIRE(older["releases"].size() == 1);
  CHECK(older["releases"][0]["sha"] == sha1);
  const json status = env.daemon.get("/v1/status", viewer).json();
  CHECK(status["release_counts"] == json{{"soaking", 1}, {"superseded", 1}});
}
