// RailwayDeployStep against FakeRailway: what the journal's detail line says when a step is settled
// after an unclear answer in the same process, and after a restart.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/http_client.hpp"
#include "adapters/railway_client.hpp"
#include "adapters/railway_deploy_step.hpp"
#include "tests/fakes/fake_railway.hpp"
#include "tests/support/run_on.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace promoter;

namespace {

const std::string kProject = "proj-1";
const std::string kProduction = "env-production";
const core::Sha kSha = *core::Sha::parse("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");

struct Fixture {
  Fixture() : fake(ioc.get_executor(), fakes::FakeRailwayOptions{}) {
    fake.start();
    adapters::HttpClientOptions options;
    options.connect_timeout = 2s;
    options.request_timeout = 5s;
    options.retry.max_attempts = 3;
    options.jitter = [] { return 0.0; };
    options.sleeper = [](std::chrono::milliseconds) -> asio::awaitable<void> { co_return; };  // no real waits
    http.emplace(ioc.get_executor(), options);
    adapters::RailwayClientOptions railway;
    railway.endpoint = fake.url();
    railway.token = "fake-railway-token";
    client.emplace(*http, railway);
    fakes::FakeDeploymentSpec previous;  // production before the promotion
    previous.project_id = kProject;
    previous.environment_id = kProduction;
    previous.service_id = "svc-api";
    previous.status = "SUCCESS";
    previous.commit_hash = std::string(40, 'a');
    fake.add_deployment(previous);
  }

  // The deployments of the release's commit Railway holds.
  std::vector<std::string> deployments_of_release() const {
    std::vector<std::string> ids;
    for (const auto& d : fake.deployments())
      if (d.commit_hash == kSha.str()) ids.push_back(d.id);
    return ids;
  }

  // A step object as App makes one; a new one is what a restarted promoterd has.
  std::unique_ptr<adapters::RailwayDeployStep> step() {
    return std::make_unique<adapters::RailwayDeployStep>(
        ioc.get_executor(), *client, adapters::RailwayTarget{kProject, kProduction, "svc-api"}, 1ms, 5s);
  }

  // The context the executor passes: the journal's progress note lives in `progress`.
  ports::StepContext context() {
    const auto started = std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now());
    ports::StepContext ctx{core::PromotionId{1},
                           kSha,
                           core::PlanStep{2, core::StepKind::deploy, "api"},
                           "promotion-1-step-2",
                           started,
                           "",
                           {},
                           {}};
    return ctx;
  }

  asio::io_context ioc;
  fakes::FakeRailway fake;
  std::optional<adapters::HttpClient> http;
  std::optional<adapters::RailwayClient> client;
};

}  // namespace

TEST_CASE("a deploy answered 502 after it took effect is settled as found after that 502, not after a restart") {
  Fixture f;
  auto step = f.step();
  auto ctx = f.context();
  f.fake.fail_next_after_effect(1, 502);
  auto performed = testing::run_on(f.ioc, step->perform(ctx));
  REQUIRE_FALSE(performed.has_value());
  CHECK(performed.error().code == core::ErrorCode::unavailable);
  REQUIRE(f.deployments_of_release().size() == 1);  // Railway made it, though its answer was a 502
  const std::string id = f.deployments_of_release().front();

  // The executor's next run, in the same process, settles the step.
  auto done = testing::run_on(f.ioc, step->find_done(ctx));
  REQUIRE_MESSAGE(done.has_value(), done.error().message);
  REQUIRE(done->has_value());
  const std::string& detail = **done;
  const std::string abbrev(kSha.abbrev());
  CHECK(detail.starts_with("railway deployment " + id + " of " + abbrev +
                           " is live (found when settling the step: the deploy request got no clear answer "
                           "(deploying " +
                           abbrev + " to Railway: "));
  CHECK(detail.find("502") != std::string::npos);
  CHECK(detail.ends_with("; the deployment had been made, so it was not made again)"));
  CHECK(detail.find("restart") == std::string::npos);
  CHECK(f.fake.request_count("DeployCommit") == 1);
}

TEST_CASE("a deploy found by a restarted promoterd says it was found after restart") {
  Fixture f;
  auto ctx = f.context();
  {
    auto before_crash = f.step();
    f.fake.fail_next_after_effect(1, 502);
    REQUIRE_FALSE(testing::run_on(f.ioc, before_crash->perform(ctx)).has_value());
  }
  auto after_restart = f.step();  // remembers nothing of the attempt before
  auto done = testing::run_on(f.ioc, after_restart->find_done(ctx));
  REQUIRE_MESSAGE(done.has_value(), done.error().message);
  REQUIRE(done->has_value());
  REQUIRE(f.deployments_of_release().size() == 1);
  CHECK(**done == "railway deployment " + f.deployments_of_release().front() + " of " + std::string(kSha.abbrev()) +
                      " is live (found after restart)");
}
