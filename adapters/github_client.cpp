#include "adapters/github_client.hpp"

#include "adapters/url_encode.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdint>
#include <list>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>

#include "adapters/json_field.hpp"
#include "core/time.hpp"

namespace promoter::adapters {

namespace asio = boost::asio;
using nlohmann::json;
using SystemClock = std::chrono::system_clock;
using std::chrono::milliseconds;

namespace {

// Facts: adapters/github_reference.md.
constexpr int kPerPage = 100;
constexpr int kMaxPages = 100;                        // 10,000 items: more is a wrong range, not a release
constexpr std::chrono::seconds kSecondaryWait{60};    // a secondary limit that says nothing: wait a minute
constexpr std::chrono::seconds kMinLimitWait{1};      // a limit answer never retries at once
constexpr std::chrono::seconds kMaxResetWait{3'660};  // the primary window is an hour; beyond: a wrong clock

std::string clip(std::string_view text, std::size_t limit = 300) {
  std::string out;
  for (const char c : text.substr(0, limit)) out += std::isprint(static_cast<unsigned char>(c)) ? c : ' ';
  if (text.size() > limit) out += "...";
  return out;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_full_sha(std::string_view sha) {
  return sha.size() == 40 && std::ranges::all_of(sha, [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// scheme://host:port and the path of an absolute URL; what a Link may point at is checked against the endpoint's.
struct Origin {
  std::string scheme, host, port;
  std::string path;  // without query or fragment; "" for none
};

std::optional<Origin> origin_of(std::string_view url) {
  Origin out;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  out.scheme = lower(url.substr(0, scheme_end));
  if (out.scheme != "https" && out.scheme != "http") return std::nullopt;
  auto rest = url.substr(scheme_end + 3);
  const auto slash = rest.find_first_of("/?#");
  const auto authority = rest.substr(0, slash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(0, close + 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  out.host = lower(host);
  out.port = port.empty() ? (out.scheme == "https" ? "443" : "80") : std::string(port);
  if (slash != std::string_view::npos) {
    auto path = rest.substr(slash);
    path = path.substr(0, path.find_first_of("?#"));
    out.path = std::string(path);
  }
  return out;
}

std::string origin_text(const Origin& o) { return o.scheme + "://" + o.host + ":" + o.port; }

// Whether `next` is on the API's origin and under its root path (GitHub Enterprise Server: /api/v3).
bool within_api(const Origin& api, const Origin& next) {
  if (api.scheme != next.scheme || api.host != next.host || api.port != next.port) return false;
  std::string_view root = api.path;
  while (root.ends_with('/')) root.remove_suffix(1);
  if (root.empty()) return true;
  return next.path == root || next.path.starts_with(std::string(root) + "/");
}

std::string path_of(std::string_view url) {
  auto origin = origin_of(url);
  if (!origin) return "(an invalid URL)";
  return origin->path.empty() ? "/" : origin->path;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

// `Link: <url>; rel="next", <url>; rel="last"` (RFC 8288): the target whose rel names "next". Several links,
// spaces, quoted or bare parameter values, other parameters and several rel values are all read.
std::optional<std::string> github_next_link(std::string_view header) {
  std::size_t i = 0;
  const auto n = header.size();
  while (i < n) {
    while (i < n && (header[i] == ' ' || header[i] == '\t' || header[i] == ',')) ++i;
    if (i >= n) break;
    if (header[i] != '<') {  // junk: skip to the next link
      while (i < n && header[i] != ',') ++i;
      continue;
    }
    const auto close = header.find('>', i);
    if (close == std::string_view::npos) return std::nullopt;
    const auto target = header.substr(i + 1, close - i - 1);
    i = close + 1;
    bool next = false;
    // Parameters: ; name [= value], value a token or a quoted string; the link ends at a ',' outside quotes.
    while (i < n && header[i] != ',') {
      if (header[i] != ';') {
        ++i;
        continue;
      }
      ++i;
      const auto name_start = i;
      while (i < n && header[i] != '=' && header[i] != ';' && header[i] != ',') ++i;
      const auto name = lower(trim(header.substr(name_start, i - name_start)));
      std::string value;
      if (i < n && header[i] == '=') {
        ++i;
        while (i < n && (header[i] == ' ' || header[i] == '\t')) ++i;
        if (i < n && header[i] == '"') {
          ++i;
          while (i < n && header[i] != '"') {
            if (header[i] == '\\' && i + 1 < n) ++i;
            value += header[i++];
          }
          if (i < n) ++i;  // the closing quote
        } else {
          const auto value_start = i;
          while (i < n && header[i] != ';' && header[i] != ',') ++i;
          value = std::string(trim(header.substr(value_start, i - value_start)));
        }
      }
      if (name == "rel") {
        std::string_view rels = value;
        while (!rels.empty()) {
          const auto space = rels.find_first_of(" \t");
          if (lower(rels.substr(0, space)) == "next") next = true;
          if (space == std::string_view::npos) break;
          rels.remove_prefix(space + 1);
        }
      }
    }
    if (next && !target.empty()) return std::string(trim(target));
  }
  return std::nullopt;
}

namespace {

// The answers of conditional GETs, least recently used dropped beyond `capacity`.
class EtagCache {
 public:
  struct Entry {
    std::string etag, body, link;
  };

  explicit EtagCache(std::size_t capacity) : capacity_(capacity) {}

  std::shared_ptr<const Entry> find(const std::string& url) {
    std::lock_guard lock(mutex_);
    const auto it = index_.find(url);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }

  void put(const std::string& url, Entry entry) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mutex_);
    auto value = std::make_shared<const Entry>(std::move(entry));
    if (const auto it = index_.find(url); it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.emplace_front(url, std::move(value));
    index_[url] = order_.begin();
    while (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
  }

  void erase(const std::string& url) {
    std::lock_guard lock(mutex_);
    if (const auto it = index_.find(url); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return order_.size();
  }

 private:
  using Order = std::list<std::pair<std::string, std::shared_ptr<const Entry>>>;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  Order order_;  // most recently used first
  std::unordered_map<std::string, Order::iterator> index_;
};

std::optional<long> header_long(const HttpResult& r, const std::string& name) {
  const auto it = r.headers.find(name);
  if (it == r.headers.end()) return std::nullopt;
  const auto text = trim(it->second);
  long value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string header_text(const HttpResult& r, const std::string& name) {
  const auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

// GitHub's error body is {"message": "...", "documentation_url": "..."}.
std::string github_message(std::string_view body) {
  const json parsed = json::parse(body, nullptr, false);
  if (auto message = string_field(parsed, "message"); message && !message->empty()) return clip(*message);
  if (!body.empty()) return clip(body);
  return "(no message)";
}

asio::awaitable<void> timer_sleep(milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// ---- JSON → contract types ----

const json* field(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<std::int64_t> int_field(const json& object, std::string_view key) {
  const json* value = field(object, key);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_unsigned()) {
    const auto u = value->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (value->is_number_integer()) return value->get<std::int64_t>();
  return std::nullopt;
}

std::string nested_string(const json& object, std::string_view key, std::string_view inner) {
  const json* value = field(object, key);
  return value == nullptr ? std::string() : string_field(*value, inner).value_or("");
}

// A user object; null (a deleted account, "ghost") is id 0.
core::GitHubUser user_of(const json& object, std::string_view key) {
  core::GitHubUser user;
  const json* value = field(object, key);
  if (value == nullptr || !value->is_object()) return user;
  user.id = int_field(*value, "id").value_or(0);
  user.login = string_field(*value, "login").value_or("");
  return user;
}

// An optional RFC 3339 field: absent or null is nullopt, anything else must parse.
std::expected<std::optional<core::Timestamp>, std::string> time_field(const json& object, std::string_view key) {
  const json* value = field(object, key);
  if (value == nullptr || value->is_null()) return std::optional<core::Timestamp>();
  if (!value->is_string()) return std::unexpected("`" + std::string(key) + "` is not a string");
  auto parsed = core::parse_timestamp(value->get<std::string>());
  if (!parsed) return std::unexpected("`" + std::string(key) + "`: " + parsed.error().message);
  return std::optional<core::Timestamp>(*parsed);
}

std::expected<GitHubPull, std::string> pull_of(const json& j) {
  if (!j.is_object()) return std::unexpected("a pull request is not an object");
  GitHubPull pull;
  const auto number = int_field(j, "number");
  if (!number || *number < 1 || *number > INT_MAX) return std::unexpected("a pull request has no integer `number`");
  pull.number = static_cast<int>(*number);
  pull.author = user_of(j, "user");
  pull.url = string_field(j, "html_url").value_or("");
  pull.state = string_field(j, "state").value_or("");
  const json* merged_at = field(j, "merged_at");
  pull.merged = merged_at != nullptr && !merged_at->is_null();
  pull.base_ref = nested_string(j, "base", "ref");
  pull.head_sha = nested_string(j, "head", "sha");
  pull.body = string_field(j, "body").value_or("");
  if (pull.head_sha.empty()) return std::unexpected("pull request " + std::to_string(pull.number) + " has no head.sha");
  return pull;
}

std::expected<core::PullReview, std::string> review_of(const json& j) {
  if (!j.is_object()) return std::unexpected("a review is not an object");
  core::PullReview review;
  const auto id = int_field(j, "id");
  if (!id) return std::unexpected("a review has no integer `id`");
  review.id = *id;
  const std::string what = "review " + std::to_string(review.id);
  review.user = user_of(j, "user");
  const auto state_text = string_field(j, "state");
  if (!state_text) return std::unexpected(what + " has no string `state`");
  const auto state = core::parse_review_state(*state_text);
  if (!state) return std::unexpected(what + " has an unknown state \"" + clip(*state_text, 40) + "\"");
  review.state = *state;
  review.commit_id = string_field(j, "commit_id").value_or("");  // null when the commit is gone
  auto submitted = time_field(j, "submitted_at");                // PENDING reviews have none
  if (!submitted) return std::unexpected(what + ": " + submitted.error());
  review.submitted_at = submitted->value_or(core::Timestamp{});
  return review;
}

std::expected<core::PullFilePatch, std::string> file_of(const json& j) {
  if (!j.is_object()) return std::unexpected("a file is not an object");
  core::PullFilePatch file;
  auto filename = string_field(j, "filename");
  if (!filename) return std::unexpected("a file has no string `filename`");
  file.filename = std::move(*filename);
  file.status = string_field(j, "status").value_or("");
  file.patch = string_field(j, "patch");  // absent for binary and very large diffs
  return file;
}

// A check or status with what decides which of one name is the latest.
struct RankedCheck {
  core::CheckEvidence check;
  std::int64_t id = 0;
};

std::expected<RankedCheck, std::string> check_run_of(const json& j) {
  if (!j.is_object()) return std::unexpected("a check run is not an object");
  RankedCheck out;
  auto& c = out.check;
  c.source = core::CheckSource::check_run;
  auto name = string_field(j, "name");
  if (!name) return std::unexpected("a check run has no string `name`");
  c.name = std::move(*name);
  out.id = int_field(j, "id").value_or(0);
  c.completed = string_field(j, "status").value_or("") == "completed";
  c.conclusion = c.completed ? string_field(j, "conclusion").value_or("") : "";
  static const json kNone;
  const json* output = field(j, "output");
  const json& o = output != nullptr ? *output : kNone;
  c.summary = string_field(o, "title").value_or("") + "\n" + string_field(o, "summary").value_or("") + "\n" +
              string_field(o, "text").value_or("");
  auto completed_at = time_field(j, "completed_at");
  if (!completed_at) return std::unexpected("check run " + c.name + ": " + completed_at.error());
  auto started_at = time_field(j, "started_at");
  if (!started_at) return std::unexpected("check run " + c.name + ": " + started_at.error());
  c.at = completed_at->value_or(started_at->value_or(core::Timestamp{}));
  return out;
}

std::expected<RankedCheck, std::string> status_of(const json& j) {
  if (!j.is_object()) return std::unexpected("a status is not an object");
  RankedCheck out;
  auto& c = out.check;
  c.source = core::CheckSource::status;
  auto context = string_field(j, "context");
  if (!context) return std::unexpected("a status has no string `context`");
  c.name = std::move(*context);
  out.id = int_field(j, "id").value_or(0);
  const auto state = string_field(j, "state").value_or("");
  c.completed = !state.empty() && state != "pending";
  c.conclusion = c.completed ? state : "";
  c.summary = string_field(j, "description").value_or("");
  auto updated_at = time_field(j, "updated_at");
  if (!updated_at) return std::unexpected("status " + c.name + ": " + updated_at.error());
  c.at = updated_at->value_or(core::Timestamp{});
  return out;
}

}  // namespace

struct GitHubClient::Impl {
  HttpClient& http;
  GitHubClientOptions options;
  std::optional<Origin> api;
  EtagCache cache;
  std::mutex mutex;
  SystemClock::time_point blocked_until{};  // the back-off when there is no TokenBudget

  Impl(HttpClient& h, GitHubClientOptions o)
      : http(h), options(std::move(o)), api(origin_of(options.endpoint)), cache(options.etag_cache_entries) {
    while (options.endpoint.ends_with('/')) options.endpoint.pop_back();
    if (!options.now) options.now = [] { return SystemClock::now(); };
    if (!options.sleeper) options.sleeper = timer_sleep;
    options.secondary_limit_retries = std::max(options.secondary_limit_retries, 0);
  }

  std::string repo_url(std::string_view rest) const {
    return options.endpoint + "/repos/" + percent_encode(options.owner) + "/" + percent_encode(options.repo) +
           std::string(rest);
  }

  // Never the token in a message, whatever a server or a lower layer put there.
  std::string redact(std::string message) const {
    const auto& token = options.token;
    if (token.size() < 4) return message;  // too short to be a token; replacing would garble text
    for (auto at = message.find(token); at != std::string::npos; at = message.find(token, at)) {
      message.replace(at, token.size(), "[redacted]");
      at += 10;
    }
    return message;
  }

  AdapterError status_error(const std::string& where, const HttpResult& r, std::string note = {}) const {
    std::string message = "GitHub " + where + " answered " + std::to_string(r.status) + ": " + github_message(r.body);
    if (!note.empty()) message += " " + note;
    if (r.status == 401) message += " (check the GitHub token: it is missing, expired or revoked)";
    return AdapterError{AdapterError::Kind::http_status, r.status, redact(std::move(message))};
  }

  AdapterError protocol(const std::string& where, const std::string& what) const {
    return protocol_error(redact("GitHub " + where + ": " + what));
  }

  void report(std::string_view operation, int status, std::optional<long> remaining) const {
    if (!options.observer) return;
    const GitHubCall call{operation, status, remaining};
    options.observer(call);
  }

  // Every request of the token waits `delay`: in the shared budget, or here when there is none.
  void back_off(milliseconds delay) {
    if (delay <= milliseconds{0}) return;
    if (options.budget) {
      options.budget->back_off(delay);
      return;
    }
    std::lock_guard lock(mutex);
    blocked_until = std::max(blocked_until, options.now() + delay);
  }

  milliseconds until_reset(long reset_epoch_seconds) const {
    const SystemClock::time_point reset{std::chrono::seconds(reset_epoch_seconds)};
    const auto delay = std::chrono::ceil<milliseconds>(reset - options.now());
    return std::clamp<milliseconds>(delay, milliseconds{0}, kMaxResetWait);
  }

  // Without a budget, a back-off in force is waited out here (with a budget, HttpClient's acquire does it).
  asio::awaitable<void> wait_if_blocked() {
    if (options.budget) co_return;
    milliseconds wait{0};
    {
      std::lock_guard lock(mutex);
      const auto now = options.now();
      if (now < blocked_until) wait = std::chrono::ceil<milliseconds>(blocked_until - now);
    }
    if (wait > milliseconds{0}) co_await options.sleeper(wait);
  }

  // 429 always; a 403 when it carries Retry-After, says the primary allowance is spent, or says so in its
  // message (GitHub marks its secondary limits no other way; a plain 403 is a permission refusal).
  static bool rate_limited(const HttpResult& r, std::optional<long> remaining) {
    if (r.status == 429) return true;
    if (r.status != 403) return false;
    if (r.headers.contains("retry-after") || remaining == 0L) return true;
    return lower(github_message(r.body)).find("rate limit") != std::string::npos;
  }

  // One request with GitHub's protocol around HttpClient's: headers, the ETag cache, and the rate limits.
  // A 304 answers from the cache as a 200 carrying the cached body and Link.
  asio::awaitable<std::expected<HttpResult, AdapterError>> send(std::string operation, HttpMethod method,
                                                                std::string url, std::string body, std::string where) {
    for (int tries = 1;; ++tries) {
      co_await wait_if_blocked();
      std::shared_ptr<const EtagCache::Entry> cached;
      if (method == HttpMethod::get) cached = cache.find(url);
      HttpRequestSpec spec;
      spec.method = method;
      spec.url = url;
      spec.operation = operation;
      spec.budget = options.budget;
      spec.idempotent = false;  // POST git/refs: journalled by the caller, never repeated blindly
      spec.retry_429 = false;   // rate limits are handled below, for 403s and 429s alike
      spec.headers = {{"Accept", "application/vnd.github+json"},
                      {"X-GitHub-Api-Version", "2022-11-28"},
                      {"Authorization", "Bearer " + options.token}};
      if (cached) spec.headers.emplace_back("If-None-Match", cached->etag);
      if (method != HttpMethod::get) {
        spec.headers.emplace_back("Content-Type", "application/json");
        spec.body = body;
      }
      auto answer = co_await http.request(std::move(spec));
      if (!answer) {
        report(operation, 0, std::nullopt);
        AdapterError error = std::move(answer.error());
        error.message = redact("GitHub " + where + ": " + error.message);
        co_return std::unexpected(std::move(error));
      }
      HttpResult& r = *answer;
      const auto remaining = header_long(r, "x-ratelimit-remaining");
      const auto reset = header_long(r, "x-ratelimit-reset");
      report(operation, r.status, remaining);
      if (remaining == 0L && reset) back_off(until_reset(*reset));

      if (r.status == 304) {
        if (!cached) co_return std::unexpected(protocol(where, "answered 304 to a request without If-None-Match"));
        HttpResult hit;
        hit.status = 200;
        hit.body = cached->body;
        if (!cached->link.empty()) hit.headers["link"] = cached->link;
        hit.attempts = r.attempts;
        co_return hit;
      }
      if (rate_limited(r, remaining)) {
        milliseconds delay = kSecondaryWait;
        if (const auto it = r.headers.find("retry-after"); it != r.headers.end() && parse_retry_after(it->second)) {
          delay = *parse_retry_after(it->second);
        } else if (remaining == 0L && reset) {
          delay = until_reset(*reset);
        }
        delay = std::max<milliseconds>(delay, kMinLimitWait);
        back_off(delay);
        if (tries > options.secondary_limit_retries) {
          co_return std::unexpected(
              status_error(where, r,
                           "(rate limited; gave up after " + std::to_string(tries) + " tries, the token waits " +
                               std::to_string(std::chrono::ceil<std::chrono::seconds>(delay).count()) + "s)"));
        }
        continue;
      }
      if (method == HttpMethod::get) {
        const auto etag = header_text(r, "etag");
        if (r.status == 200 && !etag.empty()) {
          cache.put(url, EtagCache::Entry{etag, r.body, header_text(r, "link")});
        } else if (r.status == 200) {
          cache.erase(url);
        }
      }
      co_return std::move(r);
    }
  }

  // A GET whose answer must be 200 and JSON.
  asio::awaitable<std::expected<std::pair<json, std::string>, AdapterError>> get_json(std::string operation,
                                                                                      std::string url) {
    const std::string where = "GET " + path_of(url);
    std::string no_body;
    auto answer = co_await send(std::move(operation), HttpMethod::get, std::move(url), std::move(no_body), where);
    if (!answer) co_return std::unexpected(std::move(answer.error()));
    if (answer->status != 200) co_return std::unexpected(status_error(where, *answer));
    json body = json::parse(answer->body, nullptr, false);
    if (body.is_discarded())
      co_return std::unexpected(protocol(where, "the answer is not JSON: " + clip(answer->body)));
    co_return std::make_pair(std::move(body), header_text(*answer, "link"));
  }

  // Every page of a list, following Link rel="next" (on the API's origin only, at most kMaxPages).
  asio::awaitable<std::expected<std::vector<json>, AdapterError>> get_pages(std::string operation, std::string url) {
    const std::string first = "GET " + path_of(url);
    if (!api) co_return std::unexpected(protocol(first, "the endpoint " + clip(options.endpoint) + " is not a URL"));
    std::vector<json> pages;
    std::set<std::string> seen;
    for (int page = 1;; ++page) {
      if (page > kMaxPages) {
        co_return std::unexpected(
            protocol(first, "more than " + std::to_string(kMaxPages) + " pages of answers; refusing to page further"));
      }
      if (!seen.insert(url).second) {
        co_return std::unexpected(protocol(first, "its Link rel=\"next\" leads back to a page already read"));
      }
      auto answer = co_await get_json(operation, url);
      if (!answer) co_return std::unexpected(std::move(answer.error()));
      pages.push_back(std::move(answer->first));
      auto next = github_next_link(answer->second);
      if (!next) co_return pages;
      const auto next_origin = origin_of(*next);
      if (!next_origin) {
        co_return std::unexpected(protocol(first, "its Link rel=\"next\" is not an absolute http(s) URL"));
      }
      if (!within_api(*api, *next_origin)) {
        co_return std::unexpected(protocol(first, "its Link rel=\"next\" leads to " + origin_text(*next_origin) +
                                                      next_origin->path + ", outside the API at " + origin_text(*api) +
                                                      api->path + "; refusing to send the token there"));
      }
      url = std::move(*next);
    }
  }

  // The items of every page: the pages themselves (arrays) or their `key` array.
  template <class T, class Parse>
  asio::awaitable<std::expected<std::vector<T>, AdapterError>> list(std::string operation, std::string url,
                                                                    std::string key, Parse parse) {
    const std::string where = "GET " + path_of(url);
    auto pages = co_await get_pages(operation, url);
    if (!pages) co_return std::unexpected(std::move(pages.error()));
    std::vector<T> out;
    for (const json& page : *pages) {
      const json* items = key.empty() ? &page : field(page, key);
      if (items == nullptr || !items->is_array()) {
        co_return std::unexpected(
            protocol(where, key.empty() ? "the answer is not a JSON array" : "the answer has no `" + key + "` array"));
      }
      for (const json& item : *items) {
        auto parsed = parse(item);
        if (!parsed) co_return std::unexpected(protocol(where, parsed.error()));
        out.push_back(std::move(*parsed));
      }
    }
    co_return out;
  }

  std::string compare_url(std::string_view base, std::string_view head) const {
    return repo_url("/compare/" + percent_encode(base) + "..." + percent_encode(head) +
                    "?per_page=" + std::to_string(kPerPage));
  }

  // The first page of the comparison carries its status (the URL is compare's first page: one cache entry).
  asio::awaitable<std::expected<std::string, AdapterError>> compare_status(std::string base, std::string head) {
    const auto url = compare_url(base, head);
    std::string operation = "compare";
    auto answer = co_await get_json(std::move(operation), url);
    if (!answer) co_return std::unexpected(std::move(answer.error()));
    auto status = string_field(answer->first, "status");
    if (!status || (*status != "ahead" && *status != "behind" && *status != "identical" && *status != "diverged")) {
      co_return std::unexpected(protocol("GET " + path_of(url), "the answer has no known `status`"));
    }
    co_return std::move(*status);
  }
};

GitHubClient::GitHubClient(HttpClient& http, GitHubClientOptions options)
    : impl_(std::make_shared<Impl>(http, std::move(options))) {}

std::size_t GitHubClient::cached_answers() const { return impl_->cache.size(); }

GitHubClient::Result<std::vector<std::string>> GitHubClient::compare(std::string base, std::string head) {
  // Values named before the co_await: g++ 12 destroys some temporaries of a co_await expression twice.
  const auto impl = impl_;
  std::string operation = "compare";
  std::string url = impl->compare_url(base, head);
  std::string key = "commits";
  const auto sha_of = [](const json& commit) -> std::expected<std::string, std::string> {
    auto sha = string_field(commit, "sha");
    if (!sha) return std::unexpected("a commit has no string `sha`");
    return std::move(*sha);
  };
  auto out = co_await impl->list<std::string>(std::move(operation), std::move(url), std::move(key), sha_of);
  co_return out;
}

GitHubClient::Result<std::string> GitHubClient::compare_status(std::string base, std::string head) {
  const auto impl = impl_;
  auto out = co_await impl->compare_status(std::move(base), std::move(head));
  co_return out;
}

GitHubClient::Result<std::vector<GitHubPull>> GitHubClient::commit_pulls(std::string sha) {
  const auto impl = impl_;
  std::string operation = "commit.pulls";
  std::string url = impl->repo_url("/commits/" + percent_encode(sha) + "/pulls?per_page=" + std::to_string(kPerPage));
  std::string key;
  auto out = co_await impl->list<GitHubPull>(std::move(operation), std::move(url), std::move(key), pull_of);
  co_return out;
}

GitHubClient::Result<std::vector<core::PullReview>> GitHubClient::pull_reviews(int number) {
  const auto impl = impl_;
  std::string operation = "pull.reviews";
  std::string url =
      impl->repo_url("/pulls/" + std::to_string(number) + "/reviews?per_page=" + std::to_string(kPerPage));
  std::string key;
  auto out = co_await impl->list<core::PullReview>(std::move(operation), std::move(url), std::move(key), review_of);
  co_return out;
}

GitHubClient::Result<std::vector<core::PullFilePatch>> GitHubClient::pull_files(int number) {
  const auto impl = impl_;
  std::string operation = "pull.files";
  std::string url = impl->repo_url("/pulls/" + std::to_string(number) + "/files?per_page=" + std::to_string(kPerPage));
  std::string key;
  auto out = co_await impl->list<core::PullFilePatch>(std::move(operation), std::move(url), std::move(key), file_of);
  co_return out;
}

GitHubClient::Result<std::vector<core::CheckEvidence>> GitHubClient::checks(std::string sha) {
  const auto impl = impl_;
  const auto per_page = "?per_page=" + std::to_string(kPerPage);
  std::string runs_operation = "check_runs";
  std::string runs_url = impl->repo_url("/commits/" + percent_encode(sha) + "/check-runs" + per_page);
  std::string runs_key = "check_runs";
  auto runs = co_await impl->list<RankedCheck>(std::move(runs_operation), std::move(runs_url), std::move(runs_key),
                                               check_run_of);
  if (!runs) co_return std::unexpected(std::move(runs.error()));
  std::string statuses_operation = "status";
  std::string statuses_url = impl->repo_url("/commits/" + percent_encode(sha) + "/status" + per_page);
  std::string statuses_key = "statuses";
  auto statuses = co_await impl->list<RankedCheck>(std::move(statuses_operation), std::move(statuses_url),
                                                   std::move(statuses_key), status_of);
  if (!statuses) co_return std::unexpected(std::move(statuses.error()));
  // The latest per name: the later `at`, then the higher id (of one source), then the check run.
  std::map<std::string, RankedCheck> latest;
  const auto later = [](const RankedCheck& a, const RankedCheck& b) {
    if (a.check.at != b.check.at) return a.check.at > b.check.at;
    if (a.check.source != b.check.source) return false;
    return a.id > b.id;
  };
  for (auto* group : {&*runs, &*statuses}) {
    for (auto& candidate : *group) {
      auto [it, inserted] = latest.try_emplace(candidate.check.name, candidate);
      if (!inserted && later(candidate, it->second)) it->second = std::move(candidate);
    }
  }
  std::vector<core::CheckEvidence> out;
  out.reserve(latest.size());
  for (auto& [name, ranked] : latest) out.push_back(std::move(ranked.check));
  co_return out;
}

GitHubClient::Result<bool> GitHubClient::team_member(std::string org, std::string team_slug, std::string login) {
  const auto impl = impl_;
  const auto url = impl->options.endpoint + "/orgs/" + percent_encode(org) + "/teams/" + percent_encode(team_slug) +
                   "/memberships/" + percent_encode(login);
  const std::string where = "GET " + path_of(url);
  std::string operation = "team.membership";
  std::string no_body;
  auto answer = co_await impl->send(std::move(operation), HttpMethod::get, url, std::move(no_body), where);
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  if (answer->status == 404) co_return false;
  if (answer->status != 200) co_return std::unexpected(impl->status_error(where, *answer));
  const json body = json::parse(answer->body, nullptr, false);
  auto state = string_field(body, "state");
  if (!state) co_return std::unexpected(impl->protocol(where, "the answer has no string `state`"));
  co_return *state == "active";  // "pending": invited, not yet a member
}

GitHubClient::Result<TagResult> GitHubClient::create_tag(std::string name, std::string sha) {
  const auto impl = impl_;
  const auto url = impl->repo_url("/git/refs");
  const std::string where = "POST " + path_of(url);
  if (name.empty()) co_return std::unexpected(impl->protocol(where, "the tag name is empty"));
  if (!is_full_sha(sha)) {
    co_return std::unexpected(
        impl->protocol(where, "tag " + clip(name, 100) + ": \"" + clip(sha, 80) + "\" is not a full 40-hex SHA"));
  }
  const json request = {{"ref", "refs/tags/" + name}, {"sha", sha}};
  std::string operation = "refs.create";
  std::string body = request.dump();
  auto answer = co_await impl->send(std::move(operation), HttpMethod::post, url, std::move(body), where);
  if (!answer) co_return std::unexpected(std::move(answer.error()));
  if (answer->status == 201) co_return TagResult::created;
  if (answer->status == 422 && github_message(answer->body).find("Reference already exists") != std::string::npos) {
    auto relation = co_await impl->compare_status(name, sha);
    if (!relation) {
      relation.error().message = "GitHub " + where + ": tag " + clip(name, 100) +
                                 " already exists; checking where it points failed: " + relation.error().message;
      co_return std::unexpected(std::move(relation.error()));
    }
    if (*relation == "identical") co_return TagResult::already_there;
    co_return std::unexpected(AdapterError{
        AdapterError::Kind::http_status, 422,
        impl->redact("GitHub " + where + ": tag " + clip(name, 100) + " already exists on another commit than " + sha +
                     " (compare says \"" + *relation + "\"); delete or rename the tag, or promote that commit")});
  }
  co_return std::unexpected(impl->status_error(where, *answer));
}

}  // namespace promoter::adapters
