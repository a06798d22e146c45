#pragma once
// A fake GitHub REST API v3 (one repository, one org) on 127.0.0.1 for tests and the demo: real HTTP/1.1,
// the real paths and JSON shapes of the operations promoter uses (adapters/github_reference.md), paging by
// `Link` headers, ETag / If-None-Match with 304s that do not count against the rate limit, x-ratelimit-*
// headers, injected secondary rate limits, and webhooks signed with X-Hub-Signature-256.
//
// Single-threaded: call it from the thread running its executor (or before that thread starts).
//
// What it follows (GitHub's OpenAPI description, @octokit/openapi 23.0.2, as extracted in the shared reference
// rest-subset.json / webhooks-subset.json), and where it had to choose:
// - Shapes: every field the OpenAPI marks required for the operations served, with fixed filler for what
//   promoter never reads (node_id, *_url, avatar). `url` fields point at this fake; `html_url` fields at
//   https://github.com/{owner}/{repo}/... so they do not change with the port. A PR `body` "" is null.
// - Compare (GET .../compare/{base}...{head}): base and head are full SHAs, unique prefixes (7+ hex), tag
//   names, tags/<name>, refs/tags/<name>, or "main" (the tip of the linear main branch). Commits oldest first.
//   Status identical|ahead|behind|diverged from the merge base. Without page/per_page (and no per-page cap
//   set) at most the newest 250 commits and no Link header (the docs: "the last commit in the list is the most
//   recent of the entire comparison"); with either, pages of per_page (default 30, max 100) with Link.
//   `files` is always []. An unknown ref: 404 Not Found; no common ancestor: 404 "No common ancestor ...".
// - commits/{ref}/pulls, /check-runs, /status: a ref that resolves as above, or any 40-hex SHA (an unknown
//   commit simply has nothing); anything else 422 "No commit found for SHA: <ref>" (GitHub's text). A PR is
//   listed for a SHA when it is its head_sha, merge_commit_sha or one of its commits. Check runs: the latest
//   run per name (set_check_run replaces the older one and gets a new id), `check_name` and `status`
//   filters. Combined status: the latest status per context; failure if any is error|failure, else pending
//   if any is pending or there are none, else success (GitHub's documented rule).
// - Paging (every list): per_page default 30, max 100, further capped by set_per_page_cap; Link carries
//   rel="prev", "next", "last", "first" in that order, next/last omitted on the last page, prev/first on
//   the first, other query parameters kept.
// - Team membership: 200 {"url","role":"member","state":"active"} for a member (org and login compared
//   case-insensitively), else 404.
// - git/refs: 201 with Location; 422 "Reference already exists", "Object does not exist" (the SHA is not a
//   commit the fake knows), "Reference name is invalid" (not refs/x/y: this fake's wording).
// - Errors: {"message","documentation_url","status"} as GitHub sends them now. Unknown routes: 404.
// - Order of checks: no User-Agent (or an empty one) -> 403 "Request forbidden by administrative rules..."
//   (GitHub documents the 403, not the body: the fake's choice); Authorization other than "Bearer <token>" or
//   "token <token>" -> 401 "Bad credentials"; then an injected fault (fail_next / secondary_rate_limit_next,
//   in the order queued); then remaining 0 -> 403 "API rate limit exceeded for user ID 1. ..."; then the
//   route. x-ratelimit-{limit,remaining,used,reset,resource} are on every answer (the 401 too).
// - Rate limit: one hourly window from the first request; every answer after the checks above counts (also
//   404 and 422), except 304s and GET /rate_limit. 401s, 403s for the User-Agent or an exhausted limit, and
//   injected faults do not count (the fake's choice). Secondary limits keep the primary headers as they are.
// - ETag: a strong "<sha256 hex>" of the body and the Link header, on every 200 GET. If-None-Match holding
//   it (strong or W/ form, or *) -> 304 with no body, the same ETag and Link.
// - Webhooks: X-GitHub-Event, X-GitHub-Delivery (a random v4 GUID), X-GitHub-Hook-ID, X-Hub-Signature-256
//   when a secret is set, Content-Type application/json, User-Agent GitHub-Hookshot/fake; one attempt each
//   (GitHub does not retry), one at a time in order. Events: pull_request_review submitted (add_review, not for
//   PENDING) and dismissed (review.state is lower case in webhooks, as GitHub sends it); check_run created
//   (a run not completed) or completed, then check_suite completed when every run of the commit is completed
//   (conclusion failure if any run failed, timed out, was cancelled, stale or needs action, else success);
//   status (set_status); pull_request closed (merge_pull, or add_pull of an already merged PR). Commits and
//   tags send nothing (push/create are not in the subset).
// - merge_pull / add_pull with a merge_commit_sha the fake does not know push that SHA onto main first.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
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

namespace promoter::fakes {

struct FakeGitHubOptions {
  std::string token = "fake-github-token";  // Authorization: Bearer <token>; anything else: 401
  std::string owner = "acme", repo = "monorepo", org = "acme";
  int rate_limit = 5000;       // x-ratelimit-limit; remaining counts down per non-304 answer, resets hourly
  std::string webhook_secret;  // signs webhooks; empty: deliveries are unsigned
  std::function<std::chrono::system_clock::time_point()> now;  // default: system_clock::now
  // Serves the /_fake/... admin routes (no auth, not counted, not recorded): the demo's fake_github main
  // drives the fake through them. Off in tests, which call the C++ API.
  bool admin_routes = false;
};

struct FakeGitHubUser {
  std::int64_t id = 0;
  std::string login;
};

struct FakeReview {
  std::int64_t id = 0;  // assigned by add_review when 0
  FakeGitHubUser user;
  std::string state;         // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
  std::string commit_id;     // default: the PR's head_sha at the time of the review
  std::string submitted_at;  // RFC 3339; default: now (PENDING reviews have none)
  std::string body;
};

struct FakeFile {
  std::string filename;
  std::string status = "modified";
  std::optional<std::string> patch;  // nullopt: omitted from the JSON, as GitHub does for large files
  int additions = 1, deletions = 0;
};

struct FakePull {
  int number = 0;  // assigned by add_pull when 0
  FakeGitHubUser author;
  std::string title = "change";
  std::string body;
  std::string base_ref = "main";
  std::string head_ref = "feature";
  std::string head_sha;
  std::optional<std::string> merge_commit_sha;  // set: merged (merged_at = now), state closed
  std::vector<std::string> commits;             // SHAs the PR carries (commits/{sha}/pulls finds it by any of them)
  std::vector<FakeFile> files;
  std::vector<FakeReview> reviews;
};

struct FakeCheckRun {
  std::string name;
  std::string status = "completed";  // queued, in_progress, completed
  std::optional<std::string> conclusion = "success";
  std::string summary;  // output.summary ("412 passed, 3 failed")
  std::string text;     // output.text
  std::string title;    // output.title; empty: null
  std::string app_slug = "github-actions";
};

struct FakeStatus {
  std::string context;
  std::string state = "success";  // error, failure, pending, success
  std::string description;
  std::string target_url;  // empty: null
};

// Shorthands for tests and benches: a completed, successful check run (summary: where a pass count is read),
// an added file with its patch, and an approval (of the PR's head at the time) by `user`.
FakeCheckRun completed_check_run(std::string name, std::string summary = {});
FakeFile added_file(std::string filename, std::string patch);
FakeReview approval_by(const FakeGitHubUser& user);

struct FakeGitHubRequest {
  std::string method;
  std::string target;        // path and query
  int status = 0;            // what the fake answered
  bool conditional = false;  // carried If-None-Match
};

class FakeGitHub {
 public:
  explicit FakeGitHub(boost::asio::any_io_executor executor, FakeGitHubOptions options = {});
  ~FakeGitHub();
  FakeGitHub(const FakeGitHub&) = delete;
  FakeGitHub& operator=(const FakeGitHub&) = delete;

  void start(unsigned short port = 0);  // throws if it cannot bind
  void stop();
  unsigned short port() const;
  std::string url() const;  // http://127.0.0.1:PORT (the API root, as https://api.github.com)

  // ---- repository state ----
  // Appends a commit to the main branch's linear history (compare walks it); returns its SHA (40 hex,
  // generated when `sha` is empty).
  std::string push_commit(std::string sha = {}, std::string message = "commit");
  // A commit on a side branch: its parent is `parent` (a main commit, e.g. a production tag's), not main's tip.
  std::string branch_commit(const std::string& parent, std::string sha = {});
  int add_pull(FakePull pull);  // returns its number
  void merge_pull(int number, const std::string& merge_commit_sha);
  std::int64_t add_review(int number, FakeReview review);        // returns its id; sends pull_request_review
  void dismiss_review(int number, std::int64_t review_id);       // state DISMISSED; sends pull_request_review
  void edit_pull_body(int number, std::string body);             // sends pull_request edited
  void set_check_run(const std::string& sha, FakeCheckRun run);  // replaces the run of that name; sends check_run
  void set_status(const std::string& sha, FakeStatus status);    // sends status
  void add_team_member(const std::string& team_slug, const FakeGitHubUser& user);
  std::optional<std::string> tag(const std::string& name) const;  // the SHA refs/tags/<name> points at
  std::map<std::string, std::string> tags() const;

  // ---- what was asked ----
  std::vector<FakeGitHubRequest> requests() const;
  int count(std::string_view path_prefix) const;  // requests whose path starts with this (no query)
  int not_modified_count() const;                 // 304s answered
  long rate_remaining() const;

  // ---- failure injection: each affects the next N API requests ----
  void secondary_rate_limit_next(int n, int retry_after_seconds, int http_status = 403);
  void fail_next(int n, int http_status = 502);
  void set_per_page_cap(int cap);  // pages hold at most this many items whatever per_page asks (paging tests)

  // ---- webhooks ----
  // With a URL, every state change above is delivered there as GitHub would (X-GitHub-Event,
  // X-GitHub-Delivery, X-Hub-Signature-256), one at a time in order.
  void set_webhook(std::optional<std::string> url);
  // Delivers one event now; `delivery` empty: a new GUID. `signature` nullopt: computed (none without a
  // secret); "" : no X-Hub-Signature-256 header; else sent as given. The value is the receiver's HTTP status.
  boost::asio::awaitable<std::expected<int, adapters::AdapterError>> deliver(std::string url, std::string event,
                                                                             nlohmann::json payload,
                                                                             std::string delivery = {},
                                                                             std::optional<std::string> signature = {});
  boost::asio::awaitable<void> flush_webhooks();  // waits for the automatic deliveries queued so far
  int webhooks_delivered() const;                 // automatic deliveries answered 2xx
  int webhooks_failed() const;                    // automatic deliveries that got another status or no answer

  // ---- persistence (the demo's --state FILE) ----
  nlohmann::json state_json() const;
  std::expected<void, std::string> load_state_json(const nlohmann::json& state);
  void on_change(std::function<void()> callback);  // after every state change (the main saves the file)

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace promoter::fakes
