// GitHub API budget: the calls the evidence reconciler makes for the review, ci and ddl_rollback gates at the
// demo's merge pace, with conditional requests (ETag / If-None-Match: a 304 does not count against the
// rate limit) and without them (the client's ETag cache off), in one run against the fake GitHub.
//
// The simulated hour: a merge every 2 minutes (a merged PR by one engineer, 5 check runs, every other PR with
// a migration), a teammate's approval a minute later. The reconciler reads the evidence of the releases still
// gathering gates on its 30 s interval and once for each webhook (a check run, a review), and each release is
// promoted before the next merge (the demo's 1 minute soak), so the next range starts at it. Each reading is the
// request sequence of daemon/github_evidence.cpp's gather(): compare production with the release (its status for
// the hotfix ancestry check, then its commits: the same first page twice, the second conditional), the PRs of every
// commit in the range, each PR's reviews and files, the release's check runs and statuses, and the team membership of
// each approver. Time is simulated (no sleeps): only request counts are figures here.
//
//   github_calls_bench [--merges N (30)]
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <fmt/format.h>
#include <iostream>
#include <set>

#include "adapters/github_client.hpp"
#include "adapters/http_client.hpp"
#include "bench/bench_support.hpp"
#include "tests/fakes/fake_github.hpp"
#include "tests/support/on_thread.hpp"

using namespace promoter;
using namespace promoter::bench;
namespace asio = boost::asio;

namespace {

const std::string token = "github-bench-token-0123456789";
constexpr int interval_s = 30;  // conf/demo.toml's github.reconcile_interval
constexpr int merge_every_s = 120;

struct Counts {
  int requests = 0;  // every request sent
  int counted = 0;   // answers that count against the primary rate limit (not 304)
};

fakes::FakeGitHubOptions options() {
  fakes::FakeGitHubOptions o;
  o.token = token;
  o.rate_limit = 1'000'000;  // the bench counts; it must never be refused
  return o;
}

// One evidence reading of `head` over `base`: gather()'s requests, in its order.
asio::awaitable<void> read_evidence(adapters::GitHubClient& client, std::string base, std::string head) {
  auto relation = co_await client.compare_status(base, head);  // the hotfix ancestry check
  if (!relation) throw std::runtime_error(relation.error().message);
  auto commits = co_await client.compare(base, head);
  if (!commits) throw std::runtime_error(commits.error().message);
  std::set<int> seen;
  std::map<std::int64_t, std::string> approvers;
  for (const auto& sha : *commits) {
    auto pulls = co_await client.commit_pulls(sha);
    if (!pulls) throw std::runtime_error(pulls.error().message);
    for (const auto& pull : *pulls) {
      if (!seen.insert(pull.number).second) continue;
      auto reviews = co_await client.pull_reviews(pull.number);
      if (!reviews) throw std::runtime_error(reviews.error().message);
      for (const auto& r : *reviews)
        if (r.state == core::ReviewState::approved) approvers.emplace(r.user.id, r.user.login);
      auto files = co_await client.pull_files(pull.number);
      if (!files) throw std::runtime_error(files.error().message);
    }
  }
  auto checks = co_await client.checks(head);
  if (!checks) throw std::runtime_error(checks.error().message);
  for (const auto& [id, login] : approvers) {
    auto member = co_await client.team_member("acme", "engineering", login);
    if (!member) throw std::runtime_error(member.error().message);
  }
}

// The simulated hour against a fresh fake; `etags` off empties the client's cache (etag_cache_entries = 0).
Counts simulate(int merges, bool etags, int& passes) {
  testing::OnThread<fakes::FakeGitHub> github(options());
  const fakes::FakeGitHubUser alice{1001, "alice"}, bob{1002, "bob"};
  github.call([&] {
    github.fake().add_team_member("engineering", alice);
    github.fake().add_team_member("engineering", bob);
    return 0;
  });
  std::string production = github.call([&] { return github.fake().push_commit({}, "production"); });
  adapters::HttpClientOptions http_options;
  adapters::HttpClient* http = nullptr;
  std::unique_ptr<adapters::HttpClient> http_owner;
  std::unique_ptr<adapters::GitHubClient> client;
  github.call([&] {
    http_owner = std::make_unique<adapters::HttpClient>(github.executor(), http_options);
    http = http_owner.get();
    adapters::GitHubClientOptions o;
    o.endpoint = github.fake().url();
    o.owner = "acme";
    o.repo = "monorepo";
    o.token = token;
    o.etag_cache_entries = etags ? 2048 : 0;
    client = std::make_unique<adapters::GitHubClient>(*http, std::move(o));
    return 0;
  });
  const int before = github.call([&] { return static_cast<int>(github.fake().requests().size()); });
  const int before_304 = github.call([&] { return github.fake().not_modified_count(); });

  std::vector<std::pair<std::string, int>> gathering;  // release SHA and its PR, while it gathers gates
  auto pass = [&] {
    for (const auto& [sha, pr] : gathering) github.await(read_evidence(*client, production, sha));
    ++passes;
  };
  for (int m = 0; m < merges; ++m) {
    const std::string sha = github.call([&] { return github.fake().push_commit({}, fmt::format("merge {}", m)); });
    fakes::FakePull pull;
    pull.author = m % 2 ? alice : bob;
    pull.head_sha = sha;
    pull.commits = {sha};
    pull.merge_commit_sha = sha;
    if (m % 2 == 0)
      pull.files = {fakes::added_file(fmt::format("packages/db/migrations/{}_demo.sql", m),
                                      "@@ -0,0 +1 @@\n+ALTER TABLE invoices ADD COLUMN n text;")};
    const int number = github.call([&] { return github.fake().add_pull(pull); });
    gathering.emplace_back(sha, number);
    if (gathering.size() > 2) gathering.erase(gathering.begin());
    for (const char* check : {"typecheck", "test", "audit-prefix", "audit-compliance-docs", "audit-openapi"}) {
      github.call([&] {
        github.fake().set_check_run(sha, fakes::completed_check_run(check, "412 passed, 0 failed"));
        return 0;
      });
      pass();  // the check_run webhook's pass
    }
    pass();  // 0 s
    pass();  // 30 s
    github.call([&] {
      github.fake().add_review(number, fakes::approval_by(m % 2 ? bob : alice));
      return 0;
    });
    pass();  // the review webhook's pass (60 s)
    pass();  // 90 s: soaked, smoked, approved and reviewed, it is promoted before the next merge at 120 s
    production = sha;
    gathering.clear();
  }
  Counts c;
  c.requests = github.call([&] { return static_cast<int>(github.fake().requests().size()); }) - before;
  c.counted = c.requests - (github.call([&] { return github.fake().not_modified_count(); }) - before_304);
  github.call([&] {
    client.reset();
    http_owner.reset();
    return 0;
  });
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int merges = 30;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--merges") merges = std::stoi(argv[i + 1]);
  int passes_with = 0, passes_without = 0;
  const Counts with = simulate(merges, true, passes_with);
  const Counts without = simulate(merges, false, passes_without);
  const double hours = merges * merge_every_s / 3600.0;
  info("merges simulated / reconcile passes",
       fmt::format("{} / {} ({} s interval + one per webhook)", merges, passes_with, interval_s));
  info("GitHub requests per release, no ETags (floor: every answer counted)",
       fmt::format("{:.1f} ({:.0f}/h)", double(without.counted) / merges, without.counted / hours));
  row("GitHub requests per release counted against the limit, with ETags",
      fmt::format("{:.1f} ({:.0f}/h; {} sent, {} answered 304)", double(with.counted) / merges, with.counted / hours,
                  with.requests, with.requests - with.counted),
      "<= 4000/h (github.requests_per_hour)", with.counted / hours <= 4000);
  row("GitHub requests counted per hour, ETags vs none",
      fmt::format("{:.0f}/h vs {:.0f}/h = {:.0f}%", with.counted / hours, without.counted / hours,
                  100.0 * with.counted / std::max(1, without.counted)),
      "-", true);
  return 0;
}
