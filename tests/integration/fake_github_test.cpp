// Wire facts of FakeGitHub itself (the GitHub client's own tests run against it): Link paging walks every item
// once, a 304 costs no rate limit, secondary limits carry retry-after, webhooks verify with an HMAC computed
// here, and a request without the token is refused.

#include <utility>

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "adapters/http_client.hpp"
#include "tests/fakes/fake_github.hpp"
#include "tests/fakes/http_receiver.hpp"
#include "tests/support/run_on.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using nlohmann::json;
using promoter::adapters::HttpClient;
using promoter::adapters::HttpClientOptions;
using promoter::adapters::HttpMethod;
using promoter::adapters::HttpRequestSpec;
using promoter::adapters::HttpResult;
using promoter::fakes::FakeCheckRun;
using promoter::fakes::FakeFile;
using promoter::fakes::FakeGitHub;
using promoter::fakes::FakeGitHubOptions;
using promoter::fakes::FakePull;
using promoter::fakes::FakeReview;
using promoter::fakes::HttpReceiver;
using promoter::testing::run_on;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Fixture {
  explicit Fixture(FakeGitHubOptions options = {}) : fake(ioc.get_executor(), std::move(options)) {
    fake.start();
    HttpClientOptions o;
    o.connect_timeout = 2s;
    o.request_timeout = 5s;
    o.retry.max_attempts = 1;  // the test sees every answer as the fake gave it
    http.emplace(ioc.get_executor(), o);
  }

  // One request; `auth` false sends no Authorization header.
  HttpResult call(HttpMethod method, const std::string& path_and_query, Headers headers = {}, bool auth = true,
                  std::string body = {}) {
    HttpRequestSpec spec;
    spec.method = method;
    spec.url = path_and_query.starts_with("http") ? path_and_query : fake.url() + path_and_query;
    spec.headers = std::move(headers);
    spec.headers.emplace_back("Accept", "application/vnd.github+json");
    if (auth) spec.headers.emplace_back("Authorization", "Bearer fake-github-token");
    spec.body = std::move(body);
    auto result = run_on(ioc, http->request(std::move(spec)));
    REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error().message));
    return *result;
  }
  HttpResult get(const std::string& path, Headers headers = {}, bool auth = true) {
    return call(HttpMethod::get, path, std::move(headers), auth);
  }

  asio::io_context ioc;
  FakeGitHub fake;
  std::optional<HttpClient> http;
};

// The URL of rel="next" in a Link header, if any.
std::optional<std::string> next_link(const HttpResult& result) {
  const auto it = result.headers.find("link");
  if (it == result.headers.end()) return std::nullopt;
  const auto& link = it->second;
  const auto rel = link.find("rel=\"next\"");
  if (rel == std::string::npos) return std::nullopt;
  const auto open = link.rfind('<', rel);
  const auto close = link.find('>', open);
  return link.substr(open + 1, close - open - 1);
}

std::string hmac_sha256_hex(const std::string& key, const std::string& body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), out, &size);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[out[i] >> 4];
    hex += kHex[out[i] & 0xf];
  }
  return hex;
}

const std::string kRepo = "/repos/acme/monorepo";

asio::awaitable<int> flushed(FakeGitHub& fake) {
  co_await fake.flush_webhooks();
  co_return 0;
}

}  // namespace

TEST_CASE("Link headers page through a pull request's files, each file exactly once") {
  Fixture f;
  FakePull pull;
  pull.author = {7, "alice"};
  pull.head_sha = f.fake.push_commit();
  for (int i = 0; i < 7; ++i) {
    FakeFile file;
    file.filename = "migrations/" + std::to_string(i) + ".sql";
    pull.files.push_back(file);
  }
  const int number = f.fake.add_pull(pull);

  std::vector<std::string> seen;
  std::optional<std::string> next = kRepo + "/pulls/" + std::to_string(number) + "/files?per_page=3";
  int pages = 0;
  HttpResult last;
  while (next && pages < 10) {
    last = f.get(*next);
    REQUIRE(last.status == 200);
    const auto page = json::parse(last.body);
    for (const auto& file : page) seen.push_back(file["filename"].get<std::string>());
    next = next_link(last);
    ++pages;
  }
  CHECK(pages == 3);
  REQUIRE(seen.size() == 7);
  for (int i = 0; i < 7; ++i) CHECK(seen[static_cast<std::size_t>(i)] == "migrations/" + std::to_string(i) + ".sql");
  CHECK(last.headers["link"].find("rel=\"prev\"") != std::string::npos);
  CHECK(last.headers["link"].find("rel=\"first\"") != std::string::npos);
}

TEST_CASE("compare pages its commits oldest first and says how head relates to base") {
  Fixture f;
  const auto base = f.fake.push_commit();
  std::vector<std::string> pushed;
  for (int i = 0; i < 5; ++i) pushed.push_back(f.fake.push_commit({}, "change " + std::to_string(i)));
  f.fake.set_per_page_cap(2);

  std::vector<std::string> seen;
  std::optional<std::string> next = kRepo + "/compare/" + base + "..." + pushed.back();
  int pages = 0;
  while (next && pages < 10) {
    const auto result = f.get(*next);
    REQUIRE(result.status == 200);
    const auto body = json::parse(result.body);
    CHECK(body["status"] == "ahead");
    CHECK(body["ahead_by"] == 5);
    CHECK(body["total_commits"] == 5);
    for (const auto& c : body["commits"]) seen.push_back(c["sha"].get<std::string>());
    next = next_link(result);
    ++pages;
  }
  CHECK(pages == 3);
  CHECK(seen == pushed);

  const auto side = f.fake.branch_commit(pushed[1]);
  const auto diverged = json::parse(f.get(kRepo + "/compare/" + pushed.back() + "..." + side).body);
  CHECK(diverged["status"] == "diverged");
  CHECK(diverged["ahead_by"] == 1);
  CHECK(diverged["behind_by"] == 3);
  CHECK(diverged["merge_base_commit"]["sha"] == pushed[1]);
  CHECK(f.get(kRepo + "/compare/" + base + "...0000000000000000000000000000000000000000").status == 404);
}

TEST_CASE("a 304 answer to If-None-Match costs no rate limit") {
  Fixture f;
  FakePull pull;
  pull.author = {7, "alice"};
  pull.head_sha = f.fake.push_commit();
  const int number = f.fake.add_pull(pull);
  const auto path = kRepo + "/pulls/" + std::to_string(number) + "/reviews";

  const auto first = f.get(path);
  REQUIRE(first.status == 200);
  const auto etag = first.headers.at("etag");
  CHECK(etag.starts_with("\""));
  const auto remaining = std::stol(first.headers.at("x-ratelimit-remaining"));
  CHECK(remaining == 4999);
  CHECK(first.headers.at("x-ratelimit-used") == "1");
  CHECK(first.headers.at("x-ratelimit-resource") == "core");

  const auto again = f.get(path, {{"If-None-Match", "W/" + etag}});  // GitHub's weak form matches too
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  CHECK(std::stol(again.headers.at("x-ratelimit-remaining")) == remaining);
  CHECK(f.fake.rate_remaining() == remaining);
  CHECK(f.fake.not_modified_count() == 1);
  REQUIRE(!f.fake.requests().empty());
  CHECK(f.fake.requests().back().conditional);
  CHECK(f.fake.requests().back().status == 304);

  FakeReview review;
  review.user = {8, "bob"};
  review.state = "APPROVED";
  f.fake.add_review(number, review);
  const auto changed = f.get(path, {{"If-None-Match", etag}});
  CHECK(changed.status == 200);
  CHECK(changed.headers.at("etag") != etag);
  CHECK(f.fake.rate_remaining() == remaining - 1);
  CHECK(f.get("/rate_limit").status == 200);
  CHECK(f.fake.rate_remaining() == remaining - 1);  // /rate_limit is free
}

TEST_CASE("a secondary rate limit answers with retry-after for the next requests only") {
  Fixture f;
  const auto sha = f.fake.push_commit();
  FakeCheckRun run;
  run.name = "test";
  f.fake.set_check_run(sha, run);
  f.fake.secondary_rate_limit_next(2, 7, 429);
  const auto path = kRepo + "/commits/" + sha + "/check-runs";
  for (int i = 0; i < 2; ++i) {
    const auto limited = f.get(path);
    CHECK(limited.status == 429);
    CHECK(limited.headers.at("retry-after") == "7");
    CHECK(json::parse(limited.body)["message"].get<std::string>().find("secondary rate limit") != std::string::npos);
  }
  const auto fine = f.get(path);
  CHECK(fine.status == 200);
  CHECK(json::parse(fine.body)["check_runs"][0]["name"] == "test");
}

TEST_CASE("without the token the answer is 401 Bad credentials; `token` works like `Bearer`") {
  Fixture f;
  const auto refused = f.get("/rate_limit", {}, false);
  CHECK(refused.status == 401);
  CHECK(json::parse(refused.body)["message"] == "Bad credentials");
  CHECK(f.get("/rate_limit", {{"Authorization", "Bearer wrong"}}, false).status == 401);
  CHECK(f.get("/rate_limit", {{"Authorization", "token fake-github-token"}}, false).status == 200);
  CHECK(f.get(kRepo + "/pulls/1").status == 404);
}

TEST_CASE("a tag is created once; the second create is 422 Reference already exists") {
  Fixture f;
  const auto sha = f.fake.push_commit();
  const json body = {{"ref", "refs/tags/prod-1"}, {"sha", sha}};
  const auto created = f.call(HttpMethod::post, kRepo + "/git/refs", {}, true, body.dump());
  CHECK(created.status == 201);
  CHECK(json::parse(created.body)["object"]["sha"] == sha);
  CHECK(f.fake.tag("prod-1") == sha);
  const auto again = f.call(HttpMethod::post, kRepo + "/git/refs", {}, true, body.dump());
  CHECK(again.status == 422);
  CHECK(json::parse(again.body)["message"] == "Reference already exists");
  CHECK(json::parse(f.get(kRepo + "/compare/prod-1..." + sha).body)["status"] == "identical");
}

TEST_CASE("webhooks carry X-Hub-Signature-256 that verifies with the shared secret") {
  FakeGitHubOptions options;
  options.webhook_secret = "s3cret";
  Fixture f(options);
  HttpReceiver receiver(f.ioc.get_executor());
  receiver.start();
  f.fake.set_webhook(receiver.url("/webhooks/github"));

  FakePull pull;
  pull.author = {7, "alice"};
  pull.head_sha = f.fake.push_commit();
  const int number = f.fake.add_pull(pull);
  FakeReview review;
  review.user = {8, "bob"};
  review.state = "APPROVED";
  f.fake.add_review(number, review);
  run_on(f.ioc, flushed(f.fake));
  CHECK(f.fake.webhooks_delivered() == 1);

  auto received = receiver.requests();
  REQUIRE(received.size() == 1);
  const auto& hook = received[0];
  CHECK(hook.headers.at("x-github-event") == "pull_request_review");
  CHECK(hook.headers.at("x-github-delivery").size() == 36);
  CHECK(hook.headers.at("x-hub-signature-256") == "sha256=" + hmac_sha256_hex("s3cret", hook.body));
  CHECK(hook.headers.at("user-agent").starts_with("GitHub-Hookshot/"));
  const auto payload = json::parse(hook.body);
  CHECK(payload["action"] == "submitted");
  CHECK(payload["review"]["state"] == "approved");
  CHECK(payload["review"]["user"]["id"] == 8);
  CHECK(payload["pull_request"]["number"] == number);
  CHECK(payload["repository"]["full_name"] == "acme/monorepo");

  // deliver(): a chosen delivery id and a forged signature go out as given.
  const auto status = run_on(f.ioc, f.fake.deliver(receiver.url("/webhooks/github"), "status", json{{"sha", "x"}},
                                                   "dup-1", std::string("sha256=forged")));
  REQUIRE(status.has_value());
  received = receiver.requests();
  REQUIRE(received.size() == 2);
  CHECK(received[1].headers.at("x-github-delivery") == "dup-1");
  CHECK(received[1].headers.at("x-hub-signature-256") == "sha256=forged");
  receiver.stop();
}

TEST_CASE("state_json and load_state_json round-trip the repository") {
  Fixture f;
  const auto base = f.fake.push_commit();
  const auto head = f.fake.push_commit({}, "second");
  f.fake.branch_commit(base);
  FakePull pull;
  pull.author = {7, "alice"};
  pull.head_sha = head;
  pull.commits = {head};
  FakeFile file;
  file.filename = "a.sql";
  file.patch = "+create table t ();";
  pull.files = {file};
  const int number = f.fake.add_pull(pull);
  FakeReview review;
  review.user = {8, "bob"};
  review.state = "APPROVED";
  f.fake.add_review(number, review);
  f.fake.merge_pull(number, f.fake.push_commit());
  FakeCheckRun run;
  run.name = "test";
  f.fake.set_check_run(head, run);
  f.fake.add_team_member("release", {8, "bob"});
  const auto saved = f.fake.state_json();

  Fixture g;
  REQUIRE(g.fake.load_state_json(saved).has_value());
  CHECK(g.fake.state_json() == saved);
  CHECK(json::parse(g.get(kRepo + "/compare/" + base + "..." + head).body)["ahead_by"] == 1);
  CHECK(g.get("/orgs/acme/teams/release/memberships/BOB").status == 200);
  CHECK(g.get("/orgs/acme/teams/release/memberships/carol").status == 404);
  CHECK(!g.fake.load_state_json(json{{"version", 2}}).has_value());
}
