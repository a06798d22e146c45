// The flag gate end to end: real promoterd, real PostgreSQL, the fake GitHub, and a scratch database standing in
// for production's feature_flags table. A PR that changes billing code must name a flag in its description, and
// production's table must have that key, before the release promotes: the code ships dark.
#include <utility>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <pqxx/pqxx>

#include "tests/fakes/fake_github.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace promoter::testing;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string github_token = "github-fake-token-flags-00001";
const std::string webhook_secret = "github-webhook-secret-flags-0123";

fakes::FakeGitHubOptions github_options() {
  fakes::FakeGitHubOptions o;
  o.token = github_token;
  o.webhook_secret = webhook_secret;
  return o;
}

std::string flag_database(const std::string& name) {
  const std::string url = fresh_database(name);
  pqxx::connection c(url);
  pqxx::work w(c);
  w.exec("CREATE TABLE feature_flags (key text PRIMARY KEY, enabled boolean NOT NULL, updated_at timestamptz)");
  w.commit();
  return url;
}

void add_flag(const std::string& url, const std::string& key) {
  pqxx::connection c(url);
  pqxx::work w(c);
  w.exec_params("INSERT INTO feature_flags (key, enabled, updated_at) VALUES ($1, false, now())", key);
  w.commit();
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a PR touching billing code must name a flag that production's table has before its release promotes") {
  OnThread<fakes::FakeGitHub> github{github_options()};
  const std::string staging_flags = flag_database("flag_gate_staging");
  const std::string production_flags = flag_database("flag_gate_production");
  const fs::path dir = temp_dir("flag_gate_e2e");
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_flag_gate_e2e");
  env["GITHUB_TOKEN_FOR_TEST"] = github_token;
  env["GITHUB_WEBHOOK_SECRET_FOR_TEST"] = webhook_secret;
  env["STAGING_FLAGS_URL"] = staging_flags;
  env["PRODUCTION_FLAGS_URL"] = production_flags;
  ConfigBuilder builder("0ms");
  builder
      .table("github", {{"endpoint", github.call([&] { return github.fake().url(); })},
                        {"owner", "acme"},
                        {"repo", "monorepo"},
                        {"token_env", "GITHUB_TOKEN_FOR_TEST"},
                        {"webhook_secret_env", "GITHUB_WEBHOOK_SECRET_FOR_TEST"},
                        {"members", TomlValue::literal(R"([{ id = 101, login = "alice-gh" }])")},
                        // Webhooks and the flag reader's interval wake the gates here.
                        {"reconcile_interval", "1h"}})
      .table("flags", {{"staging_url_env", "STAGING_FLAGS_URL"},
                       {"production_url_env", "PRODUCTION_FLAGS_URL"},
                       {"interval", "1s"},
                       {"require_flag", true},
                       {"guarded_paths", std::vector<std::string>{"apps/api/src/billing/**"}}})
      .simulated(dir)
      .shared_tokens()
      .services({"api"});
  Daemon daemon(dir, builder.toml(), env);
  daemon.start();
  const std::string hook = fmt::format("http://127.0.0.1:{}/webhooks/github", daemon.port());
  github.call([&] {
    github.fake().set_webhook(hook);
    return 0;
  });

  // PR #n changes billing code and names no flag.
  const std::string release = github.call([&] { return github.fake().push_commit({}, "Merge billing"); });
  fakes::FakePull pull;
  pull.author = fakes::FakeGitHubUser{202, "bob-gh"};
  pull.body = "New invoice rounding.";
  pull.head_sha = release;
  pull.commits = {release};
  pull.merge_commit_sha = release;
  pull.files = {fakes::added_file("apps/api/src/billing/rounding.ts", "@@ -0,0 +1 @@\n+export const r = 2;\n")};
  const int number = github.call([&] { return github.fake().add_pull(pull); });
  auto staged = daemon.post("/v1/staging-deployments",
                            json{{"service", "api"},
                                 {"sha", release},
                                 {"deployment_id", "dep-1"},
                                 {"status", "SUCCESS"},
                                 {"author", "bob-gh"}},
                            tokens::ci);
  REQUIRE_MESSAGE(staged.status == 200, staged.body);
  REQUIRE(
      daemon.post("/v1/releases/" + release + "/smoke-results", json{{"suite", "e2e"}, {"passed", true}}, tokens::ci)
          .status == 200);
  REQUIRE(daemon.post("/v1/releases/" + release + "/approve", json{{"reason", "ok"}}, tokens::alice).status == 200);
  auto gate = [&] {
    const json r = daemon.get("/v1/releases/" + release, tokens::viewer).json();
    return r["gates"]["flag"];
  };
  auto state = [&] { return daemon.get("/v1/releases/" + release, tokens::viewer).json()["state"].get<std::string>(); };
  // Any delivery wakes the GitHub reconciler; the flag reader runs on its own.
  auto poke = [&] {
    github.call([&] {
      github.fake().edit_pull_body(number, "New invoice rounding.");
      return 0;
    });
  };
  poke();
  const bool named_none =
      eventually([&] { return has(gate()["reason"].get<std::string>(), "apps/api/src/billing/rounding.ts"); });
  if (!named_none) MESSAGE(gate().dump() << "\n" << daemon.log());
  REQUIRE(named_none);
  CHECK(has(gate()["reason"].get<std::string>(), fmt::format("PR #{}", number)));
  CHECK(has(gate()["reason"].get<std::string>(), "names no flag"));
  CHECK(state() == "soaking");

  // The description names a flag production's table does not have yet.
  github.call([&] {
    github.fake().edit_pull_body(number, "New invoice rounding.\n\nFlag: `billing_rounding`\n");
    return 0;
  });
  REQUIRE(eventually([&] { return has(gate()["reason"].get<std::string>(), "billing_rounding"); }));
  CHECK(has(gate()["reason"].get<std::string>(), "lacks"));
  CHECK_FALSE(gate()["ok"].get<bool>());
  CHECK(state() == "soaking");

  // The flag exists in production (off: the code ships dark), and the release promotes.
  add_flag(production_flags, "billing_rounding");
  const bool promoted = eventually([&] { return state() == "promoted"; }, 30s);
  if (!promoted) MESSAGE(daemon.get("/v1/releases/" + release, tokens::viewer).body << "\n" << daemon.log());
  REQUIRE(promoted);
  CHECK(gate()["ok"].get<bool>());
  CHECK(has(daemon.get("/v1/audit?limit=100", tokens::viewer).body, "release.config"));
}
