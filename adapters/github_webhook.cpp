#include "adapters/github_webhook.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <utility>

#include "adapters/strict_json.hpp"
#include "core/safe_text.hpp"

namespace promoter::adapters {

using nlohmann::json;

namespace {

// GitHub caps webhook payloads at 25 MB (adapters/github_reference.md); a deeper nesting than any real
// payload is refused before parsing.
constexpr std::size_t kMaxBodyBytes = 25 * 1024 * 1024;
constexpr int kMaxNesting = 64;
constexpr std::size_t kMaxEventNameBytes = 100;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// object.a.b... as a string; nullopt when a step is missing, null or not what it must be.
std::optional<std::string> string_at(const json& root, std::initializer_list<std::string_view> path) {
  const json* at = &root;
  for (const auto key : path) {
    at = member(*at, key);
    if (at == nullptr) return std::nullopt;
  }
  if (!at->is_string()) return std::nullopt;
  return at->get<std::string>();
}

std::optional<int> positive_int_at(const json& root, std::initializer_list<std::string_view> path) {
  const json* at = &root;
  for (const auto key : path) {
    at = member(*at, key);
    if (at == nullptr) return std::nullopt;
  }
  if (at->is_number_unsigned()) {
    const auto value = at->get<std::uint64_t>();
    if (value >= 1 && value <= INT_MAX) return static_cast<int>(value);
    return std::nullopt;
  }
  if (at->is_number_integer()) {
    const auto value = at->get<std::int64_t>();
    if (value >= 1 && value <= INT_MAX) return static_cast<int>(value);
  }
  return std::nullopt;
}

std::string joined(std::initializer_list<std::string_view> path) {
  std::string out;
  for (const auto key : path) {
    if (!out.empty()) out += '.';
    out += key;
  }
  return out;
}

std::string missing(const GitHubWebhookEvent& event, std::string_view field, std::string_view what = "string") {
  return "GitHub webhook: " + event.event + ": missing or non-" + std::string(what) + " field `" + std::string(field) +
         "`";
}

// A full commit SHA, lower-cased; nullopt for anything else (an abbreviated or garbled one is dropped).
std::optional<std::string> full_sha(const std::optional<std::string>& text) {
  if (!text || text->size() != 40) return std::nullopt;
  std::string out;
  out.reserve(40);
  for (const char c : *text) {
    if (hex_value(c) < 0) return std::nullopt;
    out += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  }
  return out;
}

void add_sha(GitHubWebhookEvent& event, const std::optional<std::string>& text) {
  auto sha = full_sha(text);
  if (sha && std::ranges::find(event.shas, *sha) == event.shas.end()) event.shas.push_back(std::move(*sha));
}

// A required SHA field: absent or not a string is an error; a string that is not a full SHA is dropped.
std::expected<void, std::string> require_sha(GitHubWebhookEvent& event, const json& root,
                                             std::initializer_list<std::string_view> path) {
  auto text = string_at(root, path);
  if (!text) return std::unexpected(missing(event, joined(path)));
  add_sha(event, text);
  return {};
}

std::expected<GitHubWebhookEvent, std::string> parse(std::string_view event_name, std::string_view body) {
  if (event_name.empty()) return std::unexpected("GitHub webhook: no X-GitHub-Event header");
  if (event_name.size() > kMaxEventNameBytes) {
    return std::unexpected("GitHub webhook: the X-GitHub-Event header is longer than " +
                           std::to_string(kMaxEventNameBytes) + " bytes");
  }
  if (auto why = core::unsafe_text(event_name, core::TextKind::single_line)) {
    return std::unexpected("GitHub webhook: the X-GitHub-Event header " + *why);
  }
  GitHubWebhookEvent event;
  event.event = std::string(event_name);
  if (event_name == "pull_request_review") {
    event.kind = GitHubWebhookEvent::Kind::review;
  } else if (event_name == "check_run" || event_name == "check_suite" || event_name == "status") {
    event.kind = GitHubWebhookEvent::Kind::check;
  } else if (event_name == "pull_request") {
    event.kind = GitHubWebhookEvent::Kind::pull;
  }

  if (body.size() > kMaxBodyBytes) {
    return std::unexpected("GitHub webhook: body of " + std::to_string(body.size()) + " bytes is over the " +
                           std::to_string(kMaxBodyBytes) + "-byte limit");
  }
  if (!json_nesting_within(body, kMaxNesting)) {
    return std::unexpected("GitHub webhook: JSON nested deeper than " + std::to_string(kMaxNesting) + " levels");
  }
  auto parsed = parse_strict_json(body);
  if (!parsed) {
    if (parsed.error().kind == StrictJsonError::Kind::duplicate_key)
      return std::unexpected("GitHub webhook: " + parsed.error().message);
    return std::unexpected("GitHub webhook: malformed JSON: " + parsed.error().message);
  }
  const json root = std::move(*parsed);
  if (!root.is_object()) return std::unexpected("GitHub webhook: the body is not a JSON object");

  const bool ignored = event.kind == GitHubWebhookEvent::Kind::ignored;
  // `action` is in every payload but status's; the check_run schema alone does not require it.
  auto action = string_at(root, {"action"});
  if (!action && !ignored && event_name != "status" && event_name != "check_run") {
    return std::unexpected(missing(event, "action"));
  }
  event.action = action.value_or("");
  auto repository = string_at(root, {"repository", "full_name"});
  if (!repository && !ignored) return std::unexpected(missing(event, "repository.full_name"));
  event.repository = repository.value_or("");
  for (const auto& [name, text] : {std::pair<std::string_view, const std::string*>{"action", &event.action},
                                   {"repository.full_name", &event.repository}}) {
    if (auto why = core::unsafe_text(*text, core::TextKind::single_line)) {
      return std::unexpected("GitHub webhook: " + event.event + ": field `" + std::string(name) + "` " + *why);
    }
  }
  if (ignored) return event;

  std::expected<void, std::string> ok;
  if (event_name == "pull_request_review" || event_name == "pull_request") {
    const bool review = event_name == "pull_request_review";
    const auto number = review ? positive_int_at(root, {"pull_request", "number"}) : positive_int_at(root, {"number"});
    if (!number) return std::unexpected(missing(event, review ? "pull_request.number" : "number", "positive-integer"));
    event.pull_number = *number;
    ok = require_sha(event, root, {"pull_request", "head", "sha"});
    if (ok) add_sha(event, string_at(root, {"pull_request", "merge_commit_sha"}));  // null until merged
  } else if (event_name == "check_run") {
    ok = require_sha(event, root, {"check_run", "head_sha"});
  } else if (event_name == "check_suite") {
    ok = require_sha(event, root, {"check_suite", "head_sha"});
  } else {  // status
    ok = require_sha(event, root, {"sha"});
  }
  if (!ok) return std::unexpected(std::move(ok.error()));
  return event;
}

}  // namespace

bool github_signature_valid(std::string_view secret, std::string_view body, std::string_view header) {
  constexpr std::string_view kPrefix = "sha256=";
  if (secret.empty() || secret.size() > static_cast<std::size_t>(INT_MAX)) return false;
  if (!header.starts_with(kPrefix)) return false;
  const auto hex = header.substr(kPrefix.size());
  std::array<unsigned char, 32> sent{};
  if (hex.size() != sent.size() * 2) return false;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const int high = hex_value(hex[2 * i]);
    const int low = hex_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    sent[i] = static_cast<unsigned char>(high * 16 + low);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> computed{};
  unsigned int length = 0;
  const unsigned char* done =
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(), computed.data(), &length);
  if (done == nullptr || length != sent.size()) return false;
  return CRYPTO_memcmp(computed.data(), sent.data(), sent.size()) == 0;
}

std::expected<GitHubWebhookEvent, std::string> parse_github_webhook(std::string_view event, std::string_view body) {
  try {
    return parse(event, body);
  } catch (const std::exception& e) {
    return std::unexpected(std::string("GitHub webhook: cannot read the body: ") + e.what());
  } catch (...) {
    return std::unexpected("GitHub webhook: cannot read the body");
  }
}

}  // namespace promoter::adapters
