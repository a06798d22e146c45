// RailwayClient against FakeRailway on 127.0.0.1 (port chosen at run time), plus the fake's
// webhooks checked with parse_railway_webhook.

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/http_client.hpp"
#include "adapters/railway_client.hpp"
#include "adapters/railway_webhook.hpp"
#include "core/time.hpp"
#include "tests/fakes/fake_railway.hpp"
#include "tests/support/run_on.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;
using promoter::adapters::AdapterError;
using promoter::adapters::HttpClient;
using promoter::adapters::HttpClientOptions;
using promoter::adapters::RailwayClient;
using promoter::adapters::RailwayClientOptions;
using promoter::adapters::RailwayDeployment;
using promoter::adapters::RailwayTokenKind;
using promoter::fakes::FakeDeploymentSpec;
using promoter::fakes::FakeRailway;
using promoter::fakes::FakeRailwayOptions;
using promoter::fakes::WebhookShape;

using promoter::testing::run_on;

namespace {

promoter::fakes::FakeVariable variable(std::string name, std::optional<std::string> service_id, std::string value) {
  promoter::fakes::FakeVariable v;
  v.name = std::move(name);
  v.service_id = std::move(service_id);
  v.value = std::move(value);
  return v;
}

// POSTs `body` to the fake's GraphQL endpoint with the right token; the answer's status and body.
promoter::adapters::HttpResult post_graphql(asio::io_context& ioc, promoter::adapters::HttpClient& http,
                                            const std::string& url, const std::string& body) {
  promoter::adapters::HttpRequestSpec spec;
  spec.method = promoter::adapters::HttpMethod::post;
  spec.url = url;
  spec.body = body;
  spec.headers = {{"Authorization", "Bearer fake-railway-token"}, {"Content-Type", "application/json"}};
  auto answer = run_on(ioc, http.request(spec));
  REQUIRE_MESSAGE(answer.has_value(), answer.error().message);
  return *answer;
}

const std::string kProject = "proj-1";
const std::string kStaging = "env-staging";
const std::string kProduction = "env-production";
const std::string kShaA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const std::string kShaB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const std::string kShaC = "cccccccccccccccccccccccccccccccccccccccc";

// A fake, an HTTP client that records backoffs instead of sleeping, and a RailwayClient.
struct Fixture {
  explicit Fixture(FakeRailwayOptions fake_options = {}, std::optional<RailwayClientOptions> client_options = {},
                   bool real_sleep = false)
      : fake(ioc.get_executor(), std::move(fake_options)) {
    fake.start();
    HttpClientOptions options;
    options.connect_timeout = 2s;
    options.request_timeout = 5s;
    options.retry.max_attempts = 3;
    options.retry.base_backoff = 50ms;
    options.retry.max_backoff = 500ms;
    options.retry.retry_after_cap = 5s;
    options.jitter = [] { return 0.0; };
    if (!real_sleep) {
      options.sleeper = [slept = slept](std::chrono::milliseconds d) -> asio::awaitable<void> {
        slept->push_back(d);
        co_return;
      };
    }
    http.emplace(ioc.get_executor(), options);
    RailwayClientOptions railway = client_options.value_or(RailwayClientOptions{});
    railway.endpoint = fake.url();
    if (!client_options) railway.token = "fake-railway-token";
    client.emplace(*http, railway);
  }

  std::string add(const std::string& service, const std::string& environment, const std::string& status,
                  std::optional<std::string> sha) {
    FakeDeploymentSpec spec;
    spec.project_id = kProject;
    spec.environment_id = environment;
    spec.service_id = service;
    spec.status = status;
    spec.commit_hash = std::move(sha);
    spec.commit_author = "octocat";
    spec.commit_message = "change " + service;
    return fake.add_deployment(spec);
  }

  asio::io_context ioc;
  FakeRailway fake;
  std::shared_ptr<std::vector<std::chrono::milliseconds>> slept =
      std::make_shared<std::vector<std::chrono::milliseconds>>();
  std::optional<HttpClient> http;
  std::optional<RailwayClient> client;
};

// Collects webhook bodies POSTed to it.
class WebhookReceiver {
 public:
  explicit WebhookReceiver(asio::io_context& ioc) : state_(std::make_shared<State>(ioc)) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    state_->acceptor.open(endpoint.protocol());
    state_->acceptor.bind(endpoint);
    state_->acceptor.listen();
    asio::co_spawn(ioc, accept(state_), asio::detached);
  }
  ~WebhookReceiver() {
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(state_->acceptor.local_endpoint().port()) + "/webhooks/railway/s3cret";
  }
  const std::vector<std::string>& bodies() const { return state_->bodies; }

 private:
  struct State {
    explicit State(asio::io_context& ioc) : acceptor(ioc) {}
    tcp::acceptor acceptor;
    std::vector<std::string> bodies;
  };
  static asio::awaitable<void> serve(std::shared_ptr<State> state, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, request, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    state->bodies.push_back(request.body());
    http::response<http::string_body> response{http::status::no_content, 11};
    response.prepare_payload();
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
  }
  static asio::awaitable<void> accept(std::shared_ptr<State> state) {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(state->acceptor.get_executor(), serve(state, std::move(socket)), asio::detached);
    }
  }
  std::shared_ptr<State> state_;
};

}  // namespace

TEST_CASE("list_deployments returns one service's deployments newest first with commit meta") {
  Fixture f;
  const auto old_id = f.add("svc-api", kStaging, "REMOVED", kShaA);
  const auto mid_id = f.add("svc-api", kStaging, "SUCCESS", kShaB);
  const auto new_id = f.add("svc-api", kStaging, "BUILDING", kShaC);
  f.add("svc-worker", kStaging, "SUCCESS", kShaC);  // other service
  f.add("svc-api", kProduction, "SUCCESS", kShaA);  // other environment

  auto all = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 10));
  REQUIRE_MESSAGE(all.has_value(), all.error().message);
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].id == new_id);
  CHECK((*all)[1].id == mid_id);
  CHECK((*all)[2].id == old_id);
  const RailwayDeployment& d = (*all)[1];
  CHECK(d.status == "SUCCESS");
  CHECK(d.service_id == "svc-api");
  CHECK(d.environment_id == kStaging);
  CHECK(d.commit_hash == kShaB);
  CHECK(d.commit_author == "octocat");
  CHECK(d.commit_message == "change svc-api");
  CHECK(d.branch == "main");
  CHECK_FALSE(d.created_at.empty());

  auto newest_two = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 2));
  REQUIRE(newest_two.has_value());
  REQUIRE(newest_two->size() == 2);
  CHECK((*newest_two)[0].id == new_id);
  CHECK((*newest_two)[1].id == mid_id);

  const auto requests = f.fake.requests();
  REQUIRE_FALSE(requests.empty());
  CHECK(requests.back().operation == "ListDeployments");
  CHECK(requests.back().variables["input"]["serviceId"] == "svc-api");
  CHECK(requests.back().variables["first"] == 2);
}

TEST_CASE("deployments without meta and with unknown statuses are tolerated") {
  Fixture f;
  const auto id = f.add("svc-api", kStaging, "SUCCESS", std::nullopt);
  FakeDeploymentSpec bare;
  bare.project_id = kProject;
  bare.environment_id = kStaging;
  bare.service_id = "svc-api";
  bare.branch.reset();
  const auto bare_id = f.fake.add_deployment(bare);
  REQUIRE(f.fake.set_status(bare_id, "TELEPORTING"));
  auto list = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
  REQUIRE(list.has_value());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].status == "TELEPORTING");
  CHECK_FALSE(promoter::adapters::is_known_railway_deployment_status((*list)[0].status));
  CHECK_FALSE((*list)[0].commit_hash.has_value());
  CHECK_FALSE((*list)[0].branch.has_value());
  CHECK((*list)[1].id == id);
  CHECK_FALSE((*list)[1].commit_hash.has_value());
  CHECK(promoter::adapters::is_known_railway_deployment_status("NEEDS_APPROVAL"));
}

TEST_CASE("list_deployments_batch reads several services of one environment in one request") {
  Fixture f;
  const auto api = f.add("svc-api", kStaging, "SUCCESS", kShaA);
  const auto api_new = f.add("svc-api", kStaging, "DEPLOYING", kShaB);
  const auto worker = f.add("svc-worker", kStaging, "CRASHED", kShaA);
  f.add("svc-api", kProduction, "SUCCESS", kShaA);

  auto batch =
      run_on(f.ioc, f.client->list_deployments_batch(kStaging, kProject, {"svc-api", "svc-worker", "svc-www"}, 5));
  REQUIRE_MESSAGE(batch.has_value(), batch.error().message);
  CHECK(f.fake.request_count("ListDeploymentsBatch") == 1);
  CHECK(f.fake.total_requests() == 1);
  REQUIRE(batch->size() == 3);
  REQUIRE(batch->at("svc-api").size() == 2);
  CHECK(batch->at("svc-api")[0].id == api_new);
  CHECK(batch->at("svc-api")[1].id == api);
  REQUIRE(batch->at("svc-worker").size() == 1);
  CHECK(batch->at("svc-worker")[0].id == worker);
  CHECK(batch->at("svc-worker")[0].status == "CRASHED");
  CHECK(batch->at("svc-www").empty());
  const auto sent = f.fake.requests().back().variables;
  CHECK(sent["s0"]["serviceId"] == "svc-api");
  CHECK(sent["s2"]["serviceId"] == "svc-www");
  CHECK(sent["s1"]["environmentId"] == kStaging);
}

TEST_CASE("get_deployment reads one deployment; an unknown id is a GraphQL error") {
  Fixture f;
  const auto id = f.add("svc-worker", kStaging, "SUCCESS", kShaA);
  auto one = run_on(f.ioc, f.client->get_deployment(id));
  REQUIRE(one.has_value());
  CHECK(one->id == id);
  CHECK(one->status == "SUCCESS");
  CHECK(one->service_id == "svc-worker");
  CHECK(one->commit_hash == kShaA);

  auto missing = run_on(f.ioc, f.client->get_deployment("no-such-deployment"));
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == AdapterError::Kind::graphql);
  CHECK(missing.error().message.find("Deployment not found") != std::string::npos);
}

TEST_CASE("find_deployment: an id Railway reports not found is nullopt; other GraphQL errors stay errors") {
  Fixture f;
  const auto id = f.add("svc-worker", kStaging, "SUCCESS", kShaA);
  auto one = run_on(f.ioc, f.client->find_deployment(id));
  REQUIRE(one.has_value());
  REQUIRE(one->has_value());
  CHECK((*one)->id == id);
  CHECK((*one)->environment_id == kStaging);

  auto missing = run_on(f.ioc, f.client->find_deployment("no-such-deployment"));
  REQUIRE_MESSAGE(missing.has_value(), missing.error().message);
  CHECK_FALSE(missing->has_value());

  // Not definitive: the token may not see it, or Railway had a problem. The caller must not drop it.
  f.fake.graphql_error_next(1, "Not Authorized");
  auto refused = run_on(f.ioc, f.client->find_deployment(id));
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == AdapterError::Kind::graphql);
  f.fake.fail_next(3, 500);
  auto down = run_on(f.ioc, f.client->find_deployment("no-such-deployment"));
  REQUIRE_FALSE(down.has_value());
  CHECK(down.error().kind == AdapterError::Kind::http_status);
}

TEST_CASE("deploy_commit creates a deployment of the exact SHA that progresses to SUCCESS as it is read") {
  FakeRailwayOptions options;
  options.deploy_reads_to_finish = 4;
  Fixture f(options);
  const auto previous = f.add("svc-api", kProduction, "SUCCESS", kShaA);

  auto id = run_on(f.ioc, f.client->deploy_commit("svc-api", kProduction, kShaB));
  REQUIRE_MESSAGE(id.has_value(), id.error().message);
  auto created = f.fake.deployment(*id);
  REQUIRE(created.has_value());
  CHECK(created->commit_hash == kShaB);
  CHECK(created->service_id == "svc-api");
  CHECK(created->environment_id == kProduction);
  CHECK(created->project_id == kProject);
  CHECK(created->status == "BUILDING");
  CHECK(f.fake.request_count("DeployCommit") == 1);
  CHECK(f.fake.requests().back().variables["commitSha"] == kShaB);

  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    auto read = run_on(f.ioc, f.client->get_deployment(*id));
    REQUIRE(read.has_value());
    seen.push_back(read->status);
  }
  CHECK(seen == std::vector<std::string>{"BUILDING", "DEPLOYING", "DEPLOYING", "SUCCESS"});
  CHECK(f.fake.deployment(previous)->status == "REMOVED");

  auto bad = run_on(f.ioc, f.client->deploy_commit("svc-api", kProduction, "main"));
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().kind == AdapterError::Kind::protocol);
  CHECK(f.fake.request_count("DeployCommit") == 1);  // nothing sent
}

TEST_CASE("a GraphQL error on a 200 is a failure carrying the server's message, not retried") {
  Fixture f;
  f.fake.graphql_error_next(1, "Problem processing request");
  auto result = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == AdapterError::Kind::graphql);
  CHECK(result.error().http_status == 200);
  CHECK(result.error().message.find("Problem processing request") != std::string::npos);
  CHECK(f.fake.total_requests() == 1);
}

TEST_CASE("500s and 429s are retried for queries (Retry-After honoured), never for the deploy mutation") {
  Fixture f;
  f.add("svc-api", kStaging, "SUCCESS", kShaA);
  f.fake.fail_next(2, 500);
  auto after_500s = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
  REQUIRE_MESSAGE(after_500s.has_value(), after_500s.error().message);
  CHECK(after_500s->size() == 1);
  CHECK(f.fake.request_count("ListDeployments") == 3);
  CHECK(f.slept->size() == 2);

  f.slept->clear();
  f.fake.rate_limit_next(1, 2);
  auto after_429 = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
  REQUIRE(after_429.has_value());
  REQUIRE(f.slept->size() == 1);
  CHECK((*f.slept)[0] == 2s);

  f.fake.fail_next(1, 502);
  auto deploy = run_on(f.ioc, f.client->deploy_commit("svc-api", kStaging, kShaB));
  REQUIRE_FALSE(deploy.has_value());
  CHECK(deploy.error().kind == AdapterError::Kind::http_status);
  CHECK(deploy.error().http_status == 502);
  CHECK(f.fake.request_count("DeployCommit") == 1);
  CHECK(f.fake.deployments().size() == 1);

  f.fake.fail_next(3, 503);
  auto exhausted = run_on(f.ioc, f.client->get_deployment("whatever"));
  REQUIRE_FALSE(exhausted.has_value());
  CHECK(exhausted.error().kind == AdapterError::Kind::http_status);
  CHECK(exhausted.error().message.find("after 3 attempts") != std::string::npos);
}

TEST_CASE("a 429's Retry-After is waited for real before the retry") {
  Fixture f({}, std::nullopt, true);
  f.fake.rate_limit_next(1, 1);
  const auto start = std::chrono::steady_clock::now();
  auto result = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
  REQUIRE(result.has_value());
  CHECK(std::chrono::steady_clock::now() - start >= 1s);
  CHECK(f.fake.request_count("ListDeployments") == 2);
}

TEST_CASE("dropped connections and slow answers are survived by queries") {
  Fixture f;
  f.add("svc-api", kStaging, "SUCCESS", kShaA);
  f.fake.drop_next(1);
  f.fake.delay_next(1, 100ms);
  auto result = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
  REQUIRE_MESSAGE(result.has_value(), result.error().message);
  CHECK(result->size() == 1);
  CHECK(f.fake.request_count("ListDeployments") == 2);
}

TEST_CASE("the auth header is checked: wrong token or wrong kind is an error") {
  {
    RailwayClientOptions wrong;
    wrong.token = "not-the-token";
    Fixture f({}, wrong);
    auto result = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == AdapterError::Kind::graphql);
    CHECK(result.error().message.find("Not Authorized") != std::string::npos);
    CHECK_FALSE(f.fake.requests().back().authorized);
  }
  FakeRailwayOptions project_token;
  project_token.token = "project-token-1";
  project_token.token_kind = RailwayTokenKind::project;
  {
    RailwayClientOptions right;
    right.token = "project-token-1";
    right.token_kind = RailwayTokenKind::project;
    Fixture f(project_token, right);
    auto result = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
    REQUIRE_MESSAGE(result.has_value(), result.error().message);
    CHECK(f.fake.requests().back().authorized);
  }
  {
    RailwayClientOptions bearer;  // right token, sent as Authorization: Bearer
    bearer.token = "project-token-1";
    Fixture f(project_token, bearer);
    auto result = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().message.find("Not Authorized") != std::string::npos);
  }
}

TEST_CASE("environment_variable_names pages through every variable name") {
  Fixture f;
  std::vector<promoter::fakes::FakeVariable> variables;
  for (int i = 0; i < 230; ++i) {
    promoter::fakes::FakeVariable variable;
    variable.name = "VAR_" + std::to_string(i);
    variable.service_id = i % 2 == 0 ? std::optional<std::string>("svc-api") : std::nullopt;
    variable.value = "value-" + std::to_string(i);
    variables.push_back(std::move(variable));
  }
  f.fake.set_variables(kStaging, variables);
  auto names = run_on(f.ioc, f.client->environment_variable_names(kStaging));
  REQUIRE_MESSAGE(names.has_value(), names.error().message);
  REQUIRE(names->size() == 230);
  CHECK((*names)[0].name == "VAR_0");
  CHECK((*names)[0].service_id == "svc-api");
  CHECK_FALSE((*names)[229].service_id.has_value());
  CHECK((*names)[229].created_at.has_value());
  CHECK(f.fake.request_count("EnvironmentVariableNames") == 3);
  CHECK(f.fake.value_reads() == 0);
}

TEST_CASE("the fake parses every document the client sends, named as the client names it") {
  for (const auto& [name, document] : promoter::adapters::railway_documents()) {
    CAPTURE(name);
    const auto error = FakeRailway::check_document(document);
    CHECK_MESSAGE(!error.has_value(), error.value_or(""));
    CHECK(document.find(" " + name) != std::string::npos);
  }
  CHECK(FakeRailway::check_document("query { a { ...F } }").has_value());
  CHECK(FakeRailway::check_document("query Q { a(").has_value());
}

TEST_CASE("the fake's webhooks, both shapes, duplicated and reordered, parse into the right events") {
  Fixture f;
  WebhookReceiver receiver(f.ioc);
  f.fake.name_service("svc-api", "api");
  f.fake.name_environment(kStaging, "staging");
  f.fake.set_webhook(receiver.url(), WebhookShape::current);
  const auto id = f.add("svc-api", kStaging, "BUILDING", kShaA);
  f.fake.set_status(id, "DEPLOYING");
  f.fake.set_status(id, "SUCCESS");
  f.fake.set_status(id, "CRASHED");
  run_on(f.ioc, [](FakeRailway& fake) -> asio::awaitable<bool> {
    co_await fake.flush_webhooks();
    co_return true;
  }(f.fake));
  REQUIRE(receiver.bodies().size() == 4);
  CHECK(f.fake.webhooks_delivered() == 4);
  std::vector<std::string> statuses;
  for (const auto& body : receiver.bodies()) {
    auto event = promoter::adapters::parse_railway_webhook(body);
    REQUIRE_MESSAGE(event.has_value(), event.error());
    CHECK(event->kind == promoter::adapters::RailwayWebhookEvent::Kind::deployment);
    CHECK(event->deployment_id == id);
    CHECK(event->service_name == "api");
    CHECK(event->environment_name == "staging");
    CHECK(event->commit_hash == kShaA);
    statuses.push_back(event->status);
  }
  CHECK(statuses == std::vector<std::string>{"BUILDING", "DEPLOYING", "SUCCESS", "CRASHED"});
  CHECK(receiver.bodies()[3].find("\"Deployment.crashed\"") != std::string::npos);

  // Older shape, sent by hand, each twice and shuffled.
  const auto deployment = *f.fake.deployment(id);
  std::vector<std::string> bodies = {f.fake.webhook_payload(deployment, WebhookShape::legacy),
                                     f.fake.webhook_payload(deployment, WebhookShape::current)};
  auto sent = FakeRailway::reordered(FakeRailway::duplicated(bodies), 7);
  CHECK(sent.size() == 4);
  auto results = run_on(f.ioc, f.fake.send_webhooks(receiver.url(), sent));
  REQUIRE(results.size() == 4);
  for (const auto& r : results) {
    REQUIRE(r.has_value());
    CHECK(*r == 204);
  }
  REQUIRE(receiver.bodies().size() == 8);
  int legacy = 0;
  for (std::size_t i = 4; i < 8; ++i) {
    auto event = promoter::adapters::parse_railway_webhook(receiver.bodies()[i]);
    REQUIRE(event.has_value());
    CHECK(event->status == "CRASHED");
    if (event->type == "DEPLOY") ++legacy;
  }
  CHECK(legacy == 2);
}

TEST_CASE("the fake answers malformed requests with errors and keeps serving") {
  Fixture f;
  f.add("svc-api", kStaging, "SUCCESS", kShaA);
  f.fake.set_variables(kStaging, {variable("A", std::nullopt, "a")});
  const std::vector<std::string> bodies = {
      "not json",
      R"({"query": 5})",
      R"({"query": "query {"})",
      R"({"query": "query { nope }"})",
      R"({"query": "query { environment(id: \"env-staging\") { variables(after: \"zz\") { edges { node { name } } } } }"})",
      R"({"query": "query { deployments(input: {status: {in: [1, 2]}}) { edges { node { id } } } }"})",
      R"({"query": "query { deployment(id: 7) { id } }"})",
      R"({"query": "mutation { serviceInstanceDeployV2(serviceId: \"s\", environmentId: \"e\") { id } }"})",
      R"({"query": "query A { deployment(id: \"x\") { id } } query B { deployment(id: \"y\") { id } }"})",
  };
  for (const auto& body : bodies) {
    CAPTURE(body);
    promoter::adapters::HttpRequestSpec spec;
    spec.method = promoter::adapters::HttpMethod::post;
    spec.url = f.fake.url();
    spec.body = body;
    spec.headers = {{"Authorization", "Bearer fake-railway-token"}, {"Content-Type", "application/json"}};
    auto answer = run_on(f.ioc, f.http->request(spec));
    REQUIRE_MESSAGE(answer.has_value(), answer.error().message);
    CHECK(answer->status < 500);
    CHECK(answer->body.find("\"errors\"") != std::string::npos);
  }
  auto still = run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5));
  REQUIRE(still.has_value());
  CHECK(still->size() == 1);
}

TEST_CASE("environment_variable_names answers names, service, times and isSealed, and never a value") {
  FakeRailwayOptions options;
  options.value_marker = "MARK-names-7f3a";
  Fixture f(options);
  auto sealed = variable("STRIPE_KEY", "svc-api", "sk_live_1");
  sealed.sealed = true;
  sealed.created_at = "2026-11-01T09:00:00.000Z";
  sealed.updated_at = "2026-11-20T10:30:00.500Z";
  f.fake.set_variables(kStaging, {variable("DATABASE_URL", std::nullopt, "postgres://u:p@h/db"), sealed});
  REQUIRE(f.fake.variables(kStaging)[0].value == "postgres://u:p@h/db-MARK-names-7f3a");

  auto names = run_on(f.ioc, f.client->environment_variable_names(kStaging));
  REQUIRE_MESSAGE(names.has_value(), names.error().message);
  REQUIRE(names->size() == 2);
  const auto& shared = (*names)[0];
  CHECK(shared.name == "DATABASE_URL");
  CHECK_FALSE(shared.service_id.has_value());
  CHECK(shared.created_at == f.fake.variables(kStaging)[0].created_at);
  CHECK(shared.updated_at == shared.created_at);
  CHECK_FALSE(shared.sealed);
  const auto& stripe = (*names)[1];
  CHECK(stripe.name == "STRIPE_KEY");
  CHECK(stripe.service_id == "svc-api");
  CHECK(stripe.created_at == "2026-11-01T09:00:00.000Z");
  CHECK(stripe.updated_at == "2026-11-20T10:30:00.500Z");
  CHECK(stripe.sealed);

  // What was asked for and what came back: no value, no marker, and not one read of the root query.
  const auto sent = f.fake.requests().back();
  CHECK(sent.operation == "EnvironmentVariableNames");
  for (const auto& n : *names) {
    const std::string everything =
        n.name + n.service_id.value_or("") + n.created_at.value_or("") + n.updated_at.value_or("");
    CHECK(everything.find("MARK-names-7f3a") == std::string::npos);
    CHECK(everything.find("sk_live_1") == std::string::npos);
  }
  const auto answer = post_graphql(f.ioc, *f.http, f.fake.url(),
                                   nlohmann::json{{"query", promoter::adapters::railway_documents()[4].second},
                                                  {"variables", {{"id", kStaging}, {"first", 100}}}}
                                       .dump());
  CHECK(answer.body.find("MARK-names-7f3a") == std::string::npos);
  CHECK(answer.body.find("\"isSealed\":true") != std::string::npos);
  CHECK(f.fake.value_reads() == 0);
}

TEST_CASE("an upsert keeps createdAt and moves updatedAt; a removal drops the name") {
  Fixture f;
  f.fake.upsert_variable(kProduction, variable("API_URL", "svc-api", "https://a"));
  f.fake.upsert_variable(kProduction, variable("API_URL", std::nullopt, "https://shared"));
  auto before = run_on(f.ioc, f.client->environment_variable_names(kProduction));
  REQUIRE_MESSAGE(before.has_value(), before.error().message);
  REQUIRE(before->size() == 2);

  f.fake.upsert_variable(kProduction, variable("API_URL", "svc-api", "https://b"));
  auto after = run_on(f.ioc, f.client->environment_variable_names(kProduction));
  REQUIRE_MESSAGE(after.has_value(), after.error().message);
  REQUIRE(after->size() == 2);
  CHECK((*after)[0].service_id == "svc-api");
  CHECK((*after)[0].created_at == (*before)[0].created_at);
  REQUIRE((*after)[0].updated_at.has_value());
  const auto moved = promoter::core::parse_timestamp(*(*after)[0].updated_at);
  const auto was = promoter::core::parse_timestamp(*(*before)[0].updated_at);
  REQUIRE(moved.has_value());
  REQUIRE(was.has_value());
  CHECK(*moved > *was);
  CHECK((*after)[1].updated_at == (*before)[1].updated_at);  // the shared one did not change

  CHECK(f.fake.remove_variable(kProduction, "svc-api", "API_URL"));
  CHECK_FALSE(f.fake.remove_variable(kProduction, "svc-api", "API_URL"));
  auto removed = run_on(f.ioc, f.client->environment_variable_names(kProduction));
  REQUIRE(removed.has_value());
  REQUIRE(removed->size() == 1);
  CHECK_FALSE((*removed)[0].service_id.has_value());
  CHECK(f.fake.value_reads() == 0);
}

TEST_CASE("the fake answers Railway's root variables query with values, and counts every such read") {
  FakeRailwayOptions options;
  options.value_marker = "MARK-root-19c2";
  Fixture f(options);
  f.fake.set_variables(kStaging, {variable("SHARED", std::nullopt, "s"), variable("ONLY_API", "svc-api", "a"),
                                  variable("SHARED", "svc-api", "override")});
  const std::string query =
      "query V($p: String!, $e: String!, $s: String) { variables(projectId: $p, environmentId: $e, serviceId: $s) }";
  const auto answer = post_graphql(
      f.ioc, *f.http, f.fake.url(),
      nlohmann::json{{"query", query}, {"variables", {{"p", kProject}, {"e", kStaging}, {"s", "svc-api"}}}}.dump());
  const auto body = nlohmann::json::parse(answer.body);
  INFO(answer.body);
  CHECK(body["data"]["variables"] ==
        nlohmann::json{{"SHARED", "override-MARK-root-19c2"}, {"ONLY_API", "a-MARK-root-19c2"}});
  CHECK(f.fake.value_reads() == 1);
  const auto shared_only = post_graphql(
      f.ioc, *f.http, f.fake.url(),
      nlohmann::json{{"query", query}, {"variables", {{"p", kProject}, {"e", kStaging}, {"s", nullptr}}}}.dump());
  CHECK(nlohmann::json::parse(shared_only.body)["data"]["variables"] == nlohmann::json{{"SHARED", "s-MARK-root-19c2"}});
  CHECK(f.fake.value_reads() == 2);

  // Every call the client can make leaves the count where it is.
  const auto reads = f.fake.value_reads();
  f.add("svc-api", kStaging, "SUCCESS", kShaA);
  CHECK(run_on(f.ioc, f.client->environment_variable_names(kStaging)).has_value());
  CHECK(run_on(f.ioc, f.client->list_deployments(kProject, kStaging, "svc-api", 5)).has_value());
  CHECK(run_on(f.ioc, f.client->list_deployments_batch(kStaging, kProject, {"svc-api", "svc-worker"}, 5)).has_value());
  CHECK(run_on(f.ioc, f.client->find_deployment("nope")).has_value());
  CHECK(run_on(f.ioc, f.client->deploy_commit("svc-api", kStaging, kShaB)).has_value());
  CHECK(f.fake.value_reads() == reads);
}

TEST_CASE("the fake keeps variables, values and times across a state round trip, and serves admin routes") {
  FakeRailwayOptions options;
  options.value_marker = "MARK-state";
  options.admin_routes = true;
  Fixture f(options);
  const auto admin = [&](promoter::adapters::HttpMethod method, const std::string& target, const std::string& body) {
    promoter::adapters::HttpRequestSpec spec;
    spec.method = method;
    spec.url = "http://127.0.0.1:" + std::to_string(f.fake.port()) + target;
    spec.body = body;
    spec.headers = {{"Content-Type", "application/json"}};
    auto answer = run_on(f.ioc, f.http->request(spec));
    REQUIRE_MESSAGE(answer.has_value(), answer.error().message);
    return *answer;
  };
  using promoter::adapters::HttpMethod;
  CHECK(admin(HttpMethod::post, "/_fake/variables",
              R"({"environment_id": "env-staging", "service_id": null, "name": "A", "value": "1"})")
            .status == 200);
  CHECK(admin(HttpMethod::post, "/_fake/variables",
              R"({"environment_id": "env-staging", "service_id": "svc-api", "name": "B", "value": "2"})")
            .status == 200);
  CHECK(admin(HttpMethod::delete_, "/_fake/variables",
              R"({"environment_id": "env-staging", "service_id": null, "name": "A"})")
            .status == 200);
  CHECK(admin(HttpMethod::delete_, "/_fake/variables",
              R"({"environment_id": "env-staging", "service_id": null, "name": "A"})")
            .status == 404);
  CHECK(admin(HttpMethod::post, "/_fake/variables", R"({"name": "A"})").status == 400);
  CHECK(nlohmann::json::parse(admin(HttpMethod::get, "/_fake/value-reads", "").body) ==
        nlohmann::json{{"value_reads", 0}});
  CHECK(f.fake.total_requests() == 0);  // admin routes are not counted

  const auto state = f.fake.state_json();
  asio::io_context other_ioc;
  FakeRailway other(other_ioc.get_executor(), options);
  REQUIRE(other.load_state_json(state).has_value());
  const auto loaded = other.variables(kStaging);
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0].name == "B");
  CHECK(loaded[0].service_id == "svc-api");
  CHECK(loaded[0].value == "2-MARK-state");  // stored as it was, not marked twice
  CHECK(loaded[0].created_at == f.fake.variables(kStaging)[0].created_at);
}
