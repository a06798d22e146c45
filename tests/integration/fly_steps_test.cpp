// The Fly promotion steps (rolling machine update, one-off migration machine) against the fake Fly over
// real HTTP: ordering, exactly-once updates, retries of transient faults, leases held by others, machines
// that fail to start, and resuming after a crash from what the journal noted.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>
#include <future>
#include <thread>
#include <fmt/format.h>

#include "adapters/fly_deploy_step.hpp"
#include "adapters/fly_migration_step.hpp"
#include "tests/fakes/fake_fly.hpp"
#include "tests/support/on_thread.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace std::chrono_literals;
using adapters::FlyClient;
using fakes::FakeFly;
using fakes::FlyOperation;
namespace asio = boost::asio;

namespace {

const std::string app = "rotor-api";
const std::string token = "fly-test-token-0123456789";
const core::Sha sha = *core::Sha::parse("0123456789abcdef0123456789abcdef01234567");
const std::string target_image = "registry.fly.io/rotor-api:" + sha.str();

fakes::FakeFlyOptions fly_options() {
  fakes::FakeFlyOptions o;
  o.token = token;
  o.start_delay = 20ms;
  o.checks_delay = 20ms;
  o.oneoff_run_time = 20ms;
  o.oneoff_exit_code = [](const std::string&, const std::vector<std::string>& cmd,
                          const std::map<std::string, std::string>&) { return cmd.back() == "fail" ? 3 : 0; };
  return o;
}

adapters::HttpClientOptions http_options() {
  adapters::HttpClientOptions o;
  o.retry.base_backoff = 10ms;
  o.retry.max_backoff = 50ms;
  o.retry.retry_after_cap = 1500ms;
  o.retry.max_attempts = 4;
  return o;
}

// The fake, and a FlyClient and the steps under test, all on the fake's thread.
struct Fly {
  testing::OnThread<FakeFly> fake{fly_options()};
  adapters::HttpClient http{fake.executor(), http_options()};
  FlyClient client{http, adapters::FlyClientOptions{fake.call([this] { return fake.fake().url(); }), token}};
  std::vector<std::string> notes;

  std::vector<std::string> add_machines(int n, const std::string& image = "registry.fly.io/rotor-api:old") {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      fakes::FakeMachineSpec spec;
      spec.app = app;
      spec.id = fmt::format("m{}0000000000000", i + 1);
      spec.image = image;
      spec.checks = {"http"};
      ids.push_back(fake.call([&] { return fake.fake().add_machine(spec); }));
    }
    return ids;
  }

  ports::StepContext context(std::string progress = "") {
    ports::StepContext ctx{core::PromotionId{7},
                           sha,
                           core::PlanStep{2, core::StepKind::deploy, "api"},
                           "promotion-7-step-2",
                           std::nullopt,
                           std::move(progress),
                           {},
                           {}};
    ctx.note = [this](std::string progress) -> asio::awaitable<core::Result<void>> {
      notes.push_back(std::move(progress));
      co_return core::Result<void>{};
    };
    return ctx;
  }

  adapters::FlyDeployStep deploy_step(adapters::FlyTimings timings = {20ms, 60s, 2s, 10s}) {
    return adapters::FlyDeployStep(fake.executor(), client,
                                   adapters::FlyTarget{app, "registry.fly.io/rotor-api:{sha}", "app"}, timings);
  }
  adapters::FlyMigrationStep migration_step(std::string last_arg = "ok") {
    return adapters::FlyMigrationStep(
        fake.executor(), client,
        adapters::FlyMigrationTarget{app, "registry.fly.io/rotor-api:{sha}", "", {"pnpm", "db:migrate", last_arg}},
        20ms, 10s);
  }

  template <class T>
  T run(asio::awaitable<T> a) {
    return fake.await(std::move(a));
  }

  std::vector<fakes::FakeMachineUpdate> updates() {
    return fake.call([this] { return fake.fake().updates(); });
  }
  std::vector<fakes::FakeFlyRequest> requests() {
    return fake.call([this] { return fake.fake().requests(); });
  }
  std::vector<fakes::FakeOneOff> one_offs() {
    return fake.call([this] { return fake.fake().one_offs(); });
  }
  nlohmann::json machine(const std::string& id) {
    return *fake.call([&] { return fake.fake().machine(app, id); });
  }
  int count(FlyOperation op) {
    return fake.call([&] { return fake.fake().request_count(op); });
  }
  // Runs f(fake) on the fake's thread.
  template <class F>
  auto with_fake(F f) {
    return fake.call([&] { return f(fake.fake()); });
  }
};

// A promoterd that dies mid-step: the step runs on an io_context of its own, which is stopped (never to
// resume) once the fake holds the request the test paused on.
struct Doomed {
  asio::io_context io;
  adapters::HttpClient http{io.get_executor(), http_options()};
  FlyClient client;
  std::thread thread;

  explicit Doomed(Fly& fly)
      : client(http, adapters::FlyClientOptions{fly.fake.call([&] { return fly.fake.fake().url(); }), token}) {}
  ~Doomed() { die(); }

  template <class Step>
  void start(Step& step, ports::StepContext ctx) {
    asio::co_spawn(
        io, [&step, ctx]() -> asio::awaitable<void> { (void)co_await step.perform(ctx); }, asio::detached);
    thread = std::thread([this] { io.run(); });
  }
  void die() {
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

// Waits until the fake holds a paused request, then lets the process "die" there.
void crash_at_pause(Fly& fly, Doomed& doomed) {
  REQUIRE(testing::eventually([&] { return fly.with_fake([](FakeFly& f) { return f.paused_count(); }) == 1; }));
  doomed.die();
  fly.with_fake([&](FakeFly& f) { f.resume_all(/*drop=*/true); });
}

std::map<std::string, int> updates_per_machine(const std::vector<fakes::FakeMachineUpdate>& updates) {
  std::map<std::string, int> n;
  for (const auto& u : updates) ++n[u.machine_id];
  return n;
}

}  // namespace

TEST_CASE("a Fly rollout updates every machine once, one at a time, each started and passing before the next") {
  Fly fly;
  const auto ids = fly.add_machines(3);
  auto step = fly.deploy_step();
  const auto ctx = fly.context();
  auto r = fly.run(step.perform(ctx));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->find("3 machine(s) updated") != std::string::npos);

  const auto updates = fly.updates();
  REQUIRE(updates.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(updates[i].machine_id == ids[i]);
    CHECK(updates[i].new_image == target_image);
    CHECK(fly.machine(ids[i])["config"]["image"] == target_image);
    CHECK(fly.machine(ids[i])["state"] == "started");
  }
  // One at a time: a machine's lease is given back before the next machine's lease is taken.
  const auto requests = fly.requests();
  std::vector<std::pair<FlyOperation, std::string>> lease_ops;
  for (const auto& q : requests)
    if (q.operation == FlyOperation::acquire_lease || q.operation == FlyOperation::release_lease)
      lease_ops.emplace_back(q.operation, q.machine_id);
  REQUIRE(lease_ops.size() == 6);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(lease_ops[2 * i] == std::pair{FlyOperation::acquire_lease, ids[i]});
    CHECK(lease_ops[2 * i + 1] == std::pair{FlyOperation::release_lease, ids[i]});
  }
  // The journal got the lease nonce before the update and the new instance id before the wait.
  REQUIRE(fly.notes.size() == 6);
  CHECK(nlohmann::json::parse(fly.notes[1])["instance_id"] == updates[0].new_instance_id);
}

TEST_CASE(
    "an abort stops a Fly rollout between machines: the machine being rolled finishes, later ones are untouched") {
  Fly fly;
  const auto ids = fly.add_machines(3);
  auto step = fly.deploy_step();
  auto ctx = fly.context();
  int asked = 0;
  // Nobody has asked before the first machine; bob has by the time it is done.
  ctx.aborted_by = [&asked]() -> asio::awaitable<std::optional<std::string>> {
    co_return ++asked == 1 ? std::nullopt : std::optional<std::string>("bob");
  };
  auto r = fly.run(step.perform(ctx));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == core::ErrorCode::aborted);
  CHECK(r.error().message ==
        "stopped after 1 of 3 machines of rotor-api were on " + target_image + ": the promotion was aborted by bob");
  CHECK(asked == 2);
  const auto updates = fly.updates();
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].machine_id == ids[0]);
  CHECK(fly.machine(ids[0])["state"] == "started");
  CHECK(fly.machine(ids[1])["config"]["image"] == "registry.fly.io/rotor-api:old");
  CHECK(fly.machine(ids[2])["config"]["image"] == "registry.fly.io/rotor-api:old");
  // The first machine's lease was given back; none was taken on the others.
  int acquired = 0, released = 0;
  for (const auto& q : fly.requests()) {
    acquired += q.operation == FlyOperation::acquire_lease;
    released += q.operation == FlyOperation::release_lease;
  }
  CHECK(acquired == 1);
  CHECK(released == 1);
}

TEST_CASE("a machine already on the release's image is not updated again, only waited healthy") {
  Fly fly;
  const auto ids = fly.add_machines(2);
  fakes::FakeMachineSpec spec;
  spec.app = app;
  spec.id = "m30000000000000";
  spec.image = target_image;
  spec.checks = {"http"};
  fly.fake.call([&] { return fly.fake.fake().add_machine(spec); });
  auto step = fly.deploy_step();
  auto r = fly.run(step.perform(fly.context()));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(r->find("2 machine(s) updated") != std::string::npos);
  CHECK(r->find("1 already on it") != std::string::npos);
  const auto per = updates_per_machine(fly.updates());
  CHECK(per.size() == 2);
  CHECK_FALSE(per.contains("m30000000000000"));
}

TEST_CASE("429s, 500s and wait timeouts from Fly are retried and the rollout completes, each machine once") {
  Fly fly;
  const auto ids = fly.add_machines(2);
  fly.with_fake([&](FakeFly& f) {
    f.rate_limit_next(2, 1, FlyOperation::list);
    f.fail_next(1, 500, FlyOperation::update);  // refused before applying: tried again
    f.fail_next(2, 503, FlyOperation::get);
    f.wait_timeout_next(2);
  });
  auto step = fly.deploy_step();
  auto r = fly.run(step.perform(fly.context()));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  const auto per = updates_per_machine(fly.updates());
  CHECK(per == std::map<std::string, int>{{ids[0], 1}, {ids[1], 1}});
  CHECK(fly.count(FlyOperation::list) >= 3);
  CHECK(fly.count(FlyOperation::update) == 3);
}

TEST_CASE("an update whose answer is lost after Fly applied it is not sent again") {
  Fly fly;
  const auto ids = fly.add_machines(1);
  fly.with_fake([&](FakeFly& f) {
    f.drop_next(1, FlyOperation::update);  // applied? the fake drops before applying
  });
  auto step = fly.deploy_step();
  auto r = fly.run(step.perform(fly.context()));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(fly.updates().size() == 1);
}

TEST_CASE("a lease held by someone else makes the rollout wait, then fail naming the holder, never forcing") {
  Fly fly;
  const auto ids = fly.add_machines(2);
  fly.with_fake([&](FakeFly& f) { f.hold_lease(app, ids[0], "ops-oncall@example.com", 60s); });
  auto step = fly.deploy_step({20ms, 60s, 500ms, 10s});
  auto r = fly.run(step.perform(fly.context()));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == core::ErrorCode::failed_precondition);
  CHECK(r.error().message.find("leased by someone else") != std::string::npos);
  CHECK(r.error().message.find("ops-oncall@example.com") != std::string::npos);
  CHECK(r.error().message.find("did not force") != std::string::npos);
  CHECK(fly.updates().empty());
  CHECK(fly.count(FlyOperation::acquire_lease) >= 2);  // it waited and asked again
  CHECK(fly.machine(ids[1])["config"]["image"] == "registry.fly.io/rotor-api:old");
}

TEST_CASE("a lease that expires while the rollout waits lets it go on") {
  Fly fly;
  const auto ids = fly.add_machines(1);
  fly.with_fake([&](FakeFly& f) { f.hold_lease(app, ids[0], "ops-oncall@example.com", 1s); });
  auto step = fly.deploy_step({50ms, 60s, 5s, 10s});
  auto r = fly.run(step.perform(fly.context()));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(fly.updates().size() == 1);
}

TEST_CASE("a machine that fails to start fails the step, says so, and later machines are untouched") {
  Fly fly;
  const auto ids = fly.add_machines(3);
  fly.with_fake([&](FakeFly& f) { f.fail_to_start(app, ids[1]); });
  auto step = fly.deploy_step();
  auto r = fly.run(step.perform(fly.context()));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == core::ErrorCode::failed_precondition);
  CHECK(r.error().message.find(ids[1]) != std::string::npos);
  CHECK(r.error().message.find("1 of 3 machines of rotor-api are already on") != std::string::npos);
  const auto per = updates_per_machine(fly.updates());
  CHECK(per == std::map<std::string, int>{{ids[0], 1}, {ids[1], 1}});
  CHECK(fly.machine(ids[2])["config"]["image"] == "registry.fly.io/rotor-api:old");
}

TEST_CASE("checks that never pass fail the step at machine_timeout with the failing check named") {
  Fly fly;
  const auto ids = fly.add_machines(1);
  fly.with_fake([&](FakeFly& f) { f.checks_fail(app, ids[0]); });
  auto step = fly.deploy_step({20ms, 60s, 2s, 700ms});
  auto r = fly.run(step.perform(fly.context()));
  REQUIRE_FALSE(r.has_value());
  INFO(r.error().message);
  CHECK(r.error().message.find("passing its checks") != std::string::npos);
  CHECK(r.error().message.find("http") != std::string::npos);
}

TEST_CASE("after a crash the rollout gives back the lease it noted and resumes without updating a machine twice") {
  Fly fly;
  const auto ids = fly.add_machines(3);
  // The run before the crash: machine 1 done; machine 2 leased (nonce noted), then the process died.
  Doomed doomed(fly);
  adapters::FlyDeployStep first(doomed.io.get_executor(), doomed.client,
                                adapters::FlyTarget{app, "registry.fly.io/rotor-api:{sha}", "app"},
                                adapters::FlyTimings{20ms, 60s, 2s, 10s});
  fly.with_fake([&](FakeFly& f) { f.pause(fakes::PausePoint{FlyOperation::update, "", ids[1], false}); });
  doomed.start(first, fly.context());
  crash_at_pause(fly, doomed);  // the update was held before Fly applied it
  REQUIRE(fly.updates().size() == 1);
  REQUIRE_FALSE(fly.notes.empty());
  const std::string noted = fly.notes.back();
  CHECK(nlohmann::json::parse(noted)["fly_machine"] == ids[1]);

  // The restart: find_done gives the lease back, sees the rollout unfinished; perform resumes it.
  auto second = fly.deploy_step({20ms, 60s, 300ms, 10s});  // a stuck lease would fail it quickly
  auto found = fly.run(second.find_done(fly.context(noted)));
  REQUIRE_MESSAGE(found.has_value(), found.error().message);
  CHECK_FALSE(found->has_value());
  auto r = fly.run(second.perform(fly.context()));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(updates_per_machine(fly.updates()) == std::map<std::string, int>{{ids[0], 1}, {ids[1], 1}, {ids[2], 1}});
  CHECK(r->find("2 machine(s) updated") != std::string::npos);

  // And once every machine is on the image, find_done says the step is done.
  auto done = fly.run(second.find_done(fly.context()));
  REQUIRE(done.has_value());
  REQUIRE(done->has_value());
  CHECK(done->value().find("found after restart") != std::string::npos);
}

TEST_CASE("after a crash while a machine started, the resumed run releases its lease only after its checks pass") {
  Fly fly;
  const auto ids = fly.add_machines(3);
  // The run before the crash: machine 1 done; machine 2 updated (nonce and new instance noted), then the
  // process died while it waited for machine 2 to start.
  Doomed doomed(fly);
  adapters::FlyDeployStep first(doomed.io.get_executor(), doomed.client,
                                adapters::FlyTarget{app, "registry.fly.io/rotor-api:{sha}", "app"},
                                adapters::FlyTimings{20ms, 60s, 2s, 10s});
  fly.with_fake([&](FakeFly& f) { f.pause(fakes::PausePoint{FlyOperation::wait, "", ids[1], false}); });
  doomed.start(first, fly.context());
  crash_at_pause(fly, doomed);
  REQUIRE(fly.updates().size() == 2);
  REQUIRE_FALSE(fly.notes.empty());
  const std::string noted = fly.notes.back();
  REQUIRE(nlohmann::json::parse(noted).contains("instance_id"));
  // Machine 2's checks stay critical until the test lets them pass.
  fly.with_fake([&](FakeFly& f) { f.checks_fail(app, ids[1]); });
  const std::size_t before = fly.requests().size();

  // The restart. find_done runs on the fake's thread while the test watches the requests it makes.
  auto second = fly.deploy_step();
  auto ctx = fly.context(noted);
  auto found_future = asio::co_spawn(fly.fake.executor(), second.find_done(ctx), asio::use_future);
  auto seen_critical = [&] {
    const auto all = fly.requests();
    for (std::size_t i = before; i < all.size(); ++i)
      if (all[i].operation == FlyOperation::get && all[i].machine_id == ids[1] && all[i].machine_state == "started" &&
          !all[i].machine_checks_passing && all[i].status == 200)
        return true;
    return false;
  };
  // Either the resumed run looks at the started machine with critical checks, or it ended without waiting.
  REQUIRE(testing::eventually(
      [&] { return seen_critical() || found_future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
  fly.with_fake([&](FakeFly& f) { f.checks_recover(app, ids[1]); });
  auto found = found_future.get();
  REQUIRE_MESSAGE(found.has_value(), found.error().message);
  CHECK_FALSE(found->has_value());  // machine 3 is still to do

  // The order the README promises: started, then checks passing, then release.
  const auto all = fly.requests();
  std::optional<std::size_t> release, passing;
  for (std::size_t i = before; i < all.size(); ++i) {
    if (all[i].machine_id != ids[1]) continue;
    if (all[i].operation == FlyOperation::release_lease && !release) release = i;
    if (all[i].operation == FlyOperation::get && all[i].machine_checks_passing && !passing) passing = i;
  }
  REQUIRE(release.has_value());
  CHECK_MESSAGE(all[*release].machine_checks_passing, "the lease was released while the machine's checks were "
                                                          << all[*release].machine_state << ", not passing");
  REQUIRE(passing.has_value());
  CHECK(*passing < *release);

  // The rollout then finishes, each machine updated once.
  auto r = fly.run(second.perform(fly.context()));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(updates_per_machine(fly.updates()) == std::map<std::string, int>{{ids[0], 1}, {ids[1], 1}, {ids[2], 1}});
}

TEST_CASE("the Fly migration runs the command in a one-off machine on the release image and destroys it") {
  Fly fly;
  fly.add_machines(1);
  auto step = fly.migration_step();
  auto r = fly.run(step.perform(fly.context()));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  const auto runs = fly.one_offs();
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].image == target_image);
  CHECK(runs[0].cmd == std::vector<std::string>{"pnpm", "db:migrate", "ok"});
  CHECK(runs[0].metadata.at("promoter_step") == "promotion-7-step-2");
  CHECK(runs[0].destroyed);
  REQUIRE(fly.notes.size() == 2);
  CHECK(fly.notes[1] == "fly-machine:" + runs[0].machine_id + " exit=0");
  CHECK(fly.updates().empty());  // app machines are not touched by the migration
}

TEST_CASE("a failing Fly migration fails the step with the exit code, and a restart does not run it again") {
  Fly fly;
  fly.add_machines(1);
  auto step = fly.migration_step("fail");
  auto r = fly.run(step.perform(fly.context()));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == core::ErrorCode::failed_precondition);
  CHECK(r.error().message.find("exited with code 3") != std::string::npos);
  auto again = fly.run(step.find_done(fly.context(fly.notes.back())));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == core::ErrorCode::failed_precondition);
  CHECK(fly.one_offs().size() == 1);
}

TEST_CASE("a Fly migration whose id was never noted is found by its key after a crash, not started twice") {
  Fly fly;
  fly.add_machines(1);
  Doomed doomed(fly);
  adapters::FlyMigrationStep first(
      doomed.io.get_executor(), doomed.client,
      adapters::FlyMigrationTarget{app, "registry.fly.io/rotor-api:{sha}", "", {"pnpm", "db:migrate", "ok"}}, 20ms,
      10s);
  fly.with_fake([&](FakeFly& f) { f.pause(fakes::PausePoint{FlyOperation::create, "", "", true}); });
  doomed.start(first, fly.context());
  crash_at_pause(fly, doomed);  // created, but the answer never arrived
  CHECK(fly.notes.empty());
  auto step = fly.migration_step();
  REQUIRE(fly.one_offs().size() == 1);
  auto found = fly.run(step.find_done(fly.context()));
  REQUIRE_MESSAGE(found.has_value(), found.error().message);
  REQUIRE(found->has_value());
  CHECK(found->value().find("exited 0") != std::string::npos);
  CHECK(fly.one_offs().size() == 1);
}
