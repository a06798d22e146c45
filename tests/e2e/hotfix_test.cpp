// The emergency path end to end: real promoterd and promotectl, real PostgreSQL, staging reported by CI
// with the commit's ancestry, production machines on the fake Fly. A hotfix skips the 1h soak but not the
// smoke tests, builds on production or is refused, and leaves two obligations operators close with links.
#include <utility>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "tests/fakes/fake_fly.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/stage_release.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace promoter::testing;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string fly_token = "fly-fake-token-hotfix-000001";
const std::vector<std::string> services{"worker", "api", "www"};

fakes::FakeFlyOptions fly_options() {
  fakes::FakeFlyOptions o;
  o.token = fly_token;
  o.start_delay = 10ms;
  o.checks_delay = 10ms;
  return o;
}

struct HotfixWorld {
  OnThread<fakes::FakeFly> fly{fly_options()};
  fs::path dir = temp_dir("hotfix_e2e");
  std::unique_ptr<Daemon> daemon;

  HotfixWorld() {
    for (const auto& s : services) {
      fakes::FakeMachineSpec spec;
      spec.app = "rotor-" + s;
      spec.id = fmt::format("{}01000000000", s.substr(0, 3));
      spec.image = fmt::format("registry.fly.io/rotor-{}:previous", s);
      fly.call([&] { return fly.fake().add_machine(spec); });
    }
    auto env = auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_hotfix_e2e");
    env["FLY_TOKEN"] = fly_token;
    // The policy's own soak: nothing in this test waits for it.
    ConfigBuilder builder("1h");
    builder
        .table("fly", {{"endpoint", fly.call([&] { return fly.fake().url(); })},
                       {"token_env", "FLY_TOKEN"},
                       {"poll_interval", "50ms"}})
        .table("hotfix", {{"review_backfill_business_days", 2},
                          {"incident_report_within", "24h"},
                          {"holidays", std::vector<std::string>{"2026-12-25"}}})
        .shared_tokens();
    for (const auto& s : services)
      builder.service(
          s, {{"production",
               TomlValue::inline_table(
                   {{"provider", "fly"}, {"app", "rotor-" + s}, {"image", "registry.fly.io/rotor-" + s + ":{sha}"}})}});
    const std::string toml = builder.toml();
    daemon = std::make_unique<Daemon>(dir, toml, env);
    daemon->start();
  }

  // CI reports the commit live on every staging service, with what it descends from, and its smoke run.
  void staged(const std::string& sha, const json& ancestors, bool smoke = true) {
    stage_release(*daemon, sha, services, ancestors, smoke);
  }

  int promotectl(const std::vector<std::string>& args, const std::string& token, std::string& out) {
    std::vector<std::string> argv{PROMOTECTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_program(
        argv, {{"PROMOTER_URL", fmt::format("http://127.0.0.1:{}", daemon->port())}, {"PROMOTER_TOKEN", token}}, out);
  }

  std::string state(const std::string& sha) {
    auto r = daemon->get("/v1/releases/" + sha, tokens::viewer);
    return r.status == 200 ? r.json()["state"].get<std::string>() : "absent";
  }

  std::map<std::string, std::string> images() {
    std::map<std::string, std::string> out;
    for (const auto& s : services)
      for (const auto& m : fly.call([&] { return fly.fake().machines("rotor-" + s); }))
        out[s] = m["config"]["image"].get<std::string>();
    return out;
  }
};

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a hotfix skips the soak, builds on production or is refused, and its obligations are closed with links") {
  HotfixWorld w;
  const std::string first(40, '1'), fix(40, '2'), unrelated(40, '3'), unknown(40, '4');

  // The first hotfix: nothing is in production yet, so there is no ancestry to check.
  w.staged(first, nullptr);
  std::string out;
  REQUIRE_MESSAGE(w.promotectl({"hotfix", first, "--reason", "bootstrap", "--incident", "https://inc.example/1"},
                               tokens::bob, out) == 0,
                  out);
  REQUIRE(eventually([&] { return w.state(first) == "promoted"; }, 30s));

  // The fix descends from production and skips the 1h soak; its smoke tests ran.
  w.staged(fix, json::array({std::string(40, 'f'), first}));
  auto before = w.daemon->get("/v1/releases/" + fix, tokens::viewer).json();
  CHECK(before["state"] == "soaking");
  CHECK_FALSE(before["gates"]["soak"]["ok"].get<bool>());
  REQUIRE_MESSAGE(
      w.promotectl({"hotfix", fix, "--reason", "checkout returns 500", "--incident", "https://inc.example/42"},
                   tokens::alice, out) == 0,
      out);
  CHECK(has(out, "Hotfix of " + fix + " recorded"));
  CHECK(has(out, "review_backfill"));
  CHECK(has(out, "incident_report"));
  REQUIRE(eventually([&] { return w.state(fix) == "promoted"; }, 30s));
  for (const auto& [service, image] : w.images())
    CHECK(image == fmt::format("registry.fly.io/rotor-{}:{}", service, fix));
  auto promoted = w.daemon->get("/v1/releases/" + fix, tokens::viewer).json();
  CHECK(promoted["hotfix"]["by"] == "alice");
  CHECK(promoted["hotfix"]["incident_url"] == "https://inc.example/42");
  auto promotions = w.daemon->get("/v1/promotions", tokens::viewer).json()["promotions"];
  REQUIRE(promotions.size() == 2);
  CHECK(promotions[0]["hotfix"] == true);
  auto audit = w.daemon->get("/v1/audit?sha=" + fix, tokens::viewer).body;
  CHECK(has(audit, "hotfix.requested"));
  CHECK(has(audit, "descends from production"));

  // Refusals name why: not built on production, ancestry unknown, smoke missing.
  w.staged(unrelated, json::array({std::string(40, 'e')}));
  CHECK(w.promotectl({"hotfix", unrelated, "--reason", "x", "--incident", "https://inc.example/43"}, tokens::bob,
                     out) == 1);
  CHECK(has(out, "does not descend from production"));
  w.staged(unknown, nullptr);
  CHECK(w.promotectl({"hotfix", unknown, "--reason", "x", "--incident", "https://inc.example/44"}, tokens::bob, out) ==
        1);
  CHECK(has(out, "cannot establish that"));
  const std::string unsmoked(40, '5');
  w.staged(unsmoked, json::array({fix}), /*smoke=*/false);
  CHECK(w.promotectl({"hotfix", unsmoked, "--reason", "x", "--incident", "https://inc.example/45"}, tokens::bob, out) ==
        1);
  CHECK(has(out, "still needs its smoke tests"));
  CHECK(w.state(unsmoked) == "soaking");
  CHECK(w.promotectl({"hotfix", unsmoked, "--reason", "x", "--incident", "not a url"}, tokens::bob, out) == 1);
  CHECK(has(out, "must be an http(s) URL"));
  CHECK(w.daemon
            ->post("/v1/hotfixes", json{{"sha", unsmoked}, {"reason", "x"}, {"incident_url", "https://a"}},
                   tokens::viewer)
            .status == 403);

  // Four obligations, two per hotfix; operators close them with the evidence.
  REQUIRE(w.promotectl({"obligations"}, tokens::viewer, out) == 0);
  CHECK(has(out, "review_backfill"));
  auto open = w.daemon->get("/v1/obligations", tokens::viewer).json()["obligations"];
  REQUIRE(open.size() == 4);
  for (const auto& o : open) CHECK(o["state"] == "open");
  const std::string id = open[0]["id"];
  REQUIRE_MESSAGE(
      w.promotectl({"close-obligation", id, "--link", "https://review.example/pr/7"}, tokens::bob, out) == 0, out);
  CHECK(has(out, "Closed obligation " + id));
  CHECK(w.promotectl({"close-obligation", id, "--link", "https://review.example/pr/8"}, tokens::bob, out) == 1);
  CHECK(has(out, "was closed by bob"));
  CHECK(w.daemon->get("/v1/obligations", tokens::viewer).json()["obligations"].size() == 3);
  auto all = w.daemon->get("/v1/obligations?state=all", tokens::viewer).json()["obligations"];
  REQUIRE(all.size() == 4);
  bool found = false;
  for (const auto& o : all)
    if (o["id"] == id) {
      found = true;
      CHECK(o["state"] == "closed");
      CHECK(o["closed_by"] == "bob");
      CHECK(o["link"] == "https://review.example/pr/7");
    }
  CHECK(found);
  auto status = w.daemon->get("/v1/status", tokens::viewer).json();
  CHECK(status["obligations"]["open"] == 3);
  CHECK(status["obligations"]["overdue"] == 0);
  CHECK(has(w.daemon->get("/v1/audit", tokens::viewer).body, "hotfix.obligation_closed"));
}
