// FlyClient against FakeFly on 127.0.0.1 (port chosen at run time), over real sockets. The fake
// and the client share one io_context, driven by this thread.

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/fly_client.hpp"
#include "adapters/http_client.hpp"
#include "tests/fakes/fake_fly.hpp"
#include "tests/fakes/http_receiver.hpp"
#include "tests/support/run_on.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;
using promoter::adapters::AdapterError;
using promoter::adapters::FlyClient;
using promoter::adapters::FlyClientOptions;
using promoter::adapters::FlyMachine;
using promoter::adapters::HttpClient;
using promoter::adapters::HttpClientOptions;
using promoter::adapters::HttpMethod;
using promoter::adapters::HttpRequestSpec;
using promoter::fakes::FakeFly;
using promoter::fakes::FakeFlyOptions;
using promoter::fakes::FakeMachineSpec;
using promoter::fakes::FlyOperation;
using promoter::fakes::PausePoint;

using promoter::testing::run_on;

namespace {

const std::string kApp = "rotor-api";
const std::string kToken = "fm2_fake-token-5ecr3t-value";
const std::string kImageA = "registry.fly.io/rotor-api:aaaaaaa";
const std::string kImageB = "registry.fly.io/rotor-api:bbbbbbb";

// Runs the io_context until `condition` holds or `limit` passes; false on timeout.
bool run_until(asio::io_context& ioc, const std::function<bool()>& condition, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  ioc.restart();
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    ioc.run_one_for(10ms);
  }
  return true;
}

// A fake, an HTTP client that records backoffs instead of sleeping, and a FlyClient.
struct Fixture {
  explicit Fixture(FakeFlyOptions fake_options = {}, std::string authorization = "Bearer " + kToken)
      : fake(ioc.get_executor(), with_token(std::move(fake_options))) {
    fake.start();
    HttpClientOptions options;
    options.connect_timeout = 2s;
    options.request_timeout = 5s;
    options.retry.max_attempts = 3;
    options.retry.base_backoff = 50ms;
    options.retry.max_backoff = 500ms;
    options.retry.retry_after_cap = 30s;
    options.jitter = [] { return 0.0; };
    options.sleeper = [slept = slept](std::chrono::milliseconds d) -> asio::awaitable<void> {
      slept->push_back(d);
      co_return;
    };
    http.emplace(ioc.get_executor(), options);
    FlyClientOptions fly;
    fly.base_url = fake.url();
    fly.authorization = std::move(authorization);
    client.emplace(*http, fly);
  }

  static FakeFlyOptions with_token(FakeFlyOptions options) {
    options.token = kToken;
    return options;
  }

  std::string add(std::string image = kImageA, std::vector<std::string> checks = {"http"}, std::string group = "app") {
    FakeMachineSpec spec;
    spec.app = kApp;
    spec.image = std::move(image);
    spec.checks = std::move(checks);
    spec.process_group = std::move(group);
    return fake.add_machine(spec);
  }

  FlyMachine get(const std::string& id) {
    auto machine = run_on(ioc, client->get_machine(kApp, id));
    REQUIRE_MESSAGE(machine.has_value(), machine.error().message);
    return std::move(*machine);
  }

  // The machine's config with another image, as a caller builds an update.
  json config_with(const std::string& id, const std::string& image) {
    json config = get(id).config;
    config["image"] = image;
    return config;
  }

  asio::io_context ioc;
  FakeFly fake;
  std::shared_ptr<std::vector<std::chrono::milliseconds>> slept =
      std::make_shared<std::vector<std::chrono::milliseconds>>();
  std::optional<HttpClient> http;
  std::optional<FlyClient> client;
};

void check_no_secret(const AdapterError& error) {
  CHECK_MESSAGE(error.message.find(kToken) == std::string::npos, error.message);
  CHECK_MESSAGE(error.message.find("5ecr3t") == std::string::npos, error.message);
}

}  // namespace

TEST_CASE("list_machines and get_machine read machines with config, metadata, checks and events") {
  Fixture f;
  const auto web = f.add(kImageA, {"http", "tcp"});
  const auto worker = f.add(kImageA, {}, "worker");
  FakeMachineSpec other;
  other.app = "other-app";
  f.fake.add_machine(other);

  auto list = run_on(f.ioc, f.client->list_machines(kApp));
  REQUIRE_MESSAGE(list.has_value(), list.error().message);
  REQUIRE(list->size() == 2);
  const FlyMachine& m = (*list)[0];
  CHECK(m.id == web);
  CHECK(m.state == "started");
  CHECK(m.region == "iad");
  CHECK(m.image == kImageA);
  CHECK(m.config["image"] == kImageA);
  CHECK(m.process_group() == "app");
  CHECK((*list)[1].process_group() == "worker");
  CHECK(m.instance_id.size() == 26);
  REQUIRE(m.checks.size() == 2);
  CHECK(m.checks_passing());
  REQUIRE(m.events.size() == 2);
  CHECK(m.events[0].type == "start");  // newest first
  CHECK(m.events[1].type == "launch");
  CHECK(m.events[0].timestamp >= m.events[1].timestamp);
  CHECK_FALSE(m.exit_code().has_value());

  const auto one = f.get(worker);
  CHECK(one.id == worker);
  CHECK(one.checks.empty());
  CHECK(one.checks_passing());

  auto missing = run_on(f.ioc, f.client->get_machine(kApp, "0000deadbeef00"));
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == AdapterError::Kind::http_status);
  CHECK(missing.error().http_status == 404);
  CHECK(missing.error().message.find("fly: get machine 0000deadbeef00 of app rotor-api: 404") == 0);

  auto no_app = run_on(f.ioc, f.client->list_machines("no-such-app"));
  REQUIRE_FALSE(no_app.has_value());
  CHECK(no_app.error().http_status == 404);
  CHECK(f.fake.request_count(FlyOperation::list) == 2);
  CHECK(f.fake.request_count(FlyOperation::get) >= 2);
}

TEST_CASE("the fake filters listings by metadata as Fly's ?metadata.KEY=VALUE does") {
  Fixture f;
  f.add(kImageA, {}, "app");
  const auto worker = f.add(kImageA, {}, "worker");
  HttpRequestSpec spec;
  spec.method = HttpMethod::get;
  spec.url = f.fake.url() + "/apps/" + kApp + "/machines?metadata.fly_process_group=worker";
  spec.headers = {{"Authorization", "Bearer " + kToken}};
  auto answer = run_on(f.ioc, f.http->request(spec));
  REQUIRE(answer.has_value());
  CHECK(answer->status == 200);
  const json body = json::parse(answer->body);
  REQUIRE(body.size() == 1);
  CHECK(body[0]["id"] == worker);
}

TEST_CASE("update_machine replaces the config; the new version starts and its checks pass") {
  Fixture f;
  const auto id = f.add();
  const auto before = f.get(id);

  auto updated =
      run_on(f.ioc, f.client->update_machine(kApp, id, f.config_with(id, kImageB), std::nullopt, before.instance_id));
  REQUIRE_MESSAGE(updated.has_value(), updated.error().message);
  CHECK(updated->image == kImageB);
  CHECK(updated->instance_id != before.instance_id);
  CHECK(updated->state == "replacing");
  CHECK(updated->process_group() == "app");  // the config we sent kept its metadata

  const auto updates = f.fake.updates();
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].machine_id == id);
  CHECK(updates[0].old_image == kImageA);
  CHECK(updates[0].new_image == kImageB);
  CHECK(updates[0].new_instance_id == updated->instance_id);

  auto waited = run_on(f.ioc, f.client->wait_for_state(kApp, id, "started", updated->instance_id, 10s));
  REQUIRE_MESSAGE(waited.has_value(), waited.error().message);
  const auto started = f.get(id);
  CHECK(started.state == "started");
  CHECK(started.instance_id == updated->instance_id);
  CHECK(started.events[0].type == "start");

  REQUIRE(run_until(f.ioc, [&] { return (*f.fake.machine(kApp, id))["checks"][0]["status"] == "passing"; }));
  CHECK(f.get(id).checks_passing());

  // The old version was replaced: a wait on it can never succeed.
  auto stale = run_on(f.ioc, f.client->wait_for_state(kApp, id, "started", before.instance_id, 5s));
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.error().http_status == 400);
  CHECK(stale.error().message.find("replaced") != std::string::npos);

  // The request carried the timeout capped at 60 s.
  auto capped = run_on(f.ioc, f.client->wait_for_state(kApp, id, "started", std::nullopt, 600s));
  REQUIRE(capped.has_value());
  CHECK(f.fake.requests().back().path.find("timeout=60") != std::string::npos);
}

TEST_CASE("current_version guards an update against a concurrent change") {
  Fixture f;
  const auto id = f.add();
  const auto before = f.get(id);
  auto first =
      run_on(f.ioc, f.client->update_machine(kApp, id, f.config_with(id, kImageB), std::nullopt, before.instance_id));
  REQUIRE(first.has_value());
  auto second =
      run_on(f.ioc, f.client->update_machine(kApp, id, f.config_with(id, kImageA), std::nullopt, before.instance_id));
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().http_status == 409);
  CHECK(second.error().message.find("current_version") != std::string::npos);
  CHECK(f.fake.updates().size() == 1);
}

TEST_CASE("GETs and waits are retried on 429 (honouring Retry-After) and on 5xx") {
  Fixture f;
  const auto id = f.add();

  f.fake.rate_limit_next(1, 7);
  auto got = run_on(f.ioc, f.client->get_machine(kApp, id));
  REQUIRE_MESSAGE(got.has_value(), got.error().message);
  CHECK(f.fake.request_count(FlyOperation::get) == 2);
  REQUIRE(f.slept->size() == 1);
  CHECK(f.slept->at(0) == 7s);

  f.fake.fail_next(2, 503, FlyOperation::wait);
  auto waited = run_on(f.ioc, f.client->wait_for_state(kApp, id, "started", std::nullopt, 5s));
  REQUIRE_MESSAGE(waited.has_value(), waited.error().message);
  CHECK(f.fake.request_count(FlyOperation::wait) == 3);
  CHECK(f.slept->size() == 3);

  f.fake.fail_next(3, 500, FlyOperation::list);
  auto list = run_on(f.ioc, f.client->list_machines(kApp));
  REQUIRE_FALSE(list.has_value());
  CHECK(list.error().http_status == 500);
  CHECK(list.error().message.find("after 3 attempts") != std::string::npos);
}

TEST_CASE("an update answered 500 is not retried: the status reaches the caller, who reconciles") {
  Fixture f;
  const auto id = f.add();
  f.fake.fail_next(1, 500, FlyOperation::update);
  auto updated =
      run_on(f.ioc, f.client->update_machine(kApp, id, f.config_with(id, kImageB), std::nullopt, std::nullopt));
  REQUIRE_FALSE(updated.has_value());
  CHECK(updated.error().kind == AdapterError::Kind::http_status);
  CHECK(updated.error().http_status == 500);
  CHECK(updated.error().message == "fly: update machine " + id + " of app rotor-api: 500 injected HTTP 500");
  CHECK(f.fake.request_count(FlyOperation::update) == 1);
  CHECK(f.fake.updates().empty());
  CHECK(f.slept->empty());
  check_no_secret(updated.error());
}

TEST_CASE("leases: the holder's nonce unlocks updates; someone else's lease is a 409 naming the holder") {
  Fixture f;
  const auto id = f.add();

  auto lease = run_on(f.ioc, f.client->acquire_lease(kApp, id, 60s, "promoter: release abc"));
  REQUIRE_MESSAGE(lease.has_value(), lease.error().message);
  CHECK_FALSE(lease->nonce.empty());
  CHECK(lease->expires_at > 0);

  auto without =
      run_on(f.ioc, f.client->update_machine(kApp, id, f.config_with(id, kImageB), std::nullopt, std::nullopt));
  REQUIRE_FALSE(without.has_value());
  CHECK(without.error().http_status == 409);
  CHECK(without.error().message.find("fly: update machine " + id +
                                     " of app rotor-api: 409 lease currently held by "
                                     "deployer@fake.fly.io") == 0);

  auto again = run_on(f.ioc, f.client->acquire_lease(kApp, id, 60s, "a second promoter"));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().http_status == 409);

  auto with = run_on(f.ioc, f.client->update_machine(kApp, id, f.config_with(id, kImageB), lease->nonce, std::nullopt));
  REQUIRE_MESSAGE(with.has_value(), with.error().message);
  CHECK(f.fake.updates().size() == 1);

  auto released = run_on(f.ioc, f.client->release_lease(kApp, id, lease->nonce));
  REQUIRE_MESSAGE(released.has_value(), released.error().message);
  auto released_twice = run_on(f.ioc, f.client->release_lease(kApp, id, lease->nonce));
  CHECK(released_twice.has_value());

  f.fake.hold_lease(kApp, id, "alice@example.com", 300s);
  auto blocked = run_on(f.ioc, f.client->acquire_lease(kApp, id, 60s, "promoter"));
  REQUIRE_FALSE(blocked.has_value());
  CHECK(blocked.error().kind == AdapterError::Kind::http_status);
  CHECK(blocked.error().http_status == 409);
  CHECK(blocked.error().message.find("acquire lease on machine " + id) != std::string::npos);
  CHECK(blocked.error().message.find("alice@example.com") != std::string::npos);
  CHECK(f.fake.request_count(FlyOperation::acquire_lease) == 3);  // a 409 is never retried

  auto destroy = run_on(f.ioc, f.client->destroy_machine(kApp, id, true));
  REQUIRE_FALSE(destroy.has_value());
  CHECK(destroy.error().http_status == 409);

  f.fake.release_foreign_lease(kApp, id);
  auto mine = run_on(f.ioc, f.client->acquire_lease(kApp, id, 60s, "promoter"));
  CHECK(mine.has_value());
}

TEST_CASE("a lease ends when its ttl passes on the fake's clock") {
  auto clock =
      std::make_shared<std::chrono::system_clock::time_point>(std::chrono::sys_days{std::chrono::June / 1 / 2026});
  FakeFlyOptions options;
  options.now = [clock] { return *clock; };
  Fixture f(options);
  const auto id = f.add();
  f.fake.hold_lease(kApp, id, "alice@example.com", 30s);
  auto blocked = run_on(f.ioc, f.client->acquire_lease(kApp, id, 60s, "promoter"));
  REQUIRE_FALSE(blocked.has_value());
  CHECK(blocked.error().message.find("2026-06-01T00:00:30") != std::string::npos);
  *clock += 31s;
  auto lease = run_on(f.ioc, f.client->acquire_lease(kApp, id, 60s, "promoter"));
  REQUIRE_MESSAGE(lease.has_value(), lease.error().message);
  CHECK(lease->expires_at == std::chrono::duration_cast<std::chrono::seconds>(clock->time_since_epoch()).count() + 60);
}

TEST_CASE("wait_for_state: a 408 is a timeout, also when the machine never starts") {
  FakeFlyOptions options;
  options.start_delay = 20ms;
  Fixture f(options);
  const auto id = f.add();

  f.fake.wait_timeout_next(1);
  auto injected = run_on(f.ioc, f.client->wait_for_state(kApp, id, "started", std::nullopt, 30s));
  REQUIRE_FALSE(injected.has_value());
  CHECK(injected.error().kind == AdapterError::Kind::timeout);
  CHECK(injected.error().http_status == 408);
  CHECK(injected.error().message.find("deadline_exceeded") != std::string::npos);
  CHECK(f.fake.request_count(FlyOperation::wait) == 1);  // 408 is not retried

  f.fake.fail_to_start(kApp, id);
  auto updated =
      run_on(f.ioc, f.client->update_machine(kApp, id, f.config_with(id, kImageB), std::nullopt, std::nullopt));
  REQUIRE(updated.has_value());
  auto never = run_on(f.ioc, f.client->wait_for_state(kApp, id, "started", updated->instance_id, 1s));
  REQUIRE_FALSE(never.has_value());
  CHECK(never.error().kind == AdapterError::Kind::timeout);
  const auto failed = f.get(id);
  CHECK(failed.state == "failed");
  CHECK_FALSE(failed.checks_passing());
}

TEST_CASE("checks_fail keeps a machine's checks critical after an update") {
  Fixture f;
  const auto id = f.add();
  f.fake.checks_fail(kApp, id);
  auto updated =
      run_on(f.ioc, f.client->update_machine(kApp, id, f.config_with(id, kImageB), std::nullopt, std::nullopt));
  REQUIRE(updated.has_value());
  auto waited = run_on(f.ioc, f.client->wait_for_state(kApp, id, "started", updated->instance_id, 10s));
  REQUIRE(waited.has_value());
  // Well past checks_delay (50 ms), the checks are still critical.
  CHECK_FALSE(run_until(
      f.ioc, [&] { return (*f.fake.machine(kApp, id))["checks"][0]["status"] == "passing"; }, 300ms));
  CHECK_FALSE(f.get(id).checks_passing());
  f.fake.checks_recover(kApp, id);
  CHECK(f.get(id).checks_passing());
}

TEST_CASE("a one-off machine runs the release command; its exit code comes from the exit event") {
  FakeFlyOptions options;
  options.oneoff_run_time = 30ms;
  options.oneoff_exit_code = [](const std::string& image, const std::vector<std::string>& cmd,
                                const std::map<std::string, std::string>& env) {
    if (image != kImageB) return 99;
    if (env.contains("MIGRATE_FAIL")) return 3;
    return cmd.size() == 3 && cmd[2] == "db:migrate" ? 0 : 42;
  };
  Fixture f(options);
  f.add();

  const auto one_off = [&](json env) {
    json body = {{"region", "iad"},
                 {"config",
                  {{"image", kImageB},
                   {"init", {{"cmd", json::array({"pnpm", "run", "db:migrate"})}}},
                   {"restart", {{"policy", "no"}}},
                   {"auto_destroy", true},
                   {"env", env},
                   {"metadata", {{"fly_process_group", "fly_app_release_command"}, {"promoter_release", "r-1"}}}}}};
    auto created = run_on(f.ioc, f.client->create_machine(kApp, body));
    REQUIRE_MESSAGE(created.has_value(), created.error().message);
    CHECK(created->state == "created");
    auto waited = run_on(f.ioc, f.client->wait_for_state(kApp, created->id, "destroyed", created->instance_id, 10s));
    REQUIRE_MESSAGE(waited.has_value(), waited.error().message);
    return f.get(created->id);
  };

  const auto failed = one_off(json{{"DATABASE_URL", "postgres://x"}, {"MIGRATE_FAIL", "1"}});
  CHECK(failed.state == "destroyed");
  CHECK(failed.exit_code() == 3);
  CHECK(failed.process_group() == "fly_app_release_command");

  const auto passed = one_off(json{{"DATABASE_URL", "postgres://x"}});
  CHECK(passed.exit_code() == 0);  // Fly leaves exit_code 0 out of exit_event: still read as 0
  const auto raw = *f.fake.machine(kApp, passed.id);
  CHECK_FALSE(raw["events"][1]["request"]["exit_event"].contains("exit_code"));

  const auto records = f.fake.one_offs();
  REQUIRE(records.size() == 2);
  CHECK(records[0].exit_code == 3);
  CHECK(records[0].destroyed);
  CHECK(records[0].cmd == std::vector<std::string>{"pnpm", "run", "db:migrate"});
  CHECK(records[0].env.at("MIGRATE_FAIL") == "1");
  CHECK(records[0].metadata.at("promoter_release") == "r-1");
  CHECK(records[1].exit_code == 0);
  CHECK(records[1].stopped_at.has_value());

  // Destroyed machines stay readable but leave the listing.
  auto list = run_on(f.ioc, f.client->list_machines(kApp));
  REQUIRE(list.has_value());
  CHECK(list->size() == 1);

  // A wait for `stopped` on a machine already destroyed is a 404, as flyctl expects.
  auto late = run_on(f.ioc, f.client->wait_for_state(kApp, passed.id, "stopped", passed.instance_id, 5s));
  REQUIRE_FALSE(late.has_value());
  CHECK(late.error().http_status == 404);
}

TEST_CASE("destroy_machine: force destroys a started machine; without force it is refused; 404 counts as done") {
  Fixture f;
  const auto id = f.add();
  auto refused = run_on(f.ioc, f.client->destroy_machine(kApp, id, false));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().http_status == 412);
  auto destroyed = run_on(f.ioc, f.client->destroy_machine(kApp, id, true));
  REQUIRE_MESSAGE(destroyed.has_value(), destroyed.error().message);
  CHECK(f.get(id).state == "destroyed");
  auto again = run_on(f.ioc, f.client->destroy_machine(kApp, id, true));
  CHECK(again.has_value());
  auto unknown = run_on(f.ioc, f.client->destroy_machine(kApp, "00000000000000", true));
  CHECK(unknown.has_value());
  CHECK(f.fake.requests().back().status == 404);
}

TEST_CASE("the Authorization value never appears in an error message") {
  SUBCASE("a wrong bearer token") {
    Fixture f({}, "Bearer wrong-5ecr3t-" + kToken);
    auto list = run_on(f.ioc, f.client->list_machines(kApp));
    REQUIRE_FALSE(list.has_value());
    CHECK(list.error().http_status == 401);
    CHECK(list.error().message.find("401 unauthorized") != std::string::npos);
    check_no_secret(list.error());
  }
  SUBCASE("a bare token is sent as Bearer") {
    Fixture f({}, kToken);
    f.add();
    auto list = run_on(f.ioc, f.client->list_machines(kApp));
    CHECK_MESSAGE(list.has_value(), list.error().message);
  }
  SUBCASE("a FlyV1 token is passed through") {
    Fixture f({}, "FlyV1 " + kToken);
    f.add();
    auto list = run_on(f.ioc, f.client->list_machines(kApp));
    CHECK_MESSAGE(list.has_value(), list.error().message);
  }
  SUBCASE("a server that is gone") {
    Fixture f;
    const auto id = f.add();
    f.fake.stop();
    auto got = run_on(f.ioc, f.client->get_machine(kApp, id));
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().kind == AdapterError::Kind::transport);
    CHECK(got.error().message.find("fly: get machine " + id) == 0);
    check_no_secret(got.error());
  }
}

TEST_CASE("a paused update is applied and held; dropped, its client never learns the outcome") {
  Fixture f;
  const auto id = f.add();
  const auto config = f.config_with(id, kImageB);
  const auto before = f.get(id).instance_id;
  f.fake.pause(PausePoint{FlyOperation::update, "POST", "/machines/" + id + "$", true});

  std::optional<std::expected<FlyMachine, AdapterError>> outcome;
  f.ioc.restart();
  asio::co_spawn(
      f.ioc, f.client->update_machine(kApp, id, config, std::nullopt, std::nullopt),
      [&](std::exception_ptr, std::expected<FlyMachine, AdapterError> result) { outcome.emplace(std::move(result)); });
  REQUIRE(run_until(f.ioc, [&] { return f.fake.paused_count() == 1; }));
  CHECK_FALSE(outcome.has_value());
  REQUIRE(f.fake.updates().size() == 1);  // applied before the hold
  CHECK((*f.fake.machine(kApp, id))["instance_id"] != before);

  f.fake.resume_all(true);
  REQUIRE(run_until(f.ioc, [&] { return outcome.has_value(); }));
  REQUIRE_FALSE(outcome->has_value());
  CHECK(outcome->error().kind != AdapterError::Kind::http_status);
  CHECK(f.fake.paused_count() == 0);
  CHECK(f.fake.request_count(FlyOperation::update) == 1);  // not retried
  CHECK(f.fake.requests().back().status == 0);

  // The pause point is gone: the next request is answered.
  auto got = run_on(f.ioc, f.client->get_machine(kApp, id));
  REQUIRE(got.has_value());
  CHECK(got->image == kImageB);
}

TEST_CASE("a request held before it is applied changes nothing until resumed") {
  Fixture f;
  const auto id = f.add();
  f.fake.pause(PausePoint{FlyOperation::acquire_lease, "", "", false});
  std::optional<std::expected<promoter::adapters::FlyLease, AdapterError>> outcome;
  f.ioc.restart();
  asio::co_spawn(f.ioc, f.client->acquire_lease(kApp, id, 30s, "held"),
                 [&](std::exception_ptr, std::expected<promoter::adapters::FlyLease, AdapterError> result) {
                   outcome.emplace(std::move(result));
                 });
  REQUIRE(run_until(f.ioc, [&] { return f.fake.paused_count() == 1; }));
  f.fake.resume_all();
  REQUIRE(run_until(f.ioc, [&] { return outcome.has_value(); }));
  REQUIRE_MESSAGE(outcome->has_value(), outcome->error().message);
  CHECK(f.fake.requests().back().status == 201);
}

TEST_CASE("parse_machine rejects junk and tolerates missing optional fields") {
  CHECK_FALSE(FlyClient::parse_machine(json::array()).has_value());
  CHECK_FALSE(FlyClient::parse_machine(json("148e")).has_value());
  CHECK_FALSE(FlyClient::parse_machine(json::object()).has_value());
  CHECK_FALSE(FlyClient::parse_machine(json{{"id", 42}}).has_value());
  CHECK_FALSE(FlyClient::parse_machine(json{{"id", ""}}).has_value());

  auto bare = FlyClient::parse_machine(json{{"id", "148e"}});
  REQUIRE(bare.has_value());
  CHECK(bare->state.empty());
  CHECK(bare->image.empty());
  CHECK(bare->checks_passing());
  CHECK(bare->process_group().empty());
  CHECK_FALSE(bare->exit_code().has_value());

  const json odd = {
      {"id", "148e"},
      {"state", "stopped"},
      {"config", {{"image", "img"}, {"metadata", {{"fly_process_group", "app"}, {"n", 1}}}}},
      {"checks", json::array({json{{"name", "http"}, {"status", "warning"}}, json("junk")})},
      {"events", json::array({json{{"type", "exit"},
                                   {"status", "stopped"},
                                   {"timestamp", 1700000000123},
                                   {"request", {{"MonitorEvent", {{"exit_event", {{"exit_code", 7}}}}}}}},
                              json{{"type", "exit"}, {"request", {{"exit_event", {{"exit_code", 1}}}}}}, json(3)})}};
  auto parsed = FlyClient::parse_machine(odd);
  REQUIRE(parsed.has_value());
  CHECK(parsed->metadata.size() == 1);  // non-string metadata values are skipped
  CHECK(parsed->process_group() == "app");
  REQUIRE(parsed->checks.size() == 1);
  CHECK_FALSE(parsed->checks_passing());
  REQUIRE(parsed->events.size() == 2);
  CHECK(parsed->events[0].timestamp == 1700000000123);
  CHECK(parsed->exit_code() == 7);  // the newest exit event
}

TEST_CASE("list_secrets answers names, digests and times, never a value") {
  FakeFlyOptions options;
  options.value_marker = "MARK-fly-4d21";
  Fixture f(options);
  f.add();
  f.fake.set_secret(kApp, "STRIPE_KEY", "sk_live_1");
  f.fake.set_secret(kApp, "DATABASE_URL", "postgres://u:p@h/db");
  REQUIRE(f.fake.secrets(kApp)[1].value == "sk_live_1-MARK-fly-4d21");

  auto secrets = run_on(f.ioc, f.client->list_secrets(kApp));
  REQUIRE_MESSAGE(secrets.has_value(), secrets.error().message);
  REQUIRE(secrets->size() == 2);
  CHECK((*secrets)[0].name == "DATABASE_URL");
  CHECK((*secrets)[1].name == "STRIPE_KEY");
  const auto stored = f.fake.secrets(kApp);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK((*secrets)[i].digest == stored[i].digest);
    CHECK((*secrets)[i].digest.size() == 16);
    CHECK((*secrets)[i].created_at == stored[i].created_at);
    CHECK((*secrets)[i].updated_at == stored[i].updated_at);
    const auto& s = (*secrets)[i];
    const std::string everything = s.name + s.digest + s.created_at.value_or("") + s.updated_at.value_or("");
    CHECK(everything.find("MARK-fly-4d21") == std::string::npos);
  }
  CHECK(f.fake.requests().back().operation == FlyOperation::list_secrets);
  CHECK(f.fake.requests().back().path == "/v1/apps/" + kApp + "/secrets");

  // A new value moves the digest and updated_at, keeps created_at.
  const auto before = (*secrets)[1];
  f.fake.set_secret(kApp, "STRIPE_KEY", "sk_live_2");
  auto after = run_on(f.ioc, f.client->list_secrets(kApp));
  REQUIRE(after.has_value());
  CHECK((*after)[1].digest != before.digest);
  CHECK((*after)[1].created_at == before.created_at);
  CHECK((*after)[1].updated_at >= before.updated_at);

  CHECK(f.fake.unset_secret(kApp, "STRIPE_KEY"));
  CHECK_FALSE(f.fake.unset_secret(kApp, "STRIPE_KEY"));
  auto unset = run_on(f.ioc, f.client->list_secrets(kApp));
  REQUIRE(unset.has_value());
  REQUIRE(unset->size() == 1);
  CHECK((*unset)[0].name == "DATABASE_URL");
}

TEST_CASE("list_secrets is retried like other GETs, and an unknown app is an error naming it") {
  Fixture f;
  f.fake.set_secret(kApp, "A", "1");
  f.fake.fail_next(2, 503, FlyOperation::list_secrets);
  auto secrets = run_on(f.ioc, f.client->list_secrets(kApp));
  REQUIRE_MESSAGE(secrets.has_value(), secrets.error().message);
  CHECK(secrets->size() == 1);
  CHECK(f.fake.request_count(FlyOperation::list_secrets) == 3);

  auto missing = run_on(f.ioc, f.client->list_secrets("no-such-app"));
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().http_status == 404);
  CHECK(missing.error().message.find("list secrets of app no-such-app") != std::string::npos);
}

TEST_CASE("parse_secrets takes both shapes and drops every other field, a value above all") {
  const json wrapped = {{"secrets",
                         {{{"name", "B"}, {"digest", "bbbb"}, {"created_at", "2026-11-01T00:00:00Z"}},
                          {{"name", "A"},
                           {"digest", "aaaa"},
                           {"value", "leaked-value-9"},
                           {"updated_at", "2026-11-02T00:00:00Z"},
                           {"extra", 1}}}}};
  auto parsed = FlyClient::parse_secrets(wrapped);
  REQUIRE(parsed.has_value());
  REQUIRE(parsed->size() == 2);
  CHECK((*parsed)[0].name == "A");
  CHECK((*parsed)[0].digest == "aaaa");
  CHECK_FALSE((*parsed)[0].created_at.has_value());
  CHECK((*parsed)[0].updated_at == "2026-11-02T00:00:00Z");
  CHECK((*parsed)[1].created_at == "2026-11-01T00:00:00Z");
  for (const auto& s : *parsed) {
    const std::string everything = s.name + s.digest + s.created_at.value_or("") + s.updated_at.value_or("");
    CHECK(everything.find("leaked-value-9") == std::string::npos);
  }

  auto bare = FlyClient::parse_secrets(json::array({{{"name", "X"}, {"digest", "xx"}}}));
  REQUIRE(bare.has_value());
  REQUIRE(bare->size() == 1);
  CHECK((*bare)[0].name == "X");

  CHECK_FALSE(FlyClient::parse_secrets(json{{"apps", json::array()}}).has_value());
  CHECK_FALSE(FlyClient::parse_secrets(json::array({{{"digest", "no name"}}})).has_value());
  CHECK_FALSE(FlyClient::parse_secrets(json("text")).has_value());
}

TEST_CASE("the fake's machines carry a marked env value, its secrets persist, and its admin routes set them") {
  FakeFlyOptions options;
  options.value_marker = "MARK-env";
  options.admin_routes = true;
  Fixture f(options);
  const auto id = f.add();
  CHECK(f.get(id).config["env"]["FAKE_CONFIG"] == "fake-config-value-MARK-env");
  CHECK(f.fake.request_count(FlyOperation::list_secrets) == 0);
  const auto admin = [&](HttpMethod method, const std::string& target, const std::string& body) {
    HttpRequestSpec spec;
    spec.method = method;
    spec.url = "http://127.0.0.1:" + std::to_string(f.fake.port()) + target;
    spec.body = body;
    spec.headers = {{"Content-Type", "application/json"}};
    auto answer = run_on(f.ioc, f.http->request(spec));
    REQUIRE_MESSAGE(answer.has_value(), answer.error().message);
    return answer->status;
  };
  const auto requests = f.fake.requests().size();
  CHECK(admin(HttpMethod::post, "/_fake/apps/" + kApp + "/secrets", R"({"name": "S1", "value": "v1"})") == 200);
  CHECK(admin(HttpMethod::post, "/_fake/apps/" + kApp + "/secrets", R"({"name": "S2", "value": "v2"})") == 200);
  CHECK(admin(HttpMethod::delete_, "/_fake/apps/" + kApp + "/secrets/S1", "") == 200);
  CHECK(admin(HttpMethod::delete_, "/_fake/apps/" + kApp + "/secrets/S1", "") == 404);
  CHECK(admin(HttpMethod::post, "/_fake/apps/" + kApp + "/secrets", R"({"name": "S3"})") == 400);
  CHECK(f.fake.requests().size() == requests);  // admin routes are not recorded
  REQUIRE(f.fake.secrets(kApp).size() == 1);
  CHECK(f.fake.secrets(kApp)[0].value == "v2-MARK-env");

  asio::io_context other_ioc;
  FakeFly other(other_ioc.get_executor(), options);
  REQUIRE(other.load_state_json(f.fake.state_json()).has_value());
  REQUIRE(other.secrets(kApp).size() == 1);
  CHECK(other.secrets(kApp)[0].value == "v2-MARK-env");
  CHECK(other.secrets(kApp)[0].digest == f.fake.secrets(kApp)[0].digest);
}

TEST_CASE("a failed answer that echoes a machine config is not echoed into the error: its env holds values") {
  asio::io_context ioc;
  promoter::fakes::HttpReceiver fly(ioc.get_executor());
  fly.start();
  const std::string echoed =
      R"({"config": {"image": "registry.fly.io/rotor-api:b", "env": {"STRIPE_KEY": "sk_live_VALUE-MARKER"}}})";
  fly.respond("/apps/" + kApp + "/machines/m1", 422, echoed);
  fly.respond("/apps/" + kApp + "/machines/m2", 502, "<html>bad gateway</html>");
  HttpClientOptions options;
  options.retry.max_attempts = 1;
  HttpClient http(ioc.get_executor(), options);
  FlyClientOptions o;
  o.base_url = fly.url("").substr(0, fly.url("").size() - 1);  // no trailing slash
  o.authorization = "Bearer " + kToken;
  FlyClient client(http, o);
  const json config = json::parse(echoed)["config"];
  auto refused = run_on(ioc, client.update_machine(kApp, "m1", config, std::nullopt, std::nullopt));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().http_status == 422);
  CHECK_MESSAGE(refused.error().message.find("VALUE-MARKER") == std::string::npos, refused.error().message);
  CHECK_MESSAGE(refused.error().message.find("keys: config") != std::string::npos, refused.error().message);
  // A proxy's page is not JSON and carries no config: its start is shown, for the reader to recognise.
  auto gateway = run_on(ioc, client.update_machine(kApp, "m2", config, std::nullopt, std::nullopt));
  REQUIRE_FALSE(gateway.has_value());
  CHECK_MESSAGE(gateway.error().message.find("bad gateway") != std::string::npos, gateway.error().message);
}
