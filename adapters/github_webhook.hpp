#pragma once
// GitHub webhooks → what to look at again. A webhook only triggers re-evaluation: the gates read what the
// API says (conditional requests keep that cheap), so a lost, late or forged-but-valid delivery can delay a
// gate but never decide one.
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace promoter::adapters {

// X-Hub-Signature-256 ("sha256=<64 hex>") against HMAC-SHA256(secret, body), compared in constant time.
// False for a missing, malformed or wrong signature, and for an empty secret.
bool github_signature_valid(std::string_view secret, std::string_view body, std::string_view header);

struct GitHubWebhookEvent {
  // review: pull_request_review; check: check_run, check_suite, status; pull: pull_request; ignored: the
  // rest (ping, push, ...), answered 2xx and dropped.
  enum class Kind { review, check, pull, ignored } kind = Kind::ignored;
  std::string event;               // X-GitHub-Event as sent
  std::string action;              // payload "action" ("submitted", "dismissed", "completed", ...); "" for status
  std::string repository;          // repository.full_name ("owner/repo")
  std::optional<int> pull_number;  // review and pull events
  std::vector<std::string> shas;   // commits to re-evaluate: head_sha, sha, merge_commit_sha, ...
};

// Total on any input: malformed JSON or a missing field is an error naming it, never a throw.
std::expected<GitHubWebhookEvent, std::string> parse_github_webhook(std::string_view event, std::string_view body);

}  // namespace promoter::adapters
