#include "tests/fakes/fake_github.hpp"

#include "tests/fakes/fake_listener.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <deque>
#include <random>
#include <set>

#include "adapters/http_client.hpp"

namespace promoter::fakes {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using adapters::AdapterError;
using nlohmann::json;

namespace {

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Clock = std::chrono::system_clock;

constexpr const char* kDocs = "https://docs.github.com/rest";
constexpr std::size_t kCompareUnpaged = 250;  // compare without page/per_page: at most this many commits

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xf];
  }
  return out;
}

std::string digest_hex(const EVP_MD* md, std::string_view text) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), out, &size, md, nullptr);
  return hex(out, size);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), out, &size);
  return hex(out, size);
}

std::string rfc3339(Clock::time_point t) {
  const std::time_t seconds = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

long long epoch_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string lower(std::string_view text) {
  std::string out;
  for (const char c : text) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequal(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

bool is_hex(std::string_view text) {
  return !text.empty() &&
         std::ranges::all_of(text, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && is_hex(text.substr(i + 1, 2))) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else if (text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto at = text.find(separator, start);
    out.emplace_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

using Query = std::vector<std::pair<std::string, std::string>>;

Query parse_query(std::string_view text) {
  Query out;
  if (text.empty()) return out;
  for (const auto& item : split(text, '&')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos) {
      out.emplace_back(percent_decode(item), "");
    } else {
      out.emplace_back(percent_decode(item.substr(0, eq)), percent_decode(item.substr(eq + 1)));
    }
  }
  return out;
}

std::optional<std::string> query_value(const Query& query, std::string_view key) {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::optional<long> query_number(const Query& query, std::string_view key) {
  const auto value = query_value(query, key);
  if (!value || value->empty() ||
      !std::ranges::all_of(*value, [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      value->size() > 9) {
    return std::nullopt;
  }
  return std::stol(*value);
}

json error_json(const std::string& message, int status) {
  return json{{"message", message}, {"documentation_url", kDocs}, {"status", std::to_string(status)}};
}

// One answer before the common headers (rate limit, ETag) are added.
struct Answer {
  int status = 200;
  json body;
  std::string link;                                          // Link header; empty: none
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

Answer error_answer(int status, const std::string& message) {
  return Answer{status, error_json(message, status), {}, {}};
}

Answer not_found() { return error_answer(404, "Not Found"); }

// Weak comparison of If-None-Match against an entity tag: W/"x" and "x" match "x"; * matches anything.
bool if_none_match_hits(std::string_view header, std::string_view etag) {
  const auto opaque = [](std::string_view tag) {
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    return tag;
  };
  for (const auto& item : split(header, ',')) {
    const auto tag = opaque(item);
    if (tag == "*" || tag == opaque(etag)) return true;
  }
  return false;
}

asio::awaitable<void> pause(asio::any_io_executor executor, std::chrono::milliseconds delay) {
  asio::steady_timer timer(executor);
  timer.expires_after(delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

json optional_text(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

json optional_json(const std::optional<std::string>& value) { return value ? json(*value) : json(nullptr); }

std::optional<std::string> optional_string_of(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct FakeGitHub::State : std::enable_shared_from_this<FakeGitHub::State> {
  struct Commit {
    std::string sha, message, parent, date;  // parent empty: a root commit
    FakeGitHubUser author{1001, "fake-dev"};
  };
  struct Pull {
    FakePull pull;
    std::int64_t id = 0;
    std::string base_sha, created_at, updated_at;
    std::optional<std::string> merged_at;
  };
  struct Run {
    std::int64_t id = 0;
    std::string sha;
    FakeCheckRun run;
    std::string started_at;
    std::optional<std::string> completed_at;
  };
  struct Status {
    std::int64_t id = 0;
    std::string sha;
    FakeStatus status;
    std::string created_at;
  };
  struct Fault {
    int status = 502;
    int retry_after = 0;
    bool secondary = false;
  };
  struct Webhook {
    std::string event;
    json payload;
  };

  State(asio::any_io_executor ex, FakeGitHubOptions opts)
      : executor(std::move(ex)), options(std::move(opts)), listener(executor), webhook_client(executor, [] {
          adapters::HttpClientOptions o;
          o.connect_timeout = std::chrono::seconds(2);
          o.request_timeout = std::chrono::seconds(10);
          o.retry.max_attempts = 1;  // GitHub does not retry a failed delivery
          o.user_agent = "GitHub-Hookshot/fake";
          return o;
        }()) {
    if (!options.now) options.now = [] { return Clock::now(); };
  }

  asio::any_io_executor executor;
  FakeGitHubOptions options;
  FakeListener listener;

  // repository
  std::vector<std::string> main_line;     // the main branch, oldest first
  std::vector<std::string> commit_order;  // every commit in creation order (persistence)
  std::map<std::string, Commit> commits;
  std::map<std::string, std::string> refs;  // "refs/tags/v1" -> sha
  std::vector<Pull> pulls;
  std::vector<Run> runs;
  std::vector<Status> statuses;
  std::map<std::string, std::vector<FakeGitHubUser>> teams;
  std::map<std::string, std::int64_t> suite_ids;  // head sha -> check suite id
  int next_pull = 1;
  std::int64_t next_id = 1000;
  std::uint64_t next_commit = 1;
  std::function<void()> change_callback;

  // requests
  std::vector<FakeGitHubRequest> records;
  int not_modified = 0;
  long used = 0;
  long long reset_at = 0;  // epoch seconds
  std::deque<Fault> faults;
  int per_page_cap = 0;
  std::uint64_t request_counter = 0;

  // webhooks
  adapters::HttpClient webhook_client;
  std::optional<std::string> webhook_url;
  std::deque<Webhook> webhook_queue;
  bool webhook_worker_running = false;
  int delivered = 0;
  int failed = 0;
  std::mt19937_64 rng{std::random_device{}()};

  // ---- helpers ----
  std::string now_text() const { return rfc3339(options.now()); }
  std::string api() const { return "http://127.0.0.1:" + std::to_string(listener.port()); }
  std::string repo_api() const { return api() + "/repos/" + options.owner + "/" + options.repo; }
  std::string repo_html() const { return "https://github.com/" + options.owner + "/" + options.repo; }
  std::string full_name() const { return options.owner + "/" + options.repo; }
  void changed() {
    if (change_callback) change_callback();
  }

  void roll_window() {
    const auto now = epoch_seconds(options.now());
    if (reset_at == 0 || now >= reset_at) {
      used = 0;
      reset_at = now + 3600;
    }
  }
  long remaining() const { return std::max<long>(0, options.rate_limit - used); }

  std::string new_sha() {
    for (;;) {
      auto sha = digest_hex(EVP_sha1(), full_name() + "#commit-" + std::to_string(next_commit++));
      if (!commits.contains(sha)) return sha;
    }
  }

  std::string guid() {
    std::uniform_int_distribution<int> digit(0, 15);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
      out += i == 12 ? '4' : kHex[digit(rng)];
    }
    return out;
  }

  std::string add_commit(std::string sha, std::string message, std::string parent, bool on_main) {
    if (sha.empty()) sha = new_sha();
    if (!commits.contains(sha)) commit_order.push_back(sha);
    Commit c;
    c.sha = sha;
    c.message = std::move(message);
    c.parent = std::move(parent);
    c.date = now_text();
    commits[sha] = std::move(c);
    if (on_main) main_line.push_back(sha);
    changed();
    return sha;
  }

  // The SHA a ref names: a full SHA, a unique prefix (7+), a tag, "main" (the default branch), refs/...
  std::optional<std::string> resolve(std::string ref) const {
    if (ref.starts_with("refs/")) ref = ref.substr(5);
    if (ref.starts_with("tags/")) {
      const auto it = refs.find("refs/" + ref);
      if (it != refs.end()) return it->second;
      return std::nullopt;
    }
    if (ref.starts_with("heads/")) ref = ref.substr(6);
    if (commits.contains(ref)) return ref;
    if (const auto it = refs.find("refs/tags/" + ref); it != refs.end()) return it->second;
    if (ref == "main" && !main_line.empty()) return main_line.back();
    if (const auto it = refs.find("refs/heads/" + ref); it != refs.end()) return it->second;
    if (ref.size() >= 7 && is_hex(ref)) {
      std::optional<std::string> found;
      for (const auto& [sha, commit] : commits) {
        if (sha.starts_with(lower(ref))) {
          if (found) return std::nullopt;  // ambiguous
          found = sha;
        }
      }
      return found;
    }
    return std::nullopt;
  }

  // A commit and its ancestors, newest first.
  std::vector<std::string> chain(const std::string& sha) const {
    std::vector<std::string> out;
    std::string at = sha;
    while (!at.empty() && out.size() <= commits.size()) {
      out.push_back(at);
      const auto it = commits.find(at);
      if (it == commits.end()) break;
      at = it->second.parent;
    }
    return out;
  }

  Pull* find_pull(int number) {
    const auto it = std::ranges::find_if(pulls, [&](const Pull& p) { return p.pull.number == number; });
    return it == pulls.end() ? nullptr : &*it;
  }

  // ---- JSON shapes (rest-subset.json) ----
  json user_json(const FakeGitHubUser& user, const std::string& type = "User") const {
    const auto login = user.login;
    return json{{"login", login},
                {"id", user.id},
                {"node_id", "U_fake" + std::to_string(user.id)},
                {"avatar_url", "https://avatars.githubusercontent.com/u/" + std::to_string(user.id)},
                {"gravatar_id", ""},
                {"url", api() + "/users/" + login},
                {"html_url", "https://github.com/" + login},
                {"type", type},
                {"site_admin", false}};
  }

  FakeGitHubUser owner_user() const { return {1, options.owner}; }
  FakeGitHubUser bot_user() const { return {41898282, "github-actions[bot]"}; }

  json repo_json() const {
    return json{{"id", 1296269},           {"node_id", "R_fake"},
                {"name", options.repo},    {"full_name", full_name()},
                {"private", false},        {"owner", user_json(owner_user(), "Organization")},
                {"html_url", repo_html()}, {"description", nullptr},
                {"fork", false},           {"url", repo_api()},
                {"default_branch", "main"}};
  }

  json commit_json(const std::string& sha) const {
    const auto it = commits.find(sha);
    const Commit fallback{sha, "", "", "", {1001, "fake-dev"}};
    const Commit& c = it == commits.end() ? fallback : it->second;
    const json person = {
        {"name", c.author.login}, {"email", c.author.login + "@users.noreply.github.com"}, {"date", c.date}};
    json parents = json::array();
    if (!c.parent.empty()) {
      parents.push_back(json{{"sha", c.parent},
                             {"url", repo_api() + "/commits/" + c.parent},
                             {"html_url", repo_html() + "/commit/" + c.parent}});
    }
    return json{{"url", repo_api() + "/commits/" + sha},
                {"sha", sha},
                {"node_id", "C_fake" + sha.substr(0, 12)},
                {"html_url", repo_html() + "/commit/" + sha},
                {"comments_url", repo_api() + "/commits/" + sha + "/comments"},
                {"commit",
                 {{"url", repo_api() + "/git/commits/" + sha},
                  {"author", person},
                  {"committer", person},
                  {"message", c.message},
                  {"tree", {{"sha", sha}, {"url", repo_api() + "/git/trees/" + sha}}},
                  {"comment_count", 0},
                  {"verification",
                   {{"verified", false},
                    {"reason", "unsigned"},
                    {"signature", nullptr},
                    {"payload", nullptr},
                    {"verified_at", nullptr}}}}},
                {"author", user_json(c.author)},
                {"committer", user_json(c.author)},
                {"parents", parents}};
  }

  json branch_json(const std::string& ref, const std::string& sha) const {
    return json{{"label", options.owner + ":" + ref},
                {"ref", ref},
                {"sha", sha},
                {"user", user_json(owner_user(), "Organization")},
                {"repo", repo_json()}};
  }

  // `full`: pulls/get and the pull_request webhook; otherwise the pull-request-simple shape.
  json pull_json(const Pull& p, bool full) const {
    const auto& pull = p.pull;
    const auto n = std::to_string(pull.number);
    const bool merged = pull.merge_commit_sha.has_value();
    const auto self = repo_api() + "/pulls/" + n;
    json out = {
        {"url", self},
        {"id", p.id},
        {"node_id", "PR_fake" + std::to_string(p.id)},
        {"html_url", repo_html() + "/pull/" + n},
        {"diff_url", repo_html() + "/pull/" + n + ".diff"},
        {"patch_url", repo_html() + "/pull/" + n + ".patch"},
        {"issue_url", repo_api() + "/issues/" + n},
        {"commits_url", self + "/commits"},
        {"review_comments_url", self + "/comments"},
        {"review_comment_url", repo_api() + "/pulls/comments{/number}"},
        {"comments_url", repo_api() + "/issues/" + n + "/comments"},
        {"statuses_url", repo_api() + "/statuses/" + pull.head_sha},
        {"number", pull.number},
        {"state", merged ? "closed" : "open"},
        {"locked", false},
        {"title", pull.title},
        {"user", user_json(pull.author)},
        {"body", optional_text(pull.body)},
        {"labels", json::array()},
        {"milestone", nullptr},
        {"active_lock_reason", nullptr},
        {"created_at", p.created_at},
        {"updated_at", p.updated_at},
        {"closed_at", optional_json(p.merged_at)},
        {"merged_at", optional_json(p.merged_at)},
        {"merge_commit_sha", optional_json(pull.merge_commit_sha)},
        {"assignee", nullptr},
        {"assignees", json::array()},
        {"requested_reviewers", json::array()},
        {"requested_teams", json::array()},
        {"head", branch_json(pull.head_ref, pull.head_sha)},
        {"base", branch_json(pull.base_ref, p.base_sha)},
        {"_links",
         {{"self", {{"href", self}}},
          {"html", {{"href", repo_html() + "/pull/" + n}}},
          {"issue", {{"href", repo_api() + "/issues/" + n}}},
          {"comments", {{"href", repo_api() + "/issues/" + n + "/comments"}}},
          {"review_comments", {{"href", self + "/comments"}}},
          {"review_comment", {{"href", repo_api() + "/pulls/comments{/number}"}}},
          {"commits", {{"href", self + "/commits"}}},
          {"statuses", {{"href", repo_api() + "/statuses/" + pull.head_sha}}}}},
        {"author_association", "MEMBER"},
        {"auto_merge", nullptr},
        {"draft", false},
    };
    if (full) {
      int additions = 0, deletions = 0;
      for (const auto& f : pull.files) {
        additions += f.additions;
        deletions += f.deletions;
      }
      out["merged"] = merged;
      out["mergeable"] = merged ? json(nullptr) : json(true);
      out["rebaseable"] = merged ? json(nullptr) : json(true);
      out["mergeable_state"] = merged ? "unknown" : "clean";
      out["merged_by"] = merged ? user_json(pull.author) : json(nullptr);
      out["comments"] = 0;
      out["review_comments"] = 0;
      out["maintainer_can_modify"] = false;
      out["commits"] = pull.commits.size();
      out["additions"] = additions;
      out["deletions"] = deletions;
      out["changed_files"] = pull.files.size();
    }
    return out;
  }

  json review_json(const Pull& p, const FakeReview& r, bool webhook) const {
    const auto n = std::to_string(p.pull.number);
    const auto html = repo_html() + "/pull/" + n + "#pullrequestreview-" + std::to_string(r.id);
    json out = {{"id", r.id},
                {"node_id", "PRR_fake" + std::to_string(r.id)},
                {"user", user_json(r.user)},
                {"body", r.body},
                {"state", webhook ? lower(r.state) : r.state},  // webhooks spell the state in lower case
                {"html_url", html},
                {"pull_request_url", repo_api() + "/pulls/" + n},
                {"_links", {{"html", {{"href", html}}}, {"pull_request", {{"href", repo_api() + "/pulls/" + n}}}}},
                {"commit_id", r.commit_id},
                {"author_association", "MEMBER"}};
    if (r.state != "PENDING") out["submitted_at"] = r.submitted_at;
    return out;
  }

  json file_json(const Pull& p, const FakeFile& f) const {
    const auto sha = digest_hex(EVP_sha1(), f.filename + "\n" + f.patch.value_or(""));
    json out = {{"sha", sha},
                {"filename", f.filename},
                {"status", f.status},
                {"additions", f.additions},
                {"deletions", f.deletions},
                {"changes", f.additions + f.deletions},
                {"blob_url", repo_html() + "/blob/" + p.pull.head_sha + "/" + f.filename},
                {"raw_url", repo_html() + "/raw/" + p.pull.head_sha + "/" + f.filename},
                {"contents_url", repo_api() + "/contents/" + f.filename + "?ref=" + p.pull.head_sha}};
    if (f.patch) out["patch"] = *f.patch;
    return out;
  }

  std::int64_t suite_id(const std::string& sha) {
    auto [it, inserted] = suite_ids.try_emplace(sha, 0);
    if (inserted) it->second = next_id++;
    return it->second;
  }

  json app_json(const std::string& slug) const {
    return json{{"id", 15368},
                {"slug", slug},
                {"node_id", "A_fake"},
                {"owner", user_json(owner_user(), "Organization")},
                {"name", slug},
                {"description", ""},
                {"external_url", "https://github.com/apps/" + slug},
                {"html_url", "https://github.com/apps/" + slug},
                {"created_at", "2018-07-30T09:30:17Z"},
                {"updated_at", "2018-07-30T09:30:17Z"},
                {"permissions", json::object()},
                {"events", json::array()}};
  }

  json run_json(const Run& r) const {
    const auto id = std::to_string(r.id);
    const auto suite = suite_ids.contains(r.sha) ? suite_ids.at(r.sha) : 0;
    return json{{"id", r.id},
                {"node_id", "CR_fake" + id},
                {"head_sha", r.sha},
                {"external_id", ""},
                {"url", repo_api() + "/check-runs/" + id},
                {"html_url", repo_html() + "/runs/" + id},
                {"details_url", repo_html() + "/runs/" + id},
                {"status", r.run.status},
                {"conclusion", r.run.status == "completed" ? optional_json(r.run.conclusion) : json(nullptr)},
                {"started_at", r.started_at},
                {"completed_at", optional_json(r.completed_at)},
                {"output",
                 {{"title", optional_text(r.run.title)},
                  {"summary", optional_text(r.run.summary)},
                  {"text", optional_text(r.run.text)},
                  {"annotations_count", 0},
                  {"annotations_url", repo_api() + "/check-runs/" + id + "/annotations"}}},
                {"name", r.run.name},
                {"check_suite", {{"id", suite}}},
                {"app", app_json(r.run.app_slug)},
                {"pull_requests", json::array()}};
  }

  json status_json(const Status& s) const {
    return json{{"url", repo_api() + "/statuses/" + s.sha},
                {"avatar_url", nullptr},
                {"id", s.id},
                {"node_id", "SC_fake" + std::to_string(s.id)},
                {"state", s.status.state},
                {"description", optional_text(s.status.description)},
                {"target_url", optional_text(s.status.target_url)},
                {"context", s.status.context},
                {"created_at", s.created_at},
                {"updated_at", s.created_at}};
  }

  // ---- webhooks ----
  void emit(std::string event, json payload) {
    if (!webhook_url) return;
    webhook_queue.push_back(Webhook{std::move(event), std::move(payload)});
    if (!webhook_worker_running) {
      webhook_worker_running = true;
      asio::co_spawn(executor, worker(shared_from_this()), asio::detached);
    }
  }

  static asio::awaitable<void> worker(std::shared_ptr<State> self);

  void emit_review(const Pull& p, const FakeReview& r, const std::string& action) {
    json payload = {{"action", action},
                    {"review", review_json(p, r, true)},
                    {"pull_request", pull_json(p, false)},
                    {"repository", repo_json()},
                    {"sender", action == "dismissed" ? user_json(owner_user()) : user_json(r.user)}};
    emit("pull_request_review", std::move(payload));
  }

  void emit_edited(const Pull& p) {
    json payload = {{"action", "edited"},
                    {"number", p.pull.number},
                    {"changes", {{"body", {{"from", ""}}}}},
                    {"pull_request", pull_json(p, true)},
                    {"repository", repo_json()},
                    {"sender", user_json(p.pull.author)}};
    emit("pull_request", std::move(payload));
  }

  void emit_closed(const Pull& p) {
    json payload = {{"action", "closed"},
                    {"number", p.pull.number},
                    {"pull_request", pull_json(p, true)},
                    {"repository", repo_json()},
                    {"sender", user_json(p.pull.author)}};
    emit("pull_request", std::move(payload));
  }

  json suite_json(const std::string& sha, const std::string& status, const json& conclusion, int runs_count) const {
    const auto id = suite_ids.contains(sha) ? suite_ids.at(sha) : 0;
    const auto it = commits.find(sha);
    const auto message = it == commits.end() ? std::string() : it->second.message;
    const auto date = it == commits.end() ? now_text() : it->second.date;
    const json person = {{"name", "fake-dev"}, {"email", "fake-dev@users.noreply.github.com"}};
    return json{{"id", id},
                {"node_id", "CS_fake" + std::to_string(id)},
                {"head_branch", "main"},
                {"head_sha", sha},
                {"status", status},
                {"conclusion", conclusion},
                {"url", repo_api() + "/check-suites/" + std::to_string(id)},
                {"before", nullptr},
                {"after", sha},
                {"pull_requests", json::array()},
                {"app", app_json("github-actions")},
                {"created_at", date},
                {"updated_at", now_text()},
                {"latest_check_runs_count", runs_count},
                {"check_runs_url", repo_api() + "/check-suites/" + std::to_string(id) + "/check-runs"},
                {"head_commit",
                 {{"id", sha},
                  {"tree_id", sha},
                  {"message", message},
                  {"timestamp", date},
                  {"author", person},
                  {"committer", person}}}};
  }

  void emit_run(const Run& r) {
    const bool completed = r.run.status == "completed";
    json run = run_json(r);
    run["check_suite"] = suite_json(r.sha, completed ? "completed" : "in_progress", nullptr, 0);
    json payload = {{"action", completed ? "completed" : "created"},
                    {"check_run", run},
                    {"repository", repo_json()},
                    {"sender", user_json(bot_user(), "Bot")}};
    emit("check_run", std::move(payload));
    // The suite (all runs of the commit) completes when its last run does.
    int count = 0;
    bool all_completed = true, failed = false;
    for (const auto& other : runs) {
      if (other.sha != r.sha) continue;
      ++count;
      all_completed = all_completed && other.run.status == "completed";
      const auto c = other.run.conclusion.value_or("");
      failed = failed || c == "failure" || c == "timed_out" || c == "cancelled" || c == "action_required" ||
               c == "startup_failure" || c == "stale";
    }
    if (completed && all_completed) {
      json suite = {{"action", "completed"},
                    {"check_suite", suite_json(r.sha, "completed", failed ? "failure" : "success", count)},
                    {"repository", repo_json()},
                    {"sender", user_json(bot_user(), "Bot")}};
      emit("check_suite", std::move(suite));
    }
  }

  void emit_status(const Status& s) {
    json payload = {{"id", s.id},
                    {"sha", s.sha},
                    {"name", full_name()},
                    {"target_url", optional_text(s.status.target_url)},
                    {"avatar_url", nullptr},
                    {"context", s.status.context},
                    {"description", optional_text(s.status.description)},
                    {"state", s.status.state},
                    {"commit", commit_json(s.sha)},
                    {"branches", json::array()},
                    {"created_at", s.created_at},
                    {"updated_at", s.created_at},
                    {"repository", repo_json()},
                    {"sender", user_json(bot_user(), "Bot")}};
    emit("status", std::move(payload));
  }

  // ---- state changes ----
  int add_pull(FakePull pull) {
    if (pull.number == 0) pull.number = next_pull;
    next_pull = std::max(next_pull, pull.number + 1);
    Pull p;
    p.id = next_id++;
    p.base_sha = main_line.empty() ? std::string() : main_line.back();
    p.created_at = p.updated_at = now_text();
    const bool merged = pull.merge_commit_sha.has_value();
    if (merged) {
      p.merged_at = p.created_at;
      if (!pull.merge_commit_sha->empty() && !commits.contains(*pull.merge_commit_sha))
        add_commit(*pull.merge_commit_sha, pull.title, tip(), true);
    }
    for (auto& r : pull.reviews) {
      if (r.id == 0) r.id = next_id++;
      if (r.commit_id.empty()) r.commit_id = pull.head_sha;
      if (r.submitted_at.empty()) r.submitted_at = p.created_at;
    }
    p.pull = std::move(pull);
    pulls.push_back(std::move(p));
    const auto number = pulls.back().pull.number;
    if (merged) emit_closed(pulls.back());
    changed();
    return number;
  }

  std::string tip() const { return main_line.empty() ? std::string() : main_line.back(); }

  std::int64_t add_review(int number, FakeReview review) {
    auto* p = find_pull(number);
    if (p == nullptr) throw std::invalid_argument("FakeGitHub::add_review: no pull request #" + std::to_string(number));
    if (review.id == 0) review.id = next_id++;
    if (review.commit_id.empty()) review.commit_id = p->pull.head_sha;
    if (review.submitted_at.empty()) review.submitted_at = now_text();
    p->pull.reviews.push_back(review);
    if (review.state != "PENDING") emit_review(*p, review, "submitted");
    changed();
    return review.id;
  }

  // ---- persistence ----
  static json user_state(const FakeGitHubUser& u) { return json{{"id", u.id}, {"login", u.login}}; }
  static FakeGitHubUser user_from(const json& j) {
    return FakeGitHubUser{j.value("id", std::int64_t{0}), j.value("login", std::string())};
  }
  static std::optional<std::string> opt_from(const json& j, const char* key) {
    if (j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
    return std::nullopt;
  }
};

namespace {

asio::awaitable<std::expected<int, AdapterError>> post_delivery(std::shared_ptr<FakeGitHub::State> state,
                                                                std::string url, std::string event, std::string body,
                                                                std::string delivery,
                                                                std::optional<std::string> signature) {
  adapters::HttpRequestSpec spec;
  spec.method = adapters::HttpMethod::post;
  spec.url = std::move(url);
  spec.headers = {{"Content-Type", "application/json"},
                  {"X-GitHub-Event", event},
                  {"X-GitHub-Delivery", delivery.empty() ? state->guid() : delivery},
                  {"X-GitHub-Hook-ID", "1"},
                  {"X-GitHub-Hook-Installation-Target-Type", "repository"},
                  {"X-GitHub-Hook-Installation-Target-ID", "1296269"}};
  if (!signature && !state->options.webhook_secret.empty()) {
    signature = "sha256=" + hmac_sha256_hex(state->options.webhook_secret, body);
  }
  if (signature && !signature->empty()) spec.headers.emplace_back("X-Hub-Signature-256", *signature);
  spec.body = std::move(body);
  spec.operation = "github.webhook";
  auto result = co_await state->webhook_client.request(std::move(spec));
  if (!result) co_return std::unexpected(std::move(result.error()));
  co_return result->status;
}

}  // namespace

asio::awaitable<void> FakeGitHub::State::worker(std::shared_ptr<State> self) {
  while (!self->webhook_queue.empty()) {
    auto hook = std::move(self->webhook_queue.front());
    self->webhook_queue.pop_front();
    if (!self->webhook_url) continue;
    auto body = hook.payload.dump(-1, ' ', false, json::error_handler_t::replace);
    auto result = co_await post_delivery(self, *self->webhook_url, hook.event, std::move(body), {}, {});
    if (result && *result >= 200 && *result < 300) {
      ++self->delivered;
    } else {
      ++self->failed;
    }
  }
  self->webhook_worker_running = false;
}

// ---------------------------------------------------------------------------------------------
// Requests

namespace {

using State = FakeGitHub::State;

struct Paging {
  std::size_t begin = 0, end = 0;
  std::string link;
};

// The slice of `total` items that page/per_page ask for, with GitHub's Link header (prev, next, last, first).
Paging paginate(const State& state, std::size_t total, const std::string& path, const Query& query,
                long default_per_page = 30) {
  long per_page = query_number(query, "per_page").value_or(default_per_page);
  if (per_page <= 0) per_page = default_per_page;
  per_page = std::min<long>(per_page, 100);
  if (state.per_page_cap > 0) per_page = std::min<long>(per_page, state.per_page_cap);
  long page = query_number(query, "page").value_or(1);
  if (page <= 0) page = 1;
  const long last = std::max<long>(
      1, static_cast<long>((total + static_cast<std::size_t>(per_page) - 1) / static_cast<std::size_t>(per_page)));
  Paging out;
  out.begin = std::min(total, static_cast<std::size_t>((page - 1) * per_page));
  out.end = std::min(total, out.begin + static_cast<std::size_t>(per_page));
  const auto url_of = [&](long p) {
    std::string q;
    for (const auto& [k, v] : query) {
      if (k == "page" || k == "per_page") continue;
      q += percent_encode(k) + "=" + percent_encode(v) + "&";
    }
    return "<" + state.api() + path + "?" + q + "per_page=" + std::to_string(per_page) + "&page=" + std::to_string(p) +
           ">";
  };
  std::vector<std::string> parts;
  if (page > 1) parts.push_back(url_of(std::min(page - 1, last)) + "; rel=\"prev\"");
  if (page < last) {
    parts.push_back(url_of(page + 1) + "; rel=\"next\"");
    parts.push_back(url_of(last) + "; rel=\"last\"");
  }
  if (page > 1) parts.push_back(url_of(1) + "; rel=\"first\"");
  for (std::size_t i = 0; i < parts.size(); ++i) out.link += (i ? ", " : "") + parts[i];
  return out;
}

template <class T, class F>
json page_array(const std::vector<T>& items, const Paging& paging, F to_json) {
  json out = json::array();
  for (std::size_t i = paging.begin; i < paging.end; ++i) out.push_back(to_json(items[i]));
  return out;
}

Answer compare(State& s, const std::string& path, const std::string& basehead, const Query& query) {
  const auto dots = basehead.find("...");
  if (dots == std::string::npos) return not_found();
  const auto base = s.resolve(basehead.substr(0, dots));
  const auto head = s.resolve(basehead.substr(dots + 3));
  if (!base || !head) return not_found();
  const auto base_chain = s.chain(*base);
  const auto head_chain = s.chain(*head);
  const std::set<std::string> in_base(base_chain.begin(), base_chain.end());
  std::size_t ahead = 0;
  while (ahead < head_chain.size() && !in_base.contains(head_chain[ahead])) ++ahead;
  if (ahead == head_chain.size()) {
    return error_answer(
        404, "No common ancestor between " + basehead.substr(0, dots) + " and " + basehead.substr(dots + 3) + ".");
  }
  const auto merge_base = head_chain[ahead];
  const auto behind = static_cast<std::size_t>(std::ranges::find(base_chain, merge_base) - base_chain.begin());
  std::vector<std::string> commits(head_chain.begin(), head_chain.begin() + static_cast<std::ptrdiff_t>(ahead));
  std::ranges::reverse(commits);  // oldest first

  Answer answer;
  Paging paging;
  const bool paged = query_value(query, "page") || query_value(query, "per_page") || s.per_page_cap > 0;
  if (paged) {
    paging = paginate(s, commits.size(), path, query);
    answer.link = paging.link;
  } else {  // no paging parameter: the newest 250 (the last one is the head)
    paging.begin = commits.size() > kCompareUnpaged ? commits.size() - kCompareUnpaged : 0;
    paging.end = commits.size();
  }
  const std::string status = ahead == 0 && behind == 0 ? "identical"
                             : behind == 0             ? "ahead"
                             : ahead == 0              ? "behind"
                                                       : "diverged";
  const auto html = s.repo_html() + "/compare/" + basehead;
  answer.body =
      json{{"url", s.api() + path},
           {"html_url", html},
           {"permalink_url",
            s.repo_html() + "/compare/" + s.options.owner + ":" + *base + "..." + s.options.owner + ":" + *head},
           {"diff_url", html + ".diff"},
           {"patch_url", html + ".patch"},
           {"base_commit", s.commit_json(*base)},
           {"merge_base_commit", s.commit_json(merge_base)},
           {"status", status},
           {"ahead_by", ahead},
           {"behind_by", behind},
           {"total_commits", ahead},
           {"commits", page_array(commits, paging, [&](const std::string& sha) { return s.commit_json(sha); })},
           {"files", json::array()}};
  return answer;
}

// A ref for the commits/{ref}/... operations: resolved, or any 40-hex SHA (a commit the fake was told nothing
// about has no runs, statuses or pulls).
std::optional<std::string> commit_ref(const State& s, const std::string& ref) {
  if (auto sha = s.resolve(ref)) return sha;
  if (ref.size() == 40 && is_hex(ref)) return lower(ref);
  return std::nullopt;
}

Answer no_commit(const std::string& ref) { return error_answer(422, "No commit found for SHA: " + ref); }

Answer commit_pulls(State& s, const std::string& path, const std::string& ref, const Query& query) {
  const auto sha = commit_ref(s, ref);
  if (!sha) return no_commit(ref);
  std::vector<const State::Pull*> found;
  for (const auto& p : s.pulls) {
    if (p.pull.head_sha == *sha || p.pull.merge_commit_sha == *sha ||
        std::ranges::find(p.pull.commits, *sha) != p.pull.commits.end()) {
      found.push_back(&p);
    }
  }
  const auto paging = paginate(s, found.size(), path, query);
  return Answer{
      200, page_array(found, paging, [&](const State::Pull* p) { return s.pull_json(*p, false); }), paging.link, {}};
}

Answer check_runs(State& s, const std::string& path, const std::string& ref, const Query& query) {
  const auto sha = commit_ref(s, ref);
  if (!sha) return no_commit(ref);
  const auto name = query_value(query, "check_name");
  const auto status = query_value(query, "status");
  std::vector<const State::Run*> found;
  for (const auto& r : s.runs) {
    if (r.sha != *sha) continue;
    if (name && r.run.name != *name) continue;
    if (status && r.run.status != *status) continue;
    found.push_back(&r);
  }
  const auto paging = paginate(s, found.size(), path, query);
  return Answer{200,
                json{{"total_count", found.size()},
                     {"check_runs", page_array(found, paging, [&](const State::Run* r) { return s.run_json(*r); })}},
                paging.link,
                {}};
}

Answer combined_status(State& s, const std::string& path, const std::string& ref, const Query& query) {
  const auto sha = commit_ref(s, ref);
  if (!sha) return no_commit(ref);
  // The latest status per context, in the order the contexts first appeared.
  std::vector<const State::Status*> latest;
  for (const auto& st : s.statuses) {
    if (st.sha != *sha) continue;
    const auto it =
        std::ranges::find_if(latest, [&](const State::Status* x) { return x->status.context == st.status.context; });
    if (it == latest.end()) {
      latest.push_back(&st);
    } else {
      *it = &st;
    }
  }
  std::string state = latest.empty() ? "pending" : "success";
  for (const auto* st : latest) {
    if (st->status.state == "error" || st->status.state == "failure") {
      state = "failure";
      break;
    }
    if (st->status.state == "pending") state = "pending";
  }
  const auto paging = paginate(s, latest.size(), path, query);
  return Answer{
      200,
      json{{"state", state},
           {"statuses", page_array(latest, paging, [&](const State::Status* st) { return s.status_json(*st); })},
           {"sha", *sha},
           {"total_count", latest.size()},
           {"repository", s.repo_json()},
           {"commit_url", s.repo_api() + "/commits/" + *sha},
           {"url", s.repo_api() + "/commits/" + *sha + "/status"}},
      paging.link,
      {}};
}

Answer pull_route(State& s, const std::string& path, const std::vector<std::string>& rest, const Query& query) {
  // rest: {n} or {n, reviews} or {n, files}
  if (rest.empty() || rest.size() > 2 || rest[0].empty() ||
      !std::ranges::all_of(rest[0], [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      rest[0].size() > 9) {
    return not_found();
  }
  auto* p = s.find_pull(std::stoi(rest[0]));
  if (p == nullptr) return not_found();
  if (rest.size() == 1) return Answer{200, s.pull_json(*p, true), {}, {}};
  if (rest[1] == "reviews") {
    const auto paging = paginate(s, p->pull.reviews.size(), path, query);
    return Answer{200,
                  page_array(p->pull.reviews, paging, [&](const FakeReview& r) { return s.review_json(*p, r, false); }),
                  paging.link,
                  {}};
  }
  if (rest[1] == "files") {
    const auto paging = paginate(s, p->pull.files.size(), path, query);
    return Answer{
        200, page_array(p->pull.files, paging, [&](const FakeFile& f) { return s.file_json(*p, f); }), paging.link, {}};
  }
  return not_found();
}

Answer create_ref(State& s, const std::string& body_text) {
  const json body = json::parse(body_text, nullptr, false);
  if (!body.is_object()) return error_answer(400, "Problems parsing JSON");
  if (!body.contains("ref") || !body["ref"].is_string() || !body.contains("sha") || !body["sha"].is_string()) {
    return error_answer(422, "Invalid request.\n\n\"ref\" and \"sha\" are required.");
  }
  const auto ref = body["ref"].get<std::string>();
  const auto sha = body["sha"].get<std::string>();
  if (!ref.starts_with("refs/") || std::ranges::count(ref, '/') < 2 || ref.ends_with("/")) {
    return error_answer(422, "Reference name is invalid");
  }
  if (!s.commits.contains(sha)) return error_answer(422, "Object does not exist");
  if (s.refs.contains(ref)) return error_answer(422, "Reference already exists");
  s.refs[ref] = sha;
  s.changed();
  const auto url = s.repo_api() + "/git/" + ref;
  Answer answer{201,
                json{{"ref", ref},
                     {"node_id", "REF_fake" + digest_hex(EVP_sha1(), ref).substr(0, 16)},
                     {"url", url},
                     {"object", {{"type", "commit"}, {"sha", sha}, {"url", s.repo_api() + "/git/commits/" + sha}}}},
                {},
                {{"Location", url}}};
  return answer;
}

Answer team_membership(State& s, const std::vector<std::string>& parts) {
  // parts: orgs, {org}, teams, {team}, memberships, {user}
  if (!iequal(parts[1], s.options.org)) return not_found();
  const auto it = s.teams.find(parts[3]);
  if (it == s.teams.end()) return not_found();
  const auto member =
      std::ranges::find_if(it->second, [&](const FakeGitHubUser& u) { return iequal(u.login, parts[5]); });
  if (member == it->second.end()) return not_found();
  const auto team_id = static_cast<std::size_t>(std::distance(s.teams.begin(), it)) + 1;
  return Answer{200,
                json{{"url", s.api() + "/teams/" + std::to_string(team_id) + "/memberships/" + member->login},
                     {"role", "member"},
                     {"state", "active"}},
                {},
                {}};
}

Answer route(State& s, http::verb method, const std::string& path, const Query& query, const std::string& body) {
  std::vector<std::string> parts;
  for (const auto& part : split(std::string_view(path).substr(1), '/')) parts.push_back(percent_decode(part));
  if (parts.size() >= 3 && parts[0] == "repos") {
    if (!iequal(parts[1], s.options.owner) || !iequal(parts[2], s.options.repo)) return not_found();
    const std::vector<std::string> rest(parts.begin() + 3, parts.end());
    if (rest.empty()) return not_found();
    if (method == http::verb::post) {
      if (rest.size() == 2 && rest[0] == "git" && rest[1] == "refs") return create_ref(s, body);
      return not_found();
    }
    if (method != http::verb::get) return not_found();
    const auto joined = [&](std::size_t from, std::size_t to) {  // a ref with slashes ("tags/v1")
      std::string out;
      for (std::size_t i = from; i < to; ++i) out += (i > from ? "/" : "") + rest[i];
      return out;
    };
    if (rest[0] == "compare" && rest.size() >= 2) return compare(s, path, joined(1, rest.size()), query);
    if (rest[0] == "commits" && rest.size() >= 3) {
      const auto ref = joined(1, rest.size() - 1);
      if (rest.back() == "pulls") return commit_pulls(s, path, ref, query);
      if (rest.back() == "check-runs") return check_runs(s, path, ref, query);
      if (rest.back() == "status") return combined_status(s, path, ref, query);
      return not_found();
    }
    if (rest[0] == "pulls") return pull_route(s, path, std::vector<std::string>(rest.begin() + 1, rest.end()), query);
    return not_found();
  }
  if (method == http::verb::get && parts.size() == 6 && parts[0] == "orgs" && parts[2] == "teams" &&
      parts[4] == "memberships") {
    return team_membership(s, parts);
  }
  return not_found();
}

void set_rate_headers(const State& s, Response& response) {
  response.set("x-ratelimit-limit", std::to_string(s.options.rate_limit));
  response.set("x-ratelimit-remaining", std::to_string(s.remaining()));
  response.set("x-ratelimit-used", std::to_string(s.used));
  response.set("x-ratelimit-reset", std::to_string(s.reset_at));
  response.set("x-ratelimit-resource", "core");
}

Response make_response(const State& s, const Request& request, int status, const std::string& body) {
  Response response{static_cast<http::status>(status), request.version()};
  response.set(http::field::server, "fake-github");
  if (!body.empty()) response.set(http::field::content_type, "application/json; charset=utf-8");
  response.set("x-github-api-version-selected", "2022-11-28");
  response.set("x-github-request-id", "FAKE:" + std::to_string(s.request_counter));
  response.body() = body;
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

Response json_response(const State& s, const Request& request, const Answer& answer) {
  auto response =
      make_response(s, request, answer.status, answer.body.dump(-1, ' ', false, json::error_handler_t::replace));
  for (const auto& [name, value] : answer.headers) response.set(name, value);
  if (!answer.link.empty()) response.set(http::field::link, answer.link);
  return response;
}

Answer admin(FakeGitHub& fake, State& s, http::verb method, const std::string& path, const std::string& body_text);

Response handle(FakeGitHub& fake, State& s, const Request& request) {
  const std::string target(request.target());
  const auto question = target.find('?');
  const std::string path = target.substr(0, question);
  const Query query =
      question == std::string::npos ? Query{} : parse_query(std::string_view(target).substr(question + 1));
  ++s.request_counter;

  if (s.options.admin_routes && path.starts_with("/_fake/")) {
    try {
      return json_response(s, request, admin(fake, s, request.method(), path, request.body()));
    } catch (const std::exception& e) {
      return json_response(s, request, error_answer(400, std::string("fake: ") + e.what()));
    }
  }

  FakeGitHubRequest record;
  record.method = std::string(request.method_string());
  record.target = target;
  const auto if_none_match = std::string(request[http::field::if_none_match]);
  record.conditional = !if_none_match.empty();
  s.roll_window();
  const auto finish = [&](Response response) {
    set_rate_headers(s, response);
    record.status = response.result_int();
    s.records.push_back(record);
    return response;
  };

  if (request[http::field::user_agent].empty()) {
    return finish(json_response(
        s, request,
        error_answer(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent "
            "header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).")));
  }
  const auto authorization = std::string(request[http::field::authorization]);
  if (authorization != "Bearer " + s.options.token && authorization != "token " + s.options.token) {
    return finish(json_response(s, request, error_answer(401, "Bad credentials")));
  }
  if (!s.faults.empty()) {
    const auto fault = s.faults.front();
    s.faults.pop_front();
    if (fault.secondary) {
      auto answer = error_answer(fault.status,
                                 "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                                 "again. If you reach out to GitHub Support for help, please include the request ID "
                                 "FAKE:" +
                                     std::to_string(s.request_counter) + ".");
      answer.body["documentation_url"] =
          "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
      answer.headers.emplace_back("retry-after", std::to_string(fault.retry_after));
      return finish(json_response(s, request, answer));
    }
    return finish(
        json_response(s, request, error_answer(fault.status, "injected HTTP " + std::to_string(fault.status))));
  }

  Answer answer;
  bool counts = true;
  if (path == "/rate_limit" && request.method() == http::verb::get) {
    counts = false;  // GitHub: "Accessing this endpoint does not count against your REST API rate limit."
    const json core = {
        {"limit", s.options.rate_limit}, {"used", s.used}, {"remaining", s.remaining()}, {"reset", s.reset_at}};
    answer.body = json{{"resources", {{"core", core}}}, {"rate", core}};
  } else if (s.remaining() <= 0) {
    auto exceeded = error_answer(403,
                                 "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
                                 "please include the request ID FAKE:" +
                                     std::to_string(s.request_counter) + ".");
    exceeded.body["documentation_url"] =
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit";
    return finish(json_response(s, request, exceeded));
  } else {
    answer = route(s, request.method(), path, query, request.body());
  }

  if (answer.status == 200 && request.method() == http::verb::get) {
    const auto body = answer.body.dump(-1, ' ', false, json::error_handler_t::replace);
    const auto etag = "\"" + digest_hex(EVP_sha256(), body + "\n" + answer.link) + "\"";
    if (!if_none_match.empty() && if_none_match_hits(if_none_match, etag)) {
      ++s.not_modified;
      auto response = make_response(s, request, 304, "");
      response.set(http::field::etag, etag);
      if (!answer.link.empty()) response.set(http::field::link, answer.link);
      return finish(std::move(response));
    }
    if (counts) ++s.used;
    answer.headers.emplace_back("ETag", etag);
    answer.headers.emplace_back("Cache-Control", "private, max-age=60, s-maxage=60");
    answer.headers.emplace_back("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP");
    return finish(json_response(s, request, answer));
  }
  if (counts) ++s.used;
  return finish(json_response(s, request, answer));
}

// ---- admin routes (options.admin_routes: the demo's main) ----

FakeGitHubUser user_arg(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("a user is {\"login\": ..., \"id\": ...}");
  return FakeGitHubUser{j.value("id", std::int64_t{0}), j.value("login", std::string())};
}

Answer admin(FakeGitHub& fake, State& s, http::verb method, const std::string& path, const std::string& body_text) {
  json body = body_text.empty() ? json::object() : json::parse(body_text);
  if (!body.is_object()) throw std::invalid_argument("the body must be a JSON object");
  const auto parts = split(std::string_view(path).substr(1), '/');  // _fake, ...
  const auto ok = [](json j) { return Answer{200, std::move(j), {}, {}}; };
  if (method == http::verb::get) {
    if (path == "/_fake/tags") return ok(json(fake.tags()));
    if (path == "/_fake/state") return ok(fake.state_json());
    if (path == "/_fake/requests") {
      json out = json::array();
      for (const auto& r : s.records) {
        out.push_back(
            json{{"method", r.method}, {"target", r.target}, {"status", r.status}, {"conditional", r.conditional}});
      }
      return ok(out);
    }
    return not_found();
  }
  if (method != http::verb::post) return not_found();
  if (path == "/_fake/commits") {
    const auto sha = body.value("sha", std::string());
    const auto message = body.value("message", std::string("commit"));
    if (body.contains("parent")) return ok(json{{"sha", fake.branch_commit(body["parent"].get<std::string>(), sha)}});
    return ok(json{{"sha", fake.push_commit(sha, message)}});
  }
  if (path == "/_fake/pulls") {
    FakePull pull;
    pull.number = body.value("number", 0);
    if (body.contains("author")) pull.author = user_arg(body["author"]);
    pull.title = body.value("title", pull.title);
    pull.body = body.value("body", std::string());
    pull.base_ref = body.value("base_ref", pull.base_ref);
    pull.head_ref = body.value("head_ref", pull.head_ref);
    pull.head_sha = body.value("head_sha", std::string());
    if (body.contains("merge_commit_sha") && body["merge_commit_sha"].is_string()) {
      pull.merge_commit_sha = body["merge_commit_sha"].get<std::string>();
    }
    pull.commits = body.value("commits", std::vector<std::string>());
    for (const auto& f : body.value("files", json::array())) {
      FakeFile file;
      file.filename = f.at("filename").get<std::string>();
      file.status = f.value("status", file.status);
      if (f.contains("patch") && f["patch"].is_string()) file.patch = f["patch"].get<std::string>();
      file.additions = f.value("additions", file.additions);
      file.deletions = f.value("deletions", file.deletions);
      pull.files.push_back(std::move(file));
    }
    if (pull.head_sha.empty() && !pull.commits.empty()) pull.head_sha = pull.commits.back();
    return ok(json{{"number", fake.add_pull(std::move(pull))}});
  }
  if (parts.size() >= 3 && parts[1] == "pulls") {
    const int number = std::stoi(parts[2]);
    if (parts.size() == 4 && parts[3] == "merge") {
      fake.merge_pull(number, body.at("merge_commit_sha").get<std::string>());
      return ok(json{{"number", number}});
    }
    if (parts.size() == 4 && parts[3] == "body") {
      fake.edit_pull_body(number, body.at("body").get<std::string>());
      return ok(json{{"number", number}});
    }
    if (parts.size() == 4 && parts[3] == "reviews") {
      FakeReview review;
      review.user = user_arg(body.at("user"));
      review.state = body.value("state", std::string("APPROVED"));
      review.commit_id = body.value("commit_id", std::string());
      review.submitted_at = body.value("submitted_at", std::string());
      review.body = body.value("body", std::string());
      return ok(json{{"id", fake.add_review(number, std::move(review))}});
    }
    if (parts.size() == 6 && parts[3] == "reviews" && parts[5] == "dismiss") {
      fake.dismiss_review(number, std::stoll(parts[4]));
      return ok(json{{"id", std::stoll(parts[4])}});
    }
    return not_found();
  }
  if (path == "/_fake/check-runs") {
    FakeCheckRun run;
    run.name = body.at("name").get<std::string>();
    run.status = body.value("status", run.status);
    if (body.contains("conclusion")) run.conclusion = optional_string_of(body["conclusion"]);
    run.summary = body.value("summary", std::string());
    run.text = body.value("text", std::string());
    run.title = body.value("title", std::string());
    run.app_slug = body.value("app", run.app_slug);
    fake.set_check_run(body.at("sha").get<std::string>(), std::move(run));
    return ok(json::object());
  }
  if (path == "/_fake/statuses") {
    FakeStatus status;
    status.context = body.at("context").get<std::string>();
    status.state = body.value("state", status.state);
    status.description = body.value("description", std::string());
    status.target_url = body.value("target_url", std::string());
    fake.set_status(body.at("sha").get<std::string>(), std::move(status));
    return ok(json::object());
  }
  if (path == "/_fake/team-members") {
    fake.add_team_member(body.at("team").get<std::string>(), user_arg(body));
    return ok(json::object());
  }
  if (path == "/_fake/secondary-rate-limit") {
    fake.secondary_rate_limit_next(body.value("n", 1), body.value("retry_after", 60), body.value("status", 403));
    return ok(json::object());
  }
  if (path == "/_fake/fail") {
    fake.fail_next(body.value("n", 1), body.value("status", 502));
    return ok(json::object());
  }
  return not_found();
}

asio::awaitable<void> serve_connection(std::shared_ptr<State> state, FakeGitHub* fake,
                                       std::shared_ptr<beast::tcp_stream> stream) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    boost::system::error_code ec;
    co_await http::async_read(*stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    Request request = parser.release();
    std::optional<Response> response;
    try {
      response = handle(*fake, *state, request);
    } catch (const std::exception& e) {  // a bug in the fake must not take the test's io_context down
      response = json_response(*state, request, error_answer(500, std::string("fake: ") + e.what()));
    }
    co_await http::async_write(*stream, *response, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !response->keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream->socket().close(ignored);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

FakeGitHub::FakeGitHub(asio::any_io_executor executor, FakeGitHubOptions options)
    : state_(std::make_shared<State>(std::move(executor), std::move(options))) {}

FakeGitHub::~FakeGitHub() { stop(); }

void FakeGitHub::start(unsigned short port) {
  state_->listener.start(port, [state = state_, self = this](std::shared_ptr<beast::tcp_stream> stream) {
    return serve_connection(state, self, std::move(stream));
  });
}

void FakeGitHub::stop() {
  state_->listener.stop();
  state_->webhook_url.reset();
  state_->webhook_queue.clear();
}

unsigned short FakeGitHub::port() const { return state_->listener.port(); }

std::string FakeGitHub::url() const { return state_->api(); }

std::string FakeGitHub::push_commit(std::string sha, std::string message) {
  return state_->add_commit(std::move(sha), std::move(message), state_->tip(), true);
}

std::string FakeGitHub::branch_commit(const std::string& parent, std::string sha) {
  return state_->add_commit(std::move(sha), "branch commit", parent, false);
}

int FakeGitHub::add_pull(FakePull pull) { return state_->add_pull(std::move(pull)); }

void FakeGitHub::merge_pull(int number, const std::string& merge_commit_sha) {
  auto& s = *state_;
  auto* p = s.find_pull(number);
  if (p == nullptr) throw std::invalid_argument("FakeGitHub::merge_pull: no pull request #" + std::to_string(number));
  if (!s.commits.contains(merge_commit_sha)) s.add_commit(merge_commit_sha, p->pull.title, s.tip(), true);
  p->pull.merge_commit_sha = merge_commit_sha;
  p->merged_at = s.now_text();
  p->updated_at = *p->merged_at;
  s.emit_closed(*p);
  s.changed();
}

std::int64_t FakeGitHub::add_review(int number, FakeReview review) {
  return state_->add_review(number, std::move(review));
}

void FakeGitHub::dismiss_review(int number, std::int64_t review_id) {
  auto& s = *state_;
  auto* p = s.find_pull(number);
  if (p == nullptr)
    throw std::invalid_argument("FakeGitHub::dismiss_review: no pull request #" + std::to_string(number));
  const auto it = std::ranges::find(p->pull.reviews, review_id, &FakeReview::id);
  if (it == p->pull.reviews.end()) {
    throw std::invalid_argument("FakeGitHub::dismiss_review: no review " + std::to_string(review_id));
  }
  it->state = "DISMISSED";
  s.emit_review(*p, *it, "dismissed");
  s.changed();
}

FakeCheckRun completed_check_run(std::string name, std::string summary) {
  FakeCheckRun run;
  run.name = std::move(name);
  run.summary = std::move(summary);
  return run;
}

FakeFile added_file(std::string filename, std::string patch) {
  FakeFile file;
  file.filename = std::move(filename);
  file.status = "added";
  file.patch = std::move(patch);
  return file;
}

FakeReview approval_by(const FakeGitHubUser& user) {
  FakeReview review;
  review.user = user;
  review.state = "APPROVED";
  return review;
}

void FakeGitHub::edit_pull_body(int number, std::string body) {
  auto& s = *state_;
  auto* p = s.find_pull(number);
  if (p == nullptr)
    throw std::invalid_argument("FakeGitHub::edit_pull_body: no pull request #" + std::to_string(number));
  p->pull.body = std::move(body);
  s.emit_edited(*p);
  s.changed();
}

void FakeGitHub::set_check_run(const std::string& sha, FakeCheckRun run) {
  auto& s = *state_;
  std::erase_if(s.runs, [&](const State::Run& r) { return r.sha == sha && r.run.name == run.name; });
  s.suite_id(sha);
  State::Run r;
  r.id = s.next_id++;
  r.sha = sha;
  r.started_at = s.now_text();
  if (run.status == "completed") r.completed_at = r.started_at;
  r.run = std::move(run);
  s.runs.push_back(std::move(r));
  s.emit_run(s.runs.back());
  s.changed();
}

void FakeGitHub::set_status(const std::string& sha, FakeStatus status) {
  auto& s = *state_;
  State::Status st;
  st.id = s.next_id++;
  st.sha = sha;
  st.status = std::move(status);
  st.created_at = s.now_text();
  s.statuses.push_back(std::move(st));
  s.emit_status(s.statuses.back());
  s.changed();
}

void FakeGitHub::add_team_member(const std::string& team_slug, const FakeGitHubUser& user) {
  auto& members = state_->teams[team_slug];
  std::erase_if(members, [&](const FakeGitHubUser& u) { return iequal(u.login, user.login); });
  members.push_back(user);
  state_->changed();
}

std::optional<std::string> FakeGitHub::tag(const std::string& name) const {
  const auto it = state_->refs.find("refs/tags/" + name);
  if (it == state_->refs.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, std::string> FakeGitHub::tags() const {
  std::map<std::string, std::string> out;
  for (const auto& [ref, sha] : state_->refs) {
    if (ref.starts_with("refs/tags/")) out[ref.substr(10)] = sha;
  }
  return out;
}

std::vector<FakeGitHubRequest> FakeGitHub::requests() const { return state_->records; }

int FakeGitHub::count(std::string_view path_prefix) const {
  return static_cast<int>(std::ranges::count_if(state_->records, [&](const FakeGitHubRequest& r) {
    return std::string_view(r.target).substr(0, r.target.find('?')).starts_with(path_prefix);
  }));
}

int FakeGitHub::not_modified_count() const { return state_->not_modified; }

long FakeGitHub::rate_remaining() const {
  state_->roll_window();
  return state_->remaining();
}

void FakeGitHub::secondary_rate_limit_next(int n, int retry_after_seconds, int http_status) {
  for (int i = 0; i < n; ++i) state_->faults.push_back(State::Fault{http_status, retry_after_seconds, true});
}

void FakeGitHub::fail_next(int n, int http_status) {
  for (int i = 0; i < n; ++i) state_->faults.push_back(State::Fault{http_status, 0, false});
}

void FakeGitHub::set_per_page_cap(int cap) { state_->per_page_cap = cap; }

void FakeGitHub::set_webhook(std::optional<std::string> url) { state_->webhook_url = std::move(url); }

asio::awaitable<std::expected<int, AdapterError>> FakeGitHub::deliver(std::string url, std::string event,
                                                                      nlohmann::json payload, std::string delivery,
                                                                      std::optional<std::string> signature) {
  auto state = state_;
  auto body = payload.dump(-1, ' ', false, json::error_handler_t::replace);
  co_return co_await post_delivery(state, std::move(url), std::move(event), std::move(body), std::move(delivery),
                                   std::move(signature));
}

asio::awaitable<void> FakeGitHub::flush_webhooks() {
  auto state = state_;
  while (state->webhook_worker_running) co_await pause(state->executor, std::chrono::milliseconds(5));
}

int FakeGitHub::webhooks_delivered() const { return state_->delivered; }

int FakeGitHub::webhooks_failed() const { return state_->failed; }

// ---- persistence ----

nlohmann::json FakeGitHub::state_json() const {
  const auto& s = *state_;
  json commits = json::array();
  for (const auto& sha : s.commit_order) {
    const auto& c = s.commits.at(sha);
    commits.push_back(json{{"sha", c.sha},
                           {"message", c.message},
                           {"parent", c.parent},
                           {"date", c.date},
                           {"author", State::user_state(c.author)}});
  }
  json pulls = json::array();
  for (const auto& p : s.pulls) {
    json reviews = json::array();
    for (const auto& r : p.pull.reviews) {
      reviews.push_back(json{{"id", r.id},
                             {"user", State::user_state(r.user)},
                             {"state", r.state},
                             {"commit_id", r.commit_id},
                             {"submitted_at", r.submitted_at},
                             {"body", r.body}});
    }
    json files = json::array();
    for (const auto& f : p.pull.files) {
      files.push_back(json{{"filename", f.filename},
                           {"status", f.status},
                           {"patch", optional_json(f.patch)},
                           {"additions", f.additions},
                           {"deletions", f.deletions}});
    }
    pulls.push_back(json{{"number", p.pull.number},
                         {"id", p.id},
                         {"author", State::user_state(p.pull.author)},
                         {"title", p.pull.title},
                         {"body", p.pull.body},
                         {"base_ref", p.pull.base_ref},
                         {"head_ref", p.pull.head_ref},
                         {"head_sha", p.pull.head_sha},
                         {"merge_commit_sha", optional_json(p.pull.merge_commit_sha)},
                         {"commits", p.pull.commits},
                         {"files", files},
                         {"reviews", reviews},
                         {"base_sha", p.base_sha},
                         {"created_at", p.created_at},
                         {"updated_at", p.updated_at},
                         {"merged_at", optional_json(p.merged_at)}});
  }
  json runs = json::array();
  for (const auto& r : s.runs) {
    runs.push_back(json{{"id", r.id},
                        {"sha", r.sha},
                        {"name", r.run.name},
                        {"status", r.run.status},
                        {"conclusion", optional_json(r.run.conclusion)},
                        {"summary", r.run.summary},
                        {"text", r.run.text},
                        {"title", r.run.title},
                        {"app_slug", r.run.app_slug},
                        {"started_at", r.started_at},
                        {"completed_at", optional_json(r.completed_at)}});
  }
  json statuses = json::array();
  for (const auto& st : s.statuses) {
    statuses.push_back(json{{"id", st.id},
                            {"sha", st.sha},
                            {"context", st.status.context},
                            {"state", st.status.state},
                            {"description", st.status.description},
                            {"target_url", st.status.target_url},
                            {"created_at", st.created_at}});
  }
  json teams = json::object();
  for (const auto& [slug, members] : s.teams) {
    json list = json::array();
    for (const auto& u : members) list.push_back(State::user_state(u));
    teams[slug] = list;
  }
  return json{{"version", 1},
              {"commits", commits},
              {"main", s.main_line},
              {"refs", s.refs},
              {"pulls", pulls},
              {"check_runs", runs},
              {"statuses", statuses},
              {"teams", teams},
              {"suite_ids", s.suite_ids},
              {"next_pull", s.next_pull},
              {"next_id", s.next_id},
              {"next_commit", s.next_commit}};
}

std::expected<void, std::string> FakeGitHub::load_state_json(const nlohmann::json& j) {
  if (!j.is_object() || j.value("version", 0) != 1) return std::unexpected("not a fake GitHub state (version 1)");
  try {
    State fresh(state_->executor, state_->options);
    for (const auto& c : j.at("commits")) {
      State::Commit commit;
      commit.sha = c.at("sha").get<std::string>();
      commit.message = c.value("message", std::string());
      commit.parent = c.value("parent", std::string());
      commit.date = c.value("date", std::string());
      if (c.contains("author")) commit.author = State::user_from(c["author"]);
      fresh.commit_order.push_back(commit.sha);
      fresh.commits[commit.sha] = std::move(commit);
    }
    fresh.main_line = j.at("main").get<std::vector<std::string>>();
    fresh.refs = j.at("refs").get<std::map<std::string, std::string>>();
    for (const auto& item : j.at("pulls")) {
      State::Pull p;
      p.pull.number = item.at("number").get<int>();
      p.id = item.at("id").get<std::int64_t>();
      p.pull.author = State::user_from(item.at("author"));
      p.pull.title = item.value("title", std::string());
      p.pull.body = item.value("body", std::string());
      p.pull.base_ref = item.value("base_ref", std::string("main"));
      p.pull.head_ref = item.value("head_ref", std::string());
      p.pull.head_sha = item.value("head_sha", std::string());
      p.pull.merge_commit_sha = State::opt_from(item, "merge_commit_sha");
      p.pull.commits = item.value("commits", std::vector<std::string>());
      for (const auto& f : item.at("files")) {
        FakeFile file;
        file.filename = f.at("filename").get<std::string>();
        file.status = f.value("status", file.status);
        file.patch = State::opt_from(f, "patch");
        file.additions = f.value("additions", 0);
        file.deletions = f.value("deletions", 0);
        p.pull.files.push_back(std::move(file));
      }
      for (const auto& r : item.at("reviews")) {
        FakeReview review;
        review.id = r.at("id").get<std::int64_t>();
        review.user = State::user_from(r.at("user"));
        review.state = r.value("state", std::string());
        review.commit_id = r.value("commit_id", std::string());
        review.submitted_at = r.value("submitted_at", std::string());
        review.body = r.value("body", std::string());
        p.pull.reviews.push_back(std::move(review));
      }
      p.base_sha = item.value("base_sha", std::string());
      p.created_at = item.value("created_at", std::string());
      p.updated_at = item.value("updated_at", std::string());
      p.merged_at = State::opt_from(item, "merged_at");
      fresh.pulls.push_back(std::move(p));
    }
    for (const auto& item : j.at("check_runs")) {
      State::Run r;
      r.id = item.at("id").get<std::int64_t>();
      r.sha = item.at("sha").get<std::string>();
      r.run.name = item.at("name").get<std::string>();
      r.run.status = item.value("status", std::string("completed"));
      r.run.conclusion = State::opt_from(item, "conclusion");
      r.run.summary = item.value("summary", std::string());
      r.run.text = item.value("text", std::string());
      r.run.title = item.value("title", std::string());
      r.run.app_slug = item.value("app_slug", r.run.app_slug);
      r.started_at = item.value("started_at", std::string());
      r.completed_at = State::opt_from(item, "completed_at");
      fresh.runs.push_back(std::move(r));
    }
    for (const auto& item : j.at("statuses")) {
      State::Status st;
      st.id = item.at("id").get<std::int64_t>();
      st.sha = item.at("sha").get<std::string>();
      st.status.context = item.at("context").get<std::string>();
      st.status.state = item.value("state", std::string("success"));
      st.status.description = item.value("description", std::string());
      st.status.target_url = item.value("target_url", std::string());
      st.created_at = item.value("created_at", std::string());
      fresh.statuses.push_back(std::move(st));
    }
    for (const auto& [slug, members] : j.at("teams").items()) {
      for (const auto& u : members) fresh.teams[slug].push_back(State::user_from(u));
    }
    fresh.suite_ids = j.value("suite_ids", std::map<std::string, std::int64_t>());
    fresh.next_pull = j.value("next_pull", 1);
    fresh.next_id = j.value("next_id", std::int64_t{1000});
    fresh.next_commit = j.value("next_commit", std::uint64_t{1});
    auto& s = *state_;
    s.commit_order = std::move(fresh.commit_order);
    s.commits = std::move(fresh.commits);
    s.main_line = std::move(fresh.main_line);
    s.refs = std::move(fresh.refs);
    s.pulls = std::move(fresh.pulls);
    s.runs = std::move(fresh.runs);
    s.statuses = std::move(fresh.statuses);
    s.teams = std::move(fresh.teams);
    s.suite_ids = std::move(fresh.suite_ids);
    s.next_pull = fresh.next_pull;
    s.next_id = fresh.next_id;
    s.next_commit = fresh.next_commit;
  } catch (const std::exception& e) {
    return std::unexpected(std::string("bad fake GitHub state: ") + e.what());
  }
  return {};
}

void FakeGitHub::on_change(std::function<void()> callback) { state_->change_callback = std::move(callback); }

}  // namespace promoter::fakes
