// Hotfix obligations become overdue on a fake clock: promoterd's App runs in this process with a clock the
// test moves, so "24 hours later" and "two business days later" take no time.
#include <utility>

#include <atomic>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fstream>
#include <thread>

#include "daemon/app.hpp"
#include "daemon/config/config.hpp"
#include "tests/fakes/http_receiver.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace promoter::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Thread-safe: the App reads it on its threads while the test moves it.
class ManualClock final : public ports::Clock {
 public:
  explicit ManualClock(core::Timestamp start) : ms_(start.time_since_epoch().count()) {}
  core::Timestamp now() const override { return core::Timestamp{core::Duration{ms_.load()}}; }
  void advance(core::Duration d) { ms_ += d.count(); }

 private:
  std::atomic<std::int64_t> ms_;
};

// Friday 2026-11-27 10:00 UTC: the review backfill is due on Tuesday, the Monday being a holiday here.
core::Timestamp friday() {
  return core::Timestamp{std::chrono::sys_days{std::chrono::year{2026} / 11 / 27}} + std::chrono::hours{10};
}

struct InProcess {
  OnThread<fakes::HttpReceiver> chat;  // the Slack-compatible webhook
  ManualClock clock{friday()};
  std::unique_ptr<daemon::App> app;
  std::thread runner;

  InProcess() {
    const auto dir = temp_dir("obligations_in_process");
    const auto path = dir / "promoter.toml";
    std::ofstream(path) << ConfigBuilder("1h")
                               .shared_tokens()
                               .table("hotfix", {{"holidays", std::vector<std::string>{"2026-11-30"}}})
                               .table("notifications",
                                      {{"slack_webhook_url_env", "CHAT_WEBHOOK_URL"},
                                       {"kinds", std::vector<std::string>{"hotfix.obligation_overdue"}},
                                       {"backoff", "10ms"}})
                               .service("api")
                               .toml();
    auto config = daemon::load_config(path.string());
    REQUIRE_MESSAGE(config.has_value(), config.error());
    auto env = auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_obligations");
    env["CHAT_WEBHOOK_URL"] = chat.call([&] { return chat.fake().url("/hooks/chat"); });
    auto secrets = daemon::read_secrets(*config, [&](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
    REQUIRE_MESSAGE(secrets.has_value(), secrets.error());
    app = std::make_unique<daemon::App>(*config, std::move(*secrets), clock);
    REQUIRE(app->prepare(10s).has_value());
    runner = std::thread([this] { app->run(); });
    REQUIRE(eventually([&] { return http(port(), "GET", "/readyz").status == 200; }));
  }
  ~InProcess() {
    app->stop();
    runner.join();
  }
  unsigned short port() const { return app->port(); }
  HttpReply post(const std::string& target, const json& body, const std::string& token) {
    return http(port(), "POST", target, body.dump(), token);
  }
  json get(const std::string& target) { return http(port(), "GET", target, "", tokens::viewer).json(); }
};

}  // namespace

TEST_CASE("hotfix obligations become overdue on the fake clock: status, listing and warnings say so") {
  InProcess p;
  const std::string sha(40, 'a');
  REQUIRE(p.post("/v1/staging-deployments",
                 json{{"service", "api"},
                      {"sha", sha},
                      {"deployment_id", "d1"},
                      {"status", "SUCCESS"},
                      {"author", "alice-gh"}},
                 tokens::ci)
              .status == 200);
  REQUIRE(
      p.post("/v1/releases/" + sha + "/smoke-results", json{{"suite", "e2e"}, {"passed", true}}, tokens::ci).status ==
      200);
  auto hotfix =
      p.post("/v1/hotfixes", json{{"sha", sha}, {"reason", "outage"}, {"incident_url", "https://inc/1"}}, tokens::bob);
  REQUIRE_MESSAGE(hotfix.status == 200, hotfix.body);
  auto obligations = hotfix.json()["obligations"];
  REQUIRE(obligations.size() == 2);
  std::map<std::string, std::string> due;
  for (const auto& o : obligations) due[o["kind"]] = o["due_at"];
  CHECK(due["incident_report"] == "2026-11-28T10:00:00.000Z");
  CHECK(due["review_backfill"] == "2026-12-02T10:00:00.000Z");  // Friday + 2 business days, Monday a holiday

  auto status = p.get("/v1/status");
  CHECK(status["obligations"]["open"] == 2);
  CHECK(status["obligations"]["overdue"] == 0);

  auto metric = [&](const std::string& name) {
    const std::string text = http(p.port(), "GET", "/metrics").body;
    const auto at = text.find("\n" + name + " ");
    REQUIRE_MESSAGE(at != std::string::npos, name);
    return std::stod(text.substr(at + name.size() + 2));
  };
  CHECK(metric("promoter_hotfix_obligations_open") == 2);
  CHECK(metric("promoter_hotfix_obligations_overdue") == 0);

  CHECK(p.chat.call([&] { return p.chat.fake().count("/hooks/chat"); }) == 0);
  p.clock.advance(std::chrono::hours{24} + std::chrono::minutes{1});
  CHECK(metric("promoter_hotfix_obligations_overdue") == 1);
  // The chat hears of it once, with what to do.
  REQUIRE(eventually([&] { return p.chat.call([&] { return p.chat.fake().count("/hooks/chat"); }) == 1; }));
  const auto message = json::parse(p.chat.call([&] { return p.chat.fake().requests(); }).at(0).body);
  CHECK(message["text"].get<std::string>().find("hotfix.obligation_overdue") != std::string::npos);
  CHECK(message["text"].get<std::string>().find("incident_report") != std::string::npos);
  CHECK(message["text"].get<std::string>().find("close-obligation") != std::string::npos);
  status = p.get("/v1/status");
  CHECK(status["obligations"]["overdue"] == 1);
  REQUIRE(status["obligations"]["overdue_items"].size() == 1);
  CHECK(status["obligations"]["overdue_items"][0]["kind"] == "incident_report");
  bool warned = false;
  for (const auto& w : status["warnings"])
    warned = warned || w.get<std::string>().find("incident_report") != std::string::npos;
  CHECK(warned);

  // Tuesday evening: the review is not yet due (Wednesday 10:00); Wednesday 10:01 it is.
  p.clock.advance(std::chrono::hours{24 * 4} - std::chrono::hours{10});
  CHECK(p.get("/v1/status")["obligations"]["overdue"] == 1);
  p.clock.advance(std::chrono::hours{10} + std::chrono::minutes{1});
  CHECK(p.get("/v1/status")["obligations"]["overdue"] == 2);
  REQUIRE(eventually([&] { return p.chat.call([&] { return p.chat.fake().count("/hooks/chat"); }) == 2; }));
  const json listed = p.get("/v1/obligations");  // named: a range-for over a temporary's member dangles
  for (const auto& o : listed["obligations"]) CHECK(o["state"] == "overdue");

  // Closing one late is allowed and audited as overdue.
  const std::string id = p.get("/v1/obligations")["obligations"][0]["id"];
  auto closed = p.post("/v1/obligations/" + id + "/close", json{{"link", "https://reports/9"}}, tokens::alice);
  REQUIRE_MESSAGE(closed.status == 200, closed.body);
  CHECK(closed.json()["state"] == "closed");
  CHECK(p.get("/v1/status")["obligations"]["overdue"] == 1);
  CHECK(metric("promoter_hotfix_obligations_open") == 1);
  CHECK(metric("promoter_hotfix_obligations_overdue") == 1);
  CHECK(http(p.port(), "GET", "/v1/audit", "", tokens::viewer).body.find("closed overdue") != std::string::npos);
  // Bad input is refused without touching anything.
  CHECK(p.post("/v1/obligations/" + id + "/close", json{{"link", "ftp://x"}}, tokens::alice).status == 400);
  CHECK(p.post("/v1/obligations/abc/close", json{{"link", "https://x"}}, tokens::alice).status == 400);
  CHECK(p.post("/v1/obligations/999/close", json{{"link", "https://x"}}, tokens::alice).status == 404);
  CHECK(p.post("/v1/obligations/" + id + "/close", json{{"link", "https://x"}}, tokens::ci).status == 403);
}
