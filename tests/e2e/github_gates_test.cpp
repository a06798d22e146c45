// The review, ci and ddl_rollback gates end to end: real promoterd, real PostgreSQL, staging reported by CI,
// simulated production, and the fake GitHub with signed webhooks. A release stays blocked until its PR is
// approved by a team member, its checks pass and its DDL carries a rollback section; it then promotes and the
// production tag appears on GitHub. A hotfix's review backfill closes itself when GitHub delivers an approval.
#include <utility>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "tests/fakes/fake_github.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/stage_release.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace promoter::testing;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string github_token = "github-fake-token-gates-00001";
const std::string webhook_secret = "github-webhook-secret-0123456789";
const std::vector<std::string> services{"worker", "api"};
const fakes::FakeGitHubUser alice{101, "alice-gh"}, bob{202, "bob-gh"}, mallory{303, "mallory-gh"};

fakes::FakeGitHubOptions github_options() {
  fakes::FakeGitHubOptions o;
  o.token = github_token;
  o.webhook_secret = webhook_secret;
  return o;
}

const std::string ddl_patch = "@@ -0,0 +1,2 @@\n+ALTER TABLE invoices ADD COLUMN currency text;\n+-- adds currency\n";
const std::string rollback_body =
    "Adds invoice currency.\n\n## Rollback\n\n```sql\nALTER TABLE invoices DROP COLUMN currency;\n```\n";

struct GatesWorld {
  OnThread<fakes::FakeGitHub> github{github_options()};
  fs::path dir = temp_dir("github_gates_e2e");
  std::string toml;
  std::map<std::string, std::string> environment;
  std::unique_ptr<Daemon> daemon;

  GatesWorld() {
    github.call([&] {
      github.fake().add_team_member("engineering", alice);
      github.fake().add_team_member("engineering", bob);
      return 0;
    });
    auto env = auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_github_gates_e2e");
    env["GITHUB_TOKEN_FOR_TEST"] = github_token;
    env["GITHUB_WEBHOOK_SECRET_FOR_TEST"] = webhook_secret;
    ConfigBuilder builder("0ms");
    builder.table("policy", {{"require_review", true},
                             {"require_ci", true},
                             {"required_checks", std::vector<std::string>{"typecheck", "test"}},
                             {"min_test_pass_rate", TomlValue::literal("0.95")},
                             {"require_ddl_rollback", true},
                             {"migration_globs", std::vector<std::string>{"packages/db/migrations/**"}}});
    builder.table("github", {{"endpoint", github.call([&] { return github.fake().url(); })},
                             {"owner", "acme"},
                             {"repo", "monorepo"},
                             {"token_env", "GITHUB_TOKEN_FOR_TEST"},
                             {"webhook_secret_env", "GITHUB_WEBHOOK_SECRET_FOR_TEST"},
                             {"team", "acme/engineering"},
                             // Only webhooks wake the reconciler within this test's patience.
                             {"reconcile_interval", "1h"}});
    builder.simulated(dir).shared_tokens().services(services);
    toml = builder.toml();
    environment = env;
    daemon = std::make_unique<Daemon>(dir, toml, environment);
    daemon->start();
    const std::string hook = fmt::format("http://127.0.0.1:{}/webhooks/github", daemon->port());
    github.call([&] {
      github.fake().set_webhook(hook);
      return 0;
    });
  }

  void staged(const std::string& sha, const json& ancestors = nullptr) {
    stage_release(*daemon, sha, services, ancestors);
  }

  json release(const std::string& sha) {
    auto r = daemon->get("/v1/releases/" + sha, tokens::viewer);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json();
  }

  std::string gate(const std::string& sha, const std::string& name) {
    return release(sha)["gates"][name]["reason"].get<std::string>();
  }

  bool gate_ok(const std::string& sha, const std::string& name) {
    return release(sha)["gates"][name]["ok"].get<bool>();
  }
};

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a release waits for review, checks and a rollback section on GitHub, then promotes and is tagged") {
  GatesWorld w;
  // PR #1 by alice adds DDL without a rollback section, and is merged as `release`.
  const std::string head = w.github.call([&] { return w.github.fake().push_commit({}, "feature work"); });
  const std::string release = w.github.call([&] { return w.github.fake().push_commit({}, "Merge #1"); });
  fakes::FakePull pull;
  pull.author = alice;
  pull.body = "Adds invoice currency.";
  pull.head_sha = head;
  pull.commits = {head};
  pull.merge_commit_sha = release;
  pull.files = {fakes::added_file("packages/db/migrations/0042_currency.sql", ddl_patch)};
  const int number = w.github.call([&] { return w.github.fake().add_pull(pull); });
  w.staged(release);
  // The operator's approval (bob; alice wrote it): the gates the policy had before GitHub's.
  auto approved = w.daemon->post("/v1/releases/" + release + "/approve", json{{"reason", "ok"}}, tokens::bob);
  REQUIRE_MESSAGE(approved.status == 200, approved.body);

  // The first pass reads GitHub once the release exists; a webhook for anything wakes it.
  w.github.call([&] {
    w.github.fake().set_check_run(release, fakes::completed_check_run("typecheck"));
    return 0;
  });
  REQUIRE(eventually([&] { return has(w.gate(release, "ci"), "test is missing"); }));
  CHECK(has(w.gate(release, "review"), fmt::format("PR #{}", number)));
  CHECK(has(w.gate(release, "ddl_rollback"), "0042_currency.sql"));
  CHECK(w.release(release)["state"] == "soaking");
  CHECK(w.release(release)["evidence"]["pulls"].size() == 1);

  // Mallory is not on the team, and alice's own approval does not count.
  w.github.call([&] {
    w.github.fake().add_review(number, fakes::approval_by(mallory));
    w.github.fake().add_review(number, fakes::approval_by(alice));
    w.github.fake().set_check_run(release, fakes::completed_check_run("test", "940 passed, 60 failed"));
    return 0;
  });
  REQUIRE(eventually([&] { return has(w.gate(release, "ci"), "940 of 1000 (94%)"); }));
  CHECK_FALSE(w.gate_ok(release, "review"));
  CHECK(w.release(release)["state"] == "soaking");

  // Bob approves, the tests pass at 95%, and the description gains its rollback section.
  w.github.call([&] {
    w.github.fake().add_review(number, fakes::approval_by(bob));
    w.github.fake().set_check_run(release, fakes::completed_check_run("test", "950 passed, 50 failed"));
    w.github.fake().edit_pull_body(number, rollback_body);
    return 0;
  });
  const bool promoted = eventually([&] { return w.release(release)["state"] == "promoted"; }, 30s);
  if (!promoted) MESSAGE(w.release(release).dump(2) << "\n" << w.daemon->log());
  REQUIRE(promoted);
  CHECK(w.gate_ok(release, "review"));
  CHECK(w.gate_ok(release, "ci"));
  CHECK(w.gate_ok(release, "ddl_rollback"));

  // The tag step ran: refs/tags/production-<UTC time> points at the release.
  auto tags = w.github.call([&] { return w.github.fake().tags(); });
  REQUIRE(tags.size() == 1);
  CHECK(tags.begin()->first.starts_with("production-"));
  CHECK(tags.begin()->second == release);

  // A forged delivery is refused and audited; a repeated one is dropped.
  auto forged = w.github.await(
      w.github.fake().deliver(fmt::format("http://127.0.0.1:{}/webhooks/github", w.daemon->port()), "ping",
                              json{{"zen", "hi"}}, "d-1", std::string("sha256=") + std::string(64, '0')));
  REQUIRE(forged.has_value());
  CHECK(*forged == 401);
  // The audit row is written beside the answer, not before it.
  CHECK(eventually(
      [&] { return has(w.daemon->get("/v1/audit?limit=50", tokens::viewer).body, "github.webhook_refused"); }));
  const std::string url = fmt::format("http://127.0.0.1:{}/webhooks/github", w.daemon->port());
  auto first = w.github.await(w.github.fake().deliver(url, "ping", json{{"zen", "hi"}}, "d-2"));
  auto again = w.github.await(w.github.fake().deliver(url, "ping", json{{"zen", "hi"}}, "d-2"));
  REQUIRE(first.has_value());
  REQUIRE(again.has_value());
  CHECK(*first == 200);
  CHECK(*again == 200);
  // The second was dropped as a repeat; and the gates' blocking shows per gate.
  const std::string metrics = w.daemon->get("/metrics", tokens::viewer).body;
  CHECK(has(metrics, R"(promoter_github_webhooks_total{kind="other",result="duplicate"} 1)"));
  CHECK(has(metrics, R"(promoter_github_webhooks_total{kind="other",result="refused"} 1)"));
  CHECK(has(metrics, R"(promoter_gate_blocked{gate="review"})"));
  CHECK(has(metrics, R"(promoter_github_calls_total{operation="commit.pulls",result="not_modified"})"));
}

TEST_CASE("a hotfix's review backfill closes itself when GitHub delivers an approving review") {
  GatesWorld w;
  // Production: the first release, promoted as a hotfix (nothing was in production yet to branch from).
  const std::string base = w.github.call([&] { return w.github.fake().push_commit({}, "initial"); });
  w.staged(base);
  auto first = w.daemon->post("/v1/hotfixes",
                              json{{"sha", base}, {"reason", "bootstrap"}, {"incident_url", "https://inc.example/1"}},
                              tokens::bob);
  REQUIRE_MESSAGE(first.status == 200, first.body);
  // CI still gates a hotfix.
  w.github.call([&] {
    w.github.fake().set_check_run(base, fakes::completed_check_run("typecheck"));
    w.github.fake().set_check_run(base, fakes::completed_check_run("test", "10 passed, 0 failed"));
    return 0;
  });
  REQUIRE(eventually([&] { return w.release(base)["state"] == "promoted"; }, 30s));

  // The fix branches from production and comes in through PR #n by alice, not yet reviewed.
  const std::string fix = w.github.call([&] { return w.github.fake().branch_commit(base); });
  fakes::FakePull pull;
  pull.author = alice;
  pull.head_ref = "hotfix/checkout";
  pull.head_sha = fix;
  pull.commits = {fix};
  const int number = w.github.call([&] { return w.github.fake().add_pull(pull); });
  w.staged(fix, json::array({base}));
  auto hotfix = w.daemon->post(
      "/v1/hotfixes", json{{"sha", fix}, {"reason", "checkout down"}, {"incident_url", "https://inc.example/2"}},
      tokens::bob);
  REQUIRE_MESSAGE(hotfix.status == 200, hotfix.body);
  auto open_backfill = [&] {
    const json listed = w.daemon->get("/v1/obligations", tokens::viewer).json();  // named: g++ 12 range-for
    for (const auto& o : listed["obligations"])
      if (o["sha"] == fix && o["kind"] == "review_backfill") return o;
    return json(nullptr);
  };
  const json opened = open_backfill();
  if (opened.is_null()) MESSAGE(w.daemon->get("/v1/obligations?state=all", tokens::viewer).body);
  REQUIRE(!opened.is_null());

  w.github.call([&] {
    w.github.fake().add_review(number, fakes::approval_by(alice));  // her own: not enough
    return 0;
  });
  w.github.call([&] {
    w.github.fake().add_review(number, fakes::approval_by(bob));
    return 0;
  });
  REQUIRE(eventually([&] { return open_backfill().is_null(); }, 30s));
  auto all = w.daemon->get("/v1/obligations?state=all", tokens::viewer).json();
  bool closed_with_link = false;
  for (const auto& o : all["obligations"])
    if (o["sha"] == fix && o["kind"] == "review_backfill")
      closed_with_link = o["closed_by"] == "github" && has(o["link"].get<std::string>(), "#pullrequestreview-");
  CHECK(closed_with_link);
}

TEST_CASE("a GitHub webhook sent to a standby reaches the leader with its signature") {
  GatesWorld w;
  fs::create_directories(w.dir / "standby");
  Daemon standby(w.dir / "standby", w.toml, w.environment);
  standby.start();
  REQUIRE(standby.get("/v1/status", tokens::viewer).json()["leadership"]["role"] == "standby");
  const std::string url = fmt::format("http://127.0.0.1:{}/webhooks/github", standby.port());
  auto signed_delivery = w.github.await(w.github.fake().deliver(url, "ping", json{{"zen", "hi"}}, "s-1"));
  REQUIRE(signed_delivery.has_value());
  CHECK(*signed_delivery == 200);  // forwarded with X-Hub-Signature-256 and verified by the leader
  auto forged = w.github.await(
      w.github.fake().deliver(url, "ping", json{{"zen", "hi"}}, "s-2", std::string("sha256=") + std::string(64, 'f')));
  REQUIRE(forged.has_value());
  CHECK(*forged == 401);
}
