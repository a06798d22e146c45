// adapters/token_budget: one back-off and one hourly budget per provider token, shared by every client of
// the token. Time is a fake clock that the budget's injected sleep advances: no test waits for real time.
#include <utility>

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adapters/http_client.hpp"
#include "adapters/railway_client.hpp"
#include "adapters/token_budget.hpp"
#include "tests/fakes/fake_railway.hpp"
#include "tests/support/run_on.hpp"

using namespace promoter;
using namespace std::chrono_literals;
using adapters::TokenBudget;
using adapters::TokenBudgets;
namespace asio = boost::asio;

namespace {

const std::string kToken = "railway-budget-token-0123456789";
const std::string kSha = "cccccccccccccccccccccccccccccccccccccccc";

// A clock that only moves when the budget sleeps; every sleep is recorded with what `probe` said then.
struct FakeTime {
  TokenBudget::Clock::time_point now{std::chrono::hours(1000)};
  struct Slept {
    std::chrono::milliseconds how_long;
    int probe;
  };
  std::vector<Slept> sleeps;
  std::function<int()> probe = [] { return 0; };

  TokenBudget::Options options(std::string provider, std::string label, int per_hour) {
    TokenBudget::Options o;
    o.provider = std::move(provider);
    o.label = std::move(label);
    o.requests_per_hour = per_hour;
    o.now = [this] { return now; };
    o.sleep = [this](std::chrono::milliseconds d) -> asio::awaitable<void> {
      sleeps.push_back({d, probe()});
      now += d;
      co_return;
    };
    return o;
  }
};

asio::awaitable<int> spend(TokenBudget& budget) {
  co_await budget.acquire();
  co_return 0;
}

adapters::HttpClientOptions http_options(int max_attempts) {
  adapters::HttpClientOptions o;
  o.retry.max_attempts = max_attempts;
  o.retry.base_backoff = 1ms;
  o.retry.max_backoff = 2ms;
  o.jitter = [] { return 0.0; };
  o.sleeper = [](std::chrono::milliseconds) -> asio::awaitable<void> { co_return; };
  return o;
}

}  // namespace

TEST_CASE("a 429 Retry-After seen by one client holds back every client of the same token until it ends") {
  asio::io_context ioc;
  fakes::FakeRailwayOptions fake_options;
  fake_options.token = kToken;
  fakes::FakeRailway fake(ioc.get_executor(), fake_options);
  fake.start();
  FakeTime time;
  time.probe = [&] { return fake.request_count("DeployCommit"); };
  TokenBudgets budgets;

  // The reconciler's client and a deploy step's client: separate HTTP clients, one token.
  auto reconciler_budget = budgets.for_token(kToken, time.options("railway", "railway", 1000));
  auto deploy_budget = budgets.for_token(kToken, time.options("railway", "railway", 1000));
  REQUIRE(reconciler_budget == deploy_budget);
  adapters::HttpClient reconciler_http(ioc.get_executor(), http_options(1));
  adapters::HttpClient deploy_http(ioc.get_executor(), http_options(3));
  adapters::RailwayClient reconciler(reconciler_http,
                                     {fake.url(), kToken, adapters::RailwayTokenKind::account, reconciler_budget});
  adapters::RailwayClient deployer(deploy_http,
                                   {fake.url(), kToken, adapters::RailwayTokenKind::account, deploy_budget});

  fake.rate_limit_next(1, 3);
  auto limited = testing::run_on(ioc, reconciler.list_deployments("proj-fake", "env-staging", "svc-api", 5));
  REQUIRE_FALSE(limited.has_value());
  CHECK(limited.error().http_status == 429);
  CHECK(time.sleeps.empty());

  // The deploy goes out only once Railway's 3 s have passed, not at once and not after a per-call guess.
  auto deployed = testing::run_on(ioc, deployer.deploy_commit("svc-api", "env-prod", kSha));
  REQUIRE_MESSAGE(deployed.has_value(), deployed.error().message);
  REQUIRE(time.sleeps.size() == 1);
  CHECK(time.sleeps[0].how_long == 3000ms);
  CHECK(time.sleeps[0].probe == 0);  // nothing was sent while the token waited
  CHECK(fake.request_count("DeployCommit") == 1);

  // Once the back-off is over, requests of the token go at once again.
  auto read = testing::run_on(ioc, reconciler.get_deployment(*deployed));
  REQUIRE_MESSAGE(read.has_value(), read.error().message);
  CHECK(time.sleeps.size() == 1);
  fake.stop();
}

TEST_CASE("a retried request waits out its own 429 through the token's back-off, and other tokens are not held") {
  asio::io_context ioc;
  fakes::FakeRailwayOptions fake_options;
  fake_options.token = kToken;
  fakes::FakeRailway fake(ioc.get_executor(), fake_options);
  fake.start();
  FakeTime time;
  time.probe = [&] { return fake.request_count("ListDeployments"); };
  TokenBudgets budgets;
  auto budget = budgets.for_token(kToken, time.options("railway", "railway", 1000));
  auto other = budgets.for_token("another-token-entirely-000000", time.options("railway", "railway-eu", 1000));
  auto same_token_other_provider = budgets.for_token(kToken, time.options("fly", "fly", 1000));
  CHECK(other != budget);
  CHECK(same_token_other_provider != budget);

  adapters::HttpClient http(ioc.get_executor(), http_options(3));
  adapters::RailwayClient client(http, {fake.url(), kToken, adapters::RailwayTokenKind::account, budget});
  fake.rate_limit_next(1, 7);
  auto listed = testing::run_on(ioc, client.list_deployments("proj-fake", "env-staging", "svc-api", 5));
  REQUIRE_MESSAGE(listed.has_value(), listed.error().message);
  REQUIRE(time.sleeps.size() == 1);
  CHECK(time.sleeps[0].how_long == 7000ms);
  CHECK(time.sleeps[0].probe == 1);  // the 429'd attempt, then the wait, then the retry
  CHECK(fake.request_count("ListDeployments") == 2);

  budget->back_off(60s);
  testing::run_on(ioc, spend(*other));
  testing::run_on(ioc, spend(*same_token_other_provider));
  CHECK(time.sleeps.size() == 1);  // neither waited for this token's back-off
  fake.stop();
}

TEST_CASE("the hourly budget lets its requests go at once, then paces the next to the refill rate") {
  asio::io_context ioc;
  FakeTime time;
  std::vector<double> reported;
  auto options = time.options("fly", "fly", 4);
  options.report = [&](const TokenBudget& b) { reported.push_back(b.remaining()); };
  TokenBudget budget(options);
  CHECK(budget.remaining() == doctest::Approx(4));
  for (int i = 0; i < 4; ++i) testing::run_on(ioc, spend(budget));
  CHECK(time.sleeps.empty());
  CHECK(budget.remaining() == doctest::Approx(0));
  CHECK(reported == std::vector<double>{3, 2, 1, 0});

  // 4 an hour: the fifth waits a quarter of an hour for one request to refill.
  testing::run_on(ioc, spend(budget));
  REQUIRE(time.sleeps.size() == 1);
  CHECK(time.sleeps[0].how_long == 15min);
  CHECK(budget.remaining() == doctest::Approx(0));

  // An idle hour refills the budget, never above its size.
  time.now += 3h;
  CHECK(budget.remaining() == doctest::Approx(4));

  // A back-off holds even a full budget, and a shorter ask does not cut a longer one short.
  budget.back_off(10s);
  budget.back_off(2s);
  testing::run_on(ioc, spend(budget));
  REQUIRE(time.sleeps.size() == 2);
  CHECK(time.sleeps[1].how_long == 10s);
}
