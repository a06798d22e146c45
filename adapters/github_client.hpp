#pragma once
// GitHub's REST API v3 (version 2022-11-28) over HttpClient: what the review, ci and ddl_rollback gates, the
// production tags and the hotfix review backfill need. Facts relied on: adapters/github_reference.md.
//  - Conditional requests: every GET remembers its ETag and answer (a bounded cache per client); the next GET
//    of the same URL sends If-None-Match, and a 304 (free of the primary rate limit) answers from the cache.
//  - Paging: follows `Link: <...>; rel="next"` to the end (per_page=100; compare: its commits' pages).
//  - Rate limits: x-ratelimit-remaining 0 backs the token off until x-ratelimit-reset; a secondary limit
//    (403 or 429 with retry-after, or a 403 whose remaining is 0) backs it off as asked, else one minute,
//    and the request is tried again (bounded). The back-off lives in the token's shared TokenBudget.
//  - The token goes only into the Authorization header: never into errors, logs or metrics.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/adapter_error.hpp"
#include "adapters/http_client.hpp"
#include "core/evidence.hpp"

namespace promoter::adapters {

// After every answer, for metrics: bounded values only.
struct GitHubCall {
  std::string_view operation;          // "compare", "commit.pulls", "pull.reviews", "pull.files", "check_runs",
                                       // "status", "team.membership", "refs.create"
  int status = 0;                      // the final HTTP status (304 for a conditional hit); 0 when none came
  std::optional<long> rate_remaining;  // x-ratelimit-remaining of the answer, when sent
};

struct GitHubClientOptions {
  std::string endpoint = "https://api.github.com";  // GitHub Enterprise Server: https://HOST/api/v3
  std::string owner, repo;
  std::string token;  // from the environment or a file named in the config
  std::shared_ptr<TokenBudget> budget{};
  std::function<void(const GitHubCall&)> observer{};
  std::size_t etag_cache_entries = 2048;  // least recently used answers are dropped beyond this
  int secondary_limit_retries = 3;        // tries after a secondary rate limit before giving up
  // Waits out a rate-limit back-off when there is no budget (with one, its acquire() waits); default: a
  // steady_timer.
  HttpSleeper sleeper{};
  // Wall clock for x-ratelimit-reset (epoch seconds); default: system_clock::now.
  std::function<std::chrono::system_clock::time_point()> now{};
};

// A PR as commits/{sha}/pulls lists it.
struct GitHubPull {
  int number = 0;
  core::GitHubUser author;
  std::string url;      // html_url
  std::string state;    // open, closed
  bool merged = false;  // merged_at is not null
  std::string base_ref, head_sha;
  std::string body;  // "" when null
};

enum class TagResult { created, already_there };

// The target of the link whose rel is "next" in a Link header (RFC 8288: several links, spaces, quoted or
// bare values, several rels); nullopt when none.
std::optional<std::string> github_next_link(std::string_view link_header);

class GitHubClient {
 public:
  // `http` must outlive the client.
  GitHubClient(HttpClient& http, GitHubClientOptions options);

  template <class T>
  using Result = boost::asio::awaitable<std::expected<T, AdapterError>>;

  // The commits of base...head, oldest first (every page).
  Result<std::vector<std::string>> compare(std::string base, std::string head);
  // "ahead", "behind", "identical" or "diverged": how head relates to base (the hotfix ancestry check).
  Result<std::string> compare_status(std::string base, std::string head);
  Result<std::vector<GitHubPull>> commit_pulls(std::string sha);
  Result<std::vector<core::PullReview>> pull_reviews(int number);
  Result<std::vector<core::PullFilePatch>> pull_files(int number);
  // Check runs and legacy statuses of a commit, the latest per name (CheckEvidence::at decides).
  Result<std::vector<core::CheckEvidence>> checks(std::string sha);
  // An active member of org/team (GET /orgs/{org}/teams/{team}/memberships/{login}); 404: false.
  Result<bool> team_member(std::string org, std::string team_slug, std::string login);
  // POST /repos/{o}/{r}/git/refs for refs/tags/<name> on sha. 422 "Reference already exists" is
  // already_there when the tag points at sha (checked by compare), an error otherwise.
  Result<TagResult> create_tag(std::string name, std::string sha);

  std::size_t cached_answers() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace promoter::adapters
