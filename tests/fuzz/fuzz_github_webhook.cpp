// parse_github_webhook and github_signature_valid on arbitrary bytes: total (never throw or crash); an
// accepted event keeps the promises of its kind and survives being written back as a payload of its own
// shape and parsed again; a body signed with its secret verifies, and a changed signature does not.
// The first byte picks the X-GitHub-Event header, the rest is the body.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "adapters/github_webhook.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using nlohmann::json;
using promoter::adapters::github_signature_valid;
using promoter::adapters::GitHubWebhookEvent;
using promoter::adapters::parse_github_webhook;

constexpr std::array<std::string_view, 8> kEvents = {"pull_request_review", "check_run", "check_suite", "status",
                                                     "pull_request",        "ping",      "push",        ""};

bool full_lower_sha(const std::string& sha) {
  if (sha.size() != 40) return false;
  for (const char c : sha) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool same(const GitHubWebhookEvent& a, const GitHubWebhookEvent& b) {
  return a.kind == b.kind && a.event == b.event && a.action == b.action && a.repository == b.repository &&
         a.pull_number == b.pull_number && a.shas == b.shas;
}

// The payload GitHub would have sent for `e`: its SHAs where its event carries them.
json payload_of(const GitHubWebhookEvent& e) {
  json j = json::object();
  if (e.event != "status" || !e.action.empty()) j["action"] = e.action;
  if (e.kind == GitHubWebhookEvent::Kind::ignored && e.repository.empty()) return j;
  j["repository"] = {{"full_name", e.repository}};
  if (e.kind == GitHubWebhookEvent::Kind::ignored) return j;
  const std::string first = e.shas.empty() ? std::string("short") : e.shas[0];
  if (e.event == "pull_request_review" || e.event == "pull_request") {
    json pull = {{"number", *e.pull_number}, {"head", {{"sha", first}}}};
    pull["merge_commit_sha"] = e.shas.size() > 1 ? json(e.shas[1]) : json(nullptr);
    j["pull_request"] = pull;
    if (e.event == "pull_request") j["number"] = *e.pull_number;
  } else if (e.event == "check_run") {
    j["check_run"] = {{"head_sha", first}};
  } else if (e.event == "check_suite") {
    j["check_suite"] = {{"head_sha", first}};
  } else {
    j["sha"] = first;
  }
  return j;
}

std::string sign(std::string_view secret, std::string_view body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), out, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string header = "sha256=";
  for (unsigned int i = 0; i < length; ++i) {
    header += kHex[out[i] >> 4];
    header += kHex[out[i] & 0xF];
  }
  return header;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view event_name = kEvents[data[0] % kEvents.size()];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  // The body used as a header: never valid by accident; signed properly: valid; one hex digit off: not.
  FUZZ_CHECK(!github_signature_valid("fuzz-secret", body, body));
  const std::string header = sign("fuzz-secret", body);
  FUZZ_CHECK(github_signature_valid("fuzz-secret", body, header));
  std::string off = header;
  off[7] = off[7] == '0' ? '1' : '0';
  FUZZ_CHECK(!github_signature_valid("fuzz-secret", body, off));
  FUZZ_CHECK(!github_signature_valid("", body, sign("", body)));

  const auto event = parse_github_webhook(event_name, body);
  if (!event) {
    FUZZ_CHECK(event.error().starts_with("GitHub webhook: "));
    return 0;
  }
  FUZZ_CHECK(event->event == event_name);
  for (const auto& sha : event->shas) FUZZ_CHECK(full_lower_sha(sha));
  switch (event->kind) {
    case GitHubWebhookEvent::Kind::review:
    case GitHubWebhookEvent::Kind::pull:
      FUZZ_CHECK(event->pull_number.has_value() && *event->pull_number > 0);
      FUZZ_CHECK(event->shas.size() <= 2);
      break;
    case GitHubWebhookEvent::Kind::check:
      FUZZ_CHECK(!event->pull_number.has_value());
      FUZZ_CHECK(event->shas.size() <= 1);
      break;
    case GitHubWebhookEvent::Kind::ignored:
      FUZZ_CHECK(event->shas.empty());
      break;
  }
  // Strict dump: every string must be valid UTF-8, since events end up in logs.
  const std::string again_text = payload_of(*event).dump();
  const auto again = parse_github_webhook(event_name, again_text);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(same(*event, *again));
  return 0;
}
