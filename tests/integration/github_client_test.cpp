// GitHubClient against FakeGitHub on 127.0.0.1 (port chosen at run time), and against HttpReceiver for what
// the fake cannot be made to do (headers as sent, a Link to another origin, endless paging). Time is a fake
// wall clock shared by the fake and the client, moved only by the injected sleepers: no test waits.
#include <utility>

#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/github_client.hpp"
#include "adapters/http_client.hpp"
#include "adapters/token_budget.hpp"
#include "core/time.hpp"
#include "tests/fakes/fake_github.hpp"
#include "tests/fakes/http_receiver.hpp"
#include "tests/support/run_on.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using promoter::adapters::GitHubCall;
using promoter::adapters::GitHubClient;
using promoter::adapters::GitHubClientOptions;
using promoter::adapters::HttpClient;
using promoter::adapters::HttpClientOptions;
using promoter::adapters::TagResult;
using promoter::adapters::TokenBudget;
using promoter::core::CheckSource;
using promoter::core::ReviewState;
using promoter::fakes::FakeCheckRun;
using promoter::fakes::FakeFile;
using promoter::fakes::FakeGitHub;
using promoter::fakes::FakeGitHubOptions;
using promoter::fakes::FakePull;
using promoter::fakes::FakeReview;
using promoter::fakes::FakeStatus;
using promoter::fakes::HttpReceiver;
using promoter::testing::run_on;
using SystemClock = std::chrono::system_clock;

namespace {

const std::string kToken = "fake-github-token";

SystemClock::time_point start_time() { return promoter::core::parse_timestamp("2026-12-02T10:00:00Z").value(); }

struct Call {
  std::string operation;
  int status = 0;
  std::optional<long> rate_remaining;
};

// The wall clock of the fake and the client, and what the client waited for on it.
struct Clock {
  SystemClock::time_point now = start_time();
  std::vector<std::chrono::milliseconds> waits;
};

HttpClientOptions http_options() {
  HttpClientOptions options;
  options.connect_timeout = 2s;
  options.request_timeout = 5s;
  options.retry.max_attempts = 3;
  options.retry.base_backoff = 1ms;
  options.retry.max_backoff = 2ms;
  options.jitter = [] { return 0.0; };
  options.sleeper = [](std::chrono::milliseconds) -> asio::awaitable<void> { co_return; };
  return options;
}

// A client of `endpoint` whose back-offs wait on `clock` (no budget: the client's own sleeper).
GitHubClientOptions client_options(std::string endpoint, std::shared_ptr<Clock> clock,
                                   std::shared_ptr<std::vector<Call>> calls, std::string token = kToken) {
  GitHubClientOptions options;
  options.endpoint = std::move(endpoint);
  options.owner = "acme";
  options.repo = "monorepo";
  options.token = std::move(token);
  options.now = [clock] { return clock->now; };
  options.sleeper = [clock](std::chrono::milliseconds d) -> asio::awaitable<void> {
    clock->waits.push_back(d);
    clock->now += d;
    co_return;
  };
  options.observer = [calls](const GitHubCall& call) {
    calls->push_back(Call{std::string(call.operation), call.status, call.rate_remaining});
  };
  return options;
}

struct Fixture {
  explicit Fixture(FakeGitHubOptions fake_options = {}) : fake(ioc.get_executor(), with_clock(fake_options)) {
    fake.start();
    http.emplace(ioc.get_executor(), http_options());
    client.emplace(*http, client_options(fake.url(), clock, calls));
  }

  FakeGitHubOptions with_clock(FakeGitHubOptions options) {
    options.now = [clock = clock] { return clock->now; };
    return options;
  }

  int count(std::string_view operation, int status) const {
    int n = 0;
    for (const auto& c : *calls) n += c.operation == operation && c.status == status;
    return n;
  }

  std::shared_ptr<Clock> clock = std::make_shared<Clock>();
  std::shared_ptr<std::vector<Call>> calls = std::make_shared<std::vector<Call>>();
  asio::io_context ioc;
  FakeGitHub fake;
  std::optional<HttpClient> http;
  std::optional<GitHubClient> client;
};

// A pull request with `reviews` reviews by different users, head `head`.
int pull_with_reviews(FakeGitHub& fake, const std::string& head, int reviews) {
  FakePull pull;
  pull.author = {100, "dev"};
  pull.head_sha = head;
  const int number = fake.add_pull(pull);
  for (int i = 0; i < reviews; ++i) {
    FakeReview review;
    review.user = {200 + i, "reviewer" + std::to_string(i)};
    review.state = "APPROVED";
    fake.add_review(number, review);
  }
  return number;
}

}  // namespace

TEST_CASE("compare and reviews page through every Link rel=next, oldest commit first") {
  Fixture f;
  const auto base = f.fake.push_commit();
  std::vector<std::string> range;
  for (int i = 0; i < 7; ++i) range.push_back(f.fake.push_commit());
  const int number = pull_with_reviews(f.fake, range.back(), 5);
  f.fake.set_per_page_cap(2);

  auto commits = run_on(f.ioc, f.client->compare(base, range.back()));
  REQUIRE_MESSAGE(commits.has_value(), commits.error().message);
  CHECK(*commits == range);
  CHECK(f.count("compare", 200) == 4);  // 7 commits, 2 a page
  for (const auto& request : f.fake.requests()) {
    if (request.target.find("/compare/") != std::string::npos)
      CHECK(request.target.find("per_page=") != std::string::npos);
  }

  auto reviews = run_on(f.ioc, f.client->pull_reviews(number));
  REQUIRE_MESSAGE(reviews.has_value(), reviews.error().message);
  CHECK(reviews->size() == 5);
  CHECK(f.count("pull.reviews", 200) == 3);

  auto status = run_on(f.ioc, f.client->compare_status(base, range.back()));
  REQUIRE_MESSAGE(status.has_value(), status.error().message);
  CHECK(*status == "ahead");
  auto behind = run_on(f.ioc, f.client->compare_status(range.back(), base));
  REQUIRE_MESSAGE(behind.has_value(), behind.error().message);
  CHECK(*behind == "behind");
}

TEST_CASE("a repeated GET is answered 304 from the cache, reported as 304, and costs no rate limit") {
  Fixture f;
  const auto head = f.fake.push_commit();
  const int number = pull_with_reviews(f.fake, head, 3);
  f.fake.set_per_page_cap(2);

  auto first = run_on(f.ioc, f.client->pull_reviews(number));
  REQUIRE_MESSAGE(first.has_value(), first.error().message);
  CHECK(f.count("pull.reviews", 200) == 2);
  CHECK(f.client->cached_answers() == 2);
  const long remaining = f.fake.rate_remaining();
  REQUIRE(f.calls->back().rate_remaining == remaining);

  auto second = run_on(f.ioc, f.client->pull_reviews(number));
  REQUIRE_MESSAGE(second.has_value(), second.error().message);
  CHECK(*second == *first);
  CHECK(f.count("pull.reviews", 304) == 2);  // both pages, the Link of the first kept in the cache
  CHECK(f.fake.not_modified_count() == 2);
  CHECK(f.fake.rate_remaining() == remaining);
  CHECK(f.calls->back().rate_remaining == remaining);

  // A change is seen: the ETag no longer matches.
  FakeReview late;
  late.user = {300, "late"};
  late.state = "CHANGES_REQUESTED";
  f.fake.add_review(number, late);
  auto third = run_on(f.ioc, f.client->pull_reviews(number));
  REQUIRE_MESSAGE(third.has_value(), third.error().message);
  CHECK(third->size() == 4);
}

TEST_CASE("the ETag cache keeps at most etag_cache_entries answers, dropping the least recently used") {
  Fixture f;
  const auto head = f.fake.push_commit();
  std::vector<int> pulls;
  for (int i = 0; i < 3; ++i) pulls.push_back(pull_with_reviews(f.fake, head, 1));
  auto options = client_options(f.fake.url(), f.clock, f.calls);
  options.etag_cache_entries = 2;
  GitHubClient small(*f.http, options);
  for (const int n : pulls) REQUIRE(run_on(f.ioc, small.pull_reviews(n)).has_value());
  CHECK(small.cached_answers() == 2);
  REQUIRE(run_on(f.ioc, small.pull_reviews(pulls[2])).has_value());  // still cached
  REQUIRE(run_on(f.ioc, small.pull_reviews(pulls[0])).has_value());  // dropped: a full answer again
  CHECK(f.count("pull.reviews", 304) == 1);
  CHECK(f.count("pull.reviews", 200) == 4);
}

TEST_CASE("a secondary rate limit (403 + retry-after) backs the token off that long, then the request succeeds") {
  Fixture f;
  const auto head = f.fake.push_commit();
  const int number = pull_with_reviews(f.fake, head, 1);

  SUBCASE("without a budget: the client's sleeper waits") {
    f.fake.secondary_rate_limit_next(1, 7);
    auto reviews = run_on(f.ioc, f.client->pull_reviews(number));
    REQUIRE_MESSAGE(reviews.has_value(), reviews.error().message);
    CHECK(f.clock->waits == std::vector<std::chrono::milliseconds>{7s});
    CHECK(f.count("pull.reviews", 403) == 1);
    CHECK(f.count("pull.reviews", 200) == 1);
  }
  SUBCASE("with a budget: every request of the token waits in acquire(), also a 429 HttpClient leaves to us") {
    auto steady = std::make_shared<TokenBudget::Clock::time_point>(std::chrono::hours(1000));
    auto budget_waits = std::make_shared<std::vector<std::chrono::milliseconds>>();
    TokenBudget::Options budget_options;
    budget_options.provider = "github";
    budget_options.label = "github";
    budget_options.requests_per_hour = 5000;
    budget_options.now = [steady] { return *steady; };
    budget_options.sleep = [steady, budget_waits](std::chrono::milliseconds d) -> asio::awaitable<void> {
      budget_waits->push_back(d);
      *steady += d;
      co_return;
    };
    auto options = client_options(f.fake.url(), f.clock, f.calls);
    options.budget = std::make_shared<TokenBudget>(budget_options);
    GitHubClient budgeted(*f.http, options);

    f.fake.secondary_rate_limit_next(1, 7);
    auto reviews = run_on(f.ioc, budgeted.pull_reviews(number));
    REQUIRE_MESSAGE(reviews.has_value(), reviews.error().message);
    CHECK(*budget_waits == std::vector<std::chrono::milliseconds>{7s});

    f.fake.secondary_rate_limit_next(1, 5, 429);
    auto files = run_on(f.ioc, budgeted.pull_files(number));
    REQUIRE_MESSAGE(files.has_value(), files.error().message);
    CHECK(*budget_waits == std::vector<std::chrono::milliseconds>{7s, 5s});
    CHECK(f.count("pull.files", 429) == 1);  // HttpClient did not retry it on its own
    CHECK(f.count("pull.files", 200) == 1);
    CHECK(f.clock->waits.empty());  // the budget waited, not the sleeper
  }
}

TEST_CASE("a secondary limit that persists is an error after secondary_limit_retries tries") {
  Fixture f;
  const auto head = f.fake.push_commit();
  const int number = pull_with_reviews(f.fake, head, 1);
  f.fake.secondary_rate_limit_next(10, 2);
  auto reviews = run_on(f.ioc, f.client->pull_reviews(number));
  REQUIRE_FALSE(reviews.has_value());
  CHECK(reviews.error().http_status == 403);
  CHECK(reviews.error().message.find("secondary rate limit") != std::string::npos);
  CHECK(reviews.error().message.find("gave up after 4 tries") != std::string::npos);
  CHECK(f.count("pull.reviews", 403) == 4);  // the first try and 3 retries
  CHECK(reviews.error().message.find(kToken) == std::string::npos);
}

TEST_CASE("a spent primary limit backs off until x-ratelimit-reset, whether GitHub says so on a 200 or a 403") {
  FakeGitHubOptions fake_options;
  fake_options.rate_limit = 2;
  Fixture f(fake_options);
  const auto head = f.fake.push_commit();
  const int number = pull_with_reviews(f.fake, head, 1);

  // The second answer says remaining 0: the next request waits for the reset (an hour after the first).
  REQUIRE(run_on(f.ioc, f.client->pull_files(number)).has_value());
  REQUIRE(run_on(f.ioc, f.client->pull_reviews(number)).has_value());
  CHECK(f.calls->back().rate_remaining == 0L);
  CHECK(f.clock->waits.empty());
  auto after_reset = run_on(f.ioc, f.client->checks(head));
  REQUIRE_MESSAGE(after_reset.has_value(), after_reset.error().message);
  CHECK(f.clock->waits == std::vector<std::chrono::milliseconds>{3600s});

  // checks() spent the new window (remaining 0 again). Another client of the token, which did not see that,
  // learns it from GitHub's 403 and waits for the reset too, then gets its answer.
  auto other_calls = std::make_shared<std::vector<Call>>();
  GitHubClient other(*f.http, client_options(f.fake.url(), f.clock, other_calls));
  auto limited = run_on(f.ioc, other.pull_reviews(number));
  REQUIRE_MESSAGE(limited.has_value(), limited.error().message);
  CHECK(f.clock->waits == std::vector<std::chrono::milliseconds>{3600s, 3600s});
  REQUIRE(other_calls->size() == 2);
  CHECK((*other_calls)[0].status == 403);
  CHECK((*other_calls)[0].rate_remaining == 0L);
  CHECK((*other_calls)[1].status == 200);
}

TEST_CASE("create_tag: created, already there on the same commit, an error on another commit") {
  Fixture f;
  const auto first = f.fake.push_commit();
  const auto second = f.fake.push_commit();
  auto created = run_on(f.ioc, f.client->create_tag("prod/2026-12-02.1", first));
  REQUIRE_MESSAGE(created.has_value(), created.error().message);
  CHECK(*created == TagResult::created);
  CHECK(f.fake.tag("prod/2026-12-02.1") == first);

  auto again = run_on(f.ioc, f.client->create_tag("prod/2026-12-02.1", first));
  REQUIRE_MESSAGE(again.has_value(), again.error().message);
  CHECK(*again == TagResult::already_there);

  auto elsewhere = run_on(f.ioc, f.client->create_tag("prod/2026-12-02.1", second));
  REQUIRE_FALSE(elsewhere.has_value());
  CHECK(elsewhere.error().http_status == 422);
  CHECK(elsewhere.error().message.find("already exists on another commit") != std::string::npos);
  CHECK(f.fake.tag("prod/2026-12-02.1") == first);

  auto unknown = run_on(f.ioc, f.client->create_tag("v9", std::string(40, 'e')));
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().message == "GitHub POST /repos/acme/monorepo/git/refs answered 422: Object does not exist");
  auto short_sha = run_on(f.ioc, f.client->create_tag("v9", first.substr(0, 7)));
  REQUIRE_FALSE(short_sha.has_value());
  CHECK(f.count("refs.create", 201) == 1);
  CHECK(f.count("refs.create", 422) == 3);  // the short SHA never left
}

TEST_CASE("team_member: an active member is true, anyone else (404) false") {
  Fixture f;
  f.fake.add_team_member("reviewers", {42, "alice"});
  auto alice = run_on(f.ioc, f.client->team_member("acme", "reviewers", "alice"));
  REQUIRE_MESSAGE(alice.has_value(), alice.error().message);
  CHECK(*alice);
  auto bob = run_on(f.ioc, f.client->team_member("acme", "reviewers", "bob"));
  REQUIRE_MESSAGE(bob.has_value(), bob.error().message);
  CHECK_FALSE(*bob);
  auto no_team = run_on(f.ioc, f.client->team_member("acme", "nobody", "alice"));
  REQUIRE_MESSAGE(no_team.has_value(), no_team.error().message);
  CHECK_FALSE(*no_team);
  CHECK(f.count("team.membership", 404) == 2);
}

TEST_CASE("reviews, files, pulls and checks map to the contract types") {
  Fixture f;
  const auto head = f.fake.push_commit();
  FakePull pull;
  pull.author = {100, "dev"};
  pull.head_sha = head;
  pull.commits = {head};
  pull.body = "";
  pull.files = {FakeFile{"db/migrations/001.sql", "added", std::string("@@ -0,0 +1 @@\n+create table t (id int);")},
                FakeFile{"assets/logo.png", "modified", std::nullopt}};
  const int number = f.fake.add_pull(pull);
  FakeReview approve;
  approve.user = {200, "alice"};
  approve.state = "APPROVED";
  approve.submitted_at = "2026-12-02T09:00:00Z";
  const auto approve_id = f.fake.add_review(number, approve);
  FakeReview pending;
  pending.user = {201, "bob"};
  pending.state = "PENDING";
  f.fake.add_review(number, pending);

  auto reviews = run_on(f.ioc, f.client->pull_reviews(number));
  REQUIRE_MESSAGE(reviews.has_value(), reviews.error().message);
  REQUIRE(reviews->size() == 2);
  CHECK((*reviews)[0].id == approve_id);
  CHECK((*reviews)[0].user == promoter::core::GitHubUser{200, "alice"});
  CHECK((*reviews)[0].state == ReviewState::approved);
  CHECK((*reviews)[0].commit_id == head);
  CHECK((*reviews)[0].submitted_at == promoter::core::parse_timestamp("2026-12-02T09:00:00Z").value());
  CHECK((*reviews)[1].state == ReviewState::pending);
  CHECK((*reviews)[1].submitted_at == promoter::core::Timestamp{});

  auto files = run_on(f.ioc, f.client->pull_files(number));
  REQUIRE_MESSAGE(files.has_value(), files.error().message);
  REQUIRE(files->size() == 2);
  CHECK((*files)[0].filename == "db/migrations/001.sql");
  CHECK((*files)[0].status == "added");
  CHECK((*files)[0].patch == "@@ -0,0 +1 @@\n+create table t (id int);");
  CHECK_FALSE((*files)[1].patch.has_value());

  auto pulls = run_on(f.ioc, f.client->commit_pulls(head));
  REQUIRE_MESSAGE(pulls.has_value(), pulls.error().message);
  REQUIRE(pulls->size() == 1);
  CHECK((*pulls)[0].number == number);
  CHECK((*pulls)[0].author == promoter::core::GitHubUser{100, "dev"});
  CHECK((*pulls)[0].state == "open");
  CHECK_FALSE((*pulls)[0].merged);
  CHECK((*pulls)[0].base_ref == "main");
  CHECK((*pulls)[0].head_sha == head);
  CHECK((*pulls)[0].body.empty());
  CHECK((*pulls)[0].url.ends_with("/pull/" + std::to_string(number)));

  FakeCheckRun unit;
  unit.name = "unit";
  unit.title = "Tests";
  unit.summary = "412 passed, 3 failed";
  unit.text = "details";
  unit.conclusion = "failure";
  f.fake.set_check_run(head, unit);
  FakeCheckRun e2e;
  e2e.name = "e2e";
  e2e.status = "in_progress";
  e2e.conclusion = std::nullopt;
  f.fake.set_check_run(head, e2e);
  f.fake.set_status(head, FakeStatus{"ci/legacy", "pending", "running", ""});
  f.clock->now += 1min;
  f.fake.set_status(head, FakeStatus{"unit", "success", "rerun: 415 passed", ""});  // later than the run "unit"

  auto checks = run_on(f.ioc, f.client->checks(head));
  REQUIRE_MESSAGE(checks.has_value(), checks.error().message);
  REQUIRE(checks->size() == 3);  // by name: ci/legacy, e2e, unit
  const auto& legacy = (*checks)[0];
  CHECK(legacy.name == "ci/legacy");
  CHECK(legacy.source == CheckSource::status);
  CHECK_FALSE(legacy.completed);
  CHECK(legacy.conclusion.empty());
  CHECK(legacy.summary == "running");
  const auto& running = (*checks)[1];
  CHECK(running.name == "e2e");
  CHECK(running.source == CheckSource::check_run);
  CHECK_FALSE(running.completed);
  CHECK(running.conclusion.empty());
  CHECK(running.at == start_time());  // started_at while not completed
  const auto& latest_unit = (*checks)[2];
  CHECK(latest_unit.source == CheckSource::status);
  CHECK(latest_unit.completed);
  CHECK(latest_unit.conclusion == "success");
  CHECK(latest_unit.summary == "rerun: 415 passed");
  CHECK(latest_unit.at == start_time() + 1min);

  f.clock->now -= 2min;
  FakeCheckRun older = unit;
  older.name = "lint";
  f.fake.set_check_run(head, older);
  auto again = run_on(f.ioc, f.client->checks(head));
  REQUIRE_MESSAGE(again.has_value(), again.error().message);
  REQUIRE(again->size() == 4);
  const auto& lint = (*again)[2];
  CHECK(lint.name == "lint");
  CHECK(lint.completed);
  CHECK(lint.conclusion == "failure");
  CHECK(lint.summary == "Tests\n412 passed, 3 failed\ndetails");
  CHECK(lint.at == start_time() - 1min);
}

TEST_CASE("errors say what failed and never carry the token") {
  Fixture f;
  auto missing = run_on(f.ioc, f.client->pull_reviews(999));
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message == "GitHub GET /repos/acme/monorepo/pulls/999/reviews answered 404: Not Found");
  CHECK(missing.error().http_status == 404);

  const std::string wrong = "ghp_wrongTokenValue0123456789";
  GitHubClient bad(*f.http, client_options(f.fake.url(), f.clock, f.calls, wrong));
  auto unauthorized = run_on(f.ioc, bad.pull_reviews(1));
  REQUIRE_FALSE(unauthorized.has_value());
  CHECK(unauthorized.error().http_status == 401);
  CHECK(unauthorized.error().message.starts_with("GitHub GET /repos/acme/monorepo/pulls/1/reviews answered 401"));
  CHECK(unauthorized.error().message.find(wrong) == std::string::npos);
  CHECK(unauthorized.error().message.find("Bearer") == std::string::npos);

  // Nothing listens there: a transport error, still without the token.
  f.fake.stop();
  auto down = run_on(f.ioc, f.client->pull_reviews(1));
  REQUIRE_FALSE(down.has_value());
  CHECK(down.error().message.starts_with("GitHub GET /repos/acme/monorepo/pulls/1/reviews: "));
  CHECK(down.error().message.find(kToken) == std::string::npos);
  CHECK(f.calls->back().status == 0);
}

TEST_CASE("requests carry GitHub's headers, per_page=100 and URL-encoded path pieces") {
  asio::io_context ioc;
  HttpReceiver receiver(ioc.get_executor());
  receiver.start();
  HttpClient http(ioc.get_executor(), http_options());
  auto clock = std::make_shared<Clock>();
  auto calls = std::make_shared<std::vector<Call>>();
  GitHubClient client(http, client_options(receiver.url("/"), clock, calls));
  receiver.respond("/repos/acme/monorepo/pulls/7/reviews", 200, "[]");
  receiver.respond("/orgs/acme/teams/release%20team/memberships/a%2Fb%3Fc", 200, R"({"state":"pending"})");

  REQUIRE(run_on(ioc, client.pull_reviews(7)).has_value());
  auto member = run_on(ioc, client.team_member("acme", "release team", "a/b?c"));
  REQUIRE_MESSAGE(member.has_value(), member.error().message);
  CHECK_FALSE(*member);  // invited, not yet active

  const auto requests = receiver.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == "/repos/acme/monorepo/pulls/7/reviews?per_page=100");
  CHECK(requests[1].target == "/orgs/acme/teams/release%20team/memberships/a%2Fb%3Fc");
  for (const auto& r : requests) {
    CHECK(r.headers.at("accept") == "application/vnd.github+json");
    CHECK(r.headers.at("x-github-api-version") == "2022-11-28");
    CHECK(r.headers.at("authorization") == "Bearer " + kToken);
    CHECK_FALSE(r.headers.at("user-agent").empty());
    CHECK_FALSE(r.headers.contains("if-none-match"));  // no ETag was sent back
  }
  receiver.stop();
}

TEST_CASE("a Link rel=next to another origin is refused before the token goes there; paging is bounded") {
  asio::io_context ioc;
  HttpReceiver receiver(ioc.get_executor());
  receiver.start();
  HttpReceiver elsewhere(ioc.get_executor());
  elsewhere.start();
  HttpClient http(ioc.get_executor(), http_options());
  auto clock = std::make_shared<Clock>();
  auto calls = std::make_shared<std::vector<Call>>();
  GitHubClient client(http, client_options(receiver.url("/"), clock, calls));
  const std::string path = "/repos/acme/monorepo/pulls/7/files";

  SUBCASE("another port of the same host is another origin") {
    receiver.respond_once(path, 200, "[]",
                          {{"Link", "<" + elsewhere.url(path) + "?page=2>; rel=\"next\", <" + elsewhere.url(path) +
                                        "?page=9>; rel=\"last\""}});
    auto files = run_on(ioc, client.pull_files(7));
    REQUIRE_FALSE(files.has_value());
    CHECK(files.error().message.find("refusing to send the token there") != std::string::npos);
    CHECK(elsewhere.requests().empty());
    CHECK(receiver.count(path) == 1);
  }
  SUBCASE("a Link back to a page already read") {
    receiver.respond_once(path, 200, "[]", {{"Link", "<" + receiver.url(path) + "?per_page=100>; rel=next"}});
    auto files = run_on(ioc, client.pull_files(7));
    REQUIRE_FALSE(files.has_value());
    CHECK(files.error().message.find("a page already read") != std::string::npos);
  }
  SUBCASE("more than 100 pages") {
    for (int page = 1; page <= 101; ++page) {
      receiver.respond_once(
          path, 200, "[]",
          {{"Link", "<" + receiver.url(path) + "?page=" + std::to_string(page + 1) + ">; rel=\"next\""}});
    }
    auto files = run_on(ioc, client.pull_files(7));
    REQUIRE_FALSE(files.has_value());
    CHECK(files.error().message.find("more than 100 pages") != std::string::npos);
    CHECK(receiver.count(path) == 100);
  }
  receiver.stop();
  elsewhere.stop();
}

TEST_CASE("Link headers are read however GitHub or a proxy spells them") {
  using promoter::adapters::github_next_link;
  CHECK(github_next_link(
            R"(<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last")") ==
        "https://api.github.com/x?page=2");
  CHECK(github_next_link(R"(<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next")") ==
        "https://a/x?page=3");
  CHECK(github_next_link(R"(<https://a/x?page=3>;rel=next)") == "https://a/x?page=3");
  CHECK(github_next_link(R"(  <https://a/x?page=3>  ;  REL = "Next"  )") == "https://a/x?page=3");
  CHECK(github_next_link(R"(<https://a/x?a=1,2>; title="a, b; c"; rel="last next")") == "https://a/x?a=1,2");
  CHECK(github_next_link(R"(<https://a/x?page=5>; rel="last")") == std::nullopt);
  CHECK(github_next_link(R"(<https://a/x?page=5>; rel="nextish")") == std::nullopt);
  CHECK(github_next_link("") == std::nullopt);
  CHECK(github_next_link("garbage, <https://a/y>; rel=\"next\"") == "https://a/y");
  CHECK(github_next_link("<https://a/unterminated; rel=\"next\"") == std::nullopt);
}
