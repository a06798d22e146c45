// End to end: promoterd posts promotion notifications to a Slack-compatible webhook (a local receiver),
// and a webhook that keeps failing never holds up a promotion.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fstream>
#include <regex>

#include "tests/fakes/http_receiver.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace promoter::testing;
using nlohmann::json;

namespace {

using tokens::bob;
using tokens::ci;
using tokens::viewer;

const std::string sha1 = "1111111111111111111111111111111111111111";
const std::string hook_path = "/services/T000/B000/s3cr3t-webhook-path";

ConfigBuilder config(const std::filesystem::path& dir) {
  return std::move(ConfigBuilder("1s").service("api").simulated(dir).shared_tokens().table(
      "notifications", {{"slack_webhook_url_env", "T_HOOK"}, {"max_attempts", 3}, {"backoff", "50ms"}}));
}

struct Env {
  Env(const std::string& name, const std::string& hook_url)
      : dir(temp_dir("notify_" + name)), daemon(dir, config(dir).toml(), env(name, hook_url)) {
    daemon.start();
  }
  static std::map<std::string, std::string> env(const std::string& name, const std::string& hook_url) {
    auto e = auth_tokens_env();
    e["PROMOTER_DATABASE_URL"] = fresh_database("promoter_notify_" + name);
    e["T_HOOK"] = hook_url;
    return e;
  }
  void promote() const {
    for (const char* status : {"BUILDING", "SUCCESS"}) {
      auto r = daemon.post(
          "/v1/staging-deployments",
          {{"service", "api"}, {"sha", sha1}, {"deployment_id", "dep-api"}, {"status", status}, {"author", "alice-gh"}},
          ci);
      REQUIRE_MESSAGE(r.status == 200, r.body);
    }
    REQUIRE(daemon.post("/v1/releases/" + sha1 + "/smoke-results", {{"suite", "e2e"}, {"passed", true}}, ci).status ==
            200);
    REQUIRE(daemon.post("/v1/releases/" + sha1 + "/approve", json::object(), bob).status == 200);
  }
  bool promoted() const { return daemon.get("/v1/releases/" + sha1, viewer).json()["state"] == "promoted"; }

  std::filesystem::path dir;
  Daemon daemon;
};

}  // namespace

TEST_CASE("a promotion's start and success reach the chat webhook, once each") {
  OnThread<fakes::HttpReceiver> hook;
  Env env("delivered", hook.call([&] { return hook.fake().url(hook_path); }));
  env.promote();
  REQUIRE(eventually([&] { return env.promoted(); }));
  auto texts = [&] {
    std::vector<std::string> out;
    for (const auto& r : hook.call([&] { return hook.fake().requests(); }))
      if (r.target == hook_path) out.push_back(json::parse(r.body).at("text"));
    return out;
  };
  const auto has = [&](const std::string& kind) {
    int n = 0;
    for (const auto& t : texts()) n += t.starts_with("[production] " + kind + " " + sha1.substr(0, 12) + ": ");
    return n;
  };
  REQUIRE(eventually([&] { return has("promotion.succeeded") == 1; }));
  CHECK(has("promotion.started") == 1);
  CHECK(has("promotion.failed") == 0);
  // The log names the webhook's host, never its secret path.
  CHECK(env.daemon.log().find("\"msg\":\"notification delivered\"") != std::string::npos);
  CHECK(env.daemon.log().find("s3cr3t") == std::string::npos);
}

TEST_CASE("a chat webhook answering 500 forever never holds up a promotion") {
  OnThread<fakes::HttpReceiver> hook;
  hook.call([&] { hook.fake().respond(hook_path, 500, "internal error"); });
  Env env("failing", hook.call([&] { return hook.fake().url(hook_path); }));
  env.promote();
  REQUIRE(eventually([&] { return env.promoted(); }));
  // Each message is tried max_attempts (3) times, then dropped with an error naming the host only.
  REQUIRE(eventually([&] { return env.daemon.log().find("\"msg\":\"notification dropped\"") != std::string::npos; }));
  CHECK(hook.call([&] { return hook.fake().count(hook_path); }) >= 3);
  const std::string host =
      fmt::format("\"webhook_host\":\"127.0.0.1:{}\"", hook.call([&] { return hook.fake().port(); }));
  CHECK(env.daemon.log().find(host) != std::string::npos);
  CHECK(env.daemon.log().find("s3cr3t") == std::string::npos);
  CHECK(env.daemon.terminate() == 0);
}

TEST_CASE("[notifications] mistakes stop promoterd with exit 2 and never echo the webhook URL") {
  const auto dir = temp_dir("notify_config");
  // The URL itself in the file, where the variable naming it belongs.
  std::ofstream(dir / "in_file.toml") << ConfigBuilder("1s")
                                             .service("api")
                                             .simulated(dir)
                                             .shared_tokens()
                                             .table("notifications",
                                                    {{"slack_webhook_url", "https://hooks.example.com" + hook_path},
                                                     {"max_attempts", 3},
                                                     {"backoff", "50ms"}})
                                             .toml();
  std::string out;
  CHECK(run_program({PROMOTERD_BIN, "--config", (dir / "in_file.toml").string(), "--check"}, {}, out) == 2);
  CHECK_MESSAGE(
      std::regex_search(out,
                        std::regex(R"(in_file\.toml:[0-9]+:[0-9]+: notifications\.slack_webhook_url is not accepted)")),
      out);
  CHECK(out.find("s3cr3t") == std::string::npos);

  // The variable the config names is not set: refused at start, naming the variable.
  std::ofstream(dir / "unset.toml") << config(dir).toml();
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = "";
  CHECK(run_program({PROMOTERD_BIN, "--config", (dir / "unset.toml").string()}, env, out) == 2);
  CHECK_MESSAGE(out.find("notifications.slack_webhook_url_env names T_HOOK") != std::string::npos, out);
}
