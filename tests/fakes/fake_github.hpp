#pragma once
// A fake GitHub REST API v3 (one repository, one org) on 127.0.0.1 for tests and the demo: real HTTP/1.1,
// the real paths and JSON shapes of the operations promoter uses (adapters/github_reference.md), paging by
// `Link` headers, ETag / If-None-Match with 304s that do not count against the rate limit, x-ratelimit-*
// headers, injected secondary rate limits, and webhooks signed with X-Hub-Signature-256.
//
// Single-threaded: call it from the thread running its executor (or before that thread starts).
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
  int rate_limit = 5000;  // x-ratelimit-limit; remaining counts down per non-304 answer, resets hourly
  std::string webhook_secret;  // signs webhooks; empty: deliveries are unsigned
  std::function<std::chrono::system_clock::time_point()> now;  // default: system_clock::now
};

struct FakeGitHubUser {
  std::int64_t id = 0;
  std::string login;
};

struct FakeReview {
  std::int64_t id = 0;  // assigned by add_review when 0
  FakeGitHubUser user;
  std::string state;      // APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING
  std::string commit_id;  // default: the PR's head_sha at the time of the review
  std::string submitted_at;  // RFC 3339; default: now
};

struct FakeFile {
  std::string filename;
  std::string status = "modified";
  std::optional<std::string> patch;  // nullopt: omitted from the JSON, as GitHub does for large files
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
  std::vector<std::string> commits;  // SHAs the PR carries (commits/{sha}/pulls finds it by any of them)
  std::vector<FakeFile> files;
  std::vector<FakeReview> reviews;
};

struct FakeCheckRun {
  std::string name;
  std::string status = "completed";  // queued, in_progress, completed
  std::optional<std::string> conclusion = "success";
  std::string summary;  // output.summary ("412 passed, 3 failed")
  std::string text;     // output.text
};

struct FakeStatus {
  std::string context;
  std::string state = "success";  // error, failure, pending, success
  std::string description;
};

struct FakeGitHubRequest {
  std::string method;
  std::string target;  // path and query
  int status = 0;      // what the fake answered
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
  std::int64_t add_review(int number, FakeReview review);  // returns its id; sends pull_request_review
  void dismiss_review(int number, std::int64_t review_id);  // state DISMISSED; sends pull_request_review
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
  // Delivers one event now; `delivery` empty: a new GUID. The value is the receiver's HTTP status.
  boost::asio::awaitable<std::expected<int, adapters::AdapterError>> deliver(std::string url, std::string event,
                                                                          nlohmann::json payload,
                                                                          std::string delivery = {},
                                                                          std::optional<std::string> signature = {});
  boost::asio::awaitable<void> flush_webhooks();  // waits for the automatic deliveries queued so far
  int webhooks_delivered() const;

  // ---- persistence (the demo's --state FILE) ----
  nlohmann::json state_json() const;
  std::expected<void, std::string> load_state_json(const nlohmann::json& state);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace promoter::fakes
