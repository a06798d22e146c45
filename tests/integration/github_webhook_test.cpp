// adapters/github_webhook: X-Hub-Signature-256 checks and the payloads of the events promoter reacts to
// (tests/fixtures/github/, shaped as GitHub's webhook schemas). No sockets: pure functions.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/github_webhook.hpp"

using nlohmann::json;
using promoter::adapters::github_signature_valid;
using promoter::adapters::GitHubWebhookEvent;
using promoter::adapters::parse_github_webhook;

namespace {

const std::string kHead = "0123456789abcdef0123456789abcdef01234567";
const std::string kMerge = "89abcdef0123456789abcdef0123456789abcdef";

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(PROMOTER_SOURCE_DIR) + "/tests/fixtures/github/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing fixture " << name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string sign(const std::string& secret, const std::string& body) {
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

std::string upper(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

TEST_CASE("the signature GitHub's documentation gives for its test values is accepted") {
  // docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries, "Testing the webhook payload validation".
  CHECK(github_signature_valid("It's a Secret to Everybody", "Hello, World!",
                               "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
}

TEST_CASE("a signature is valid only for its body and secret, in either hex case, and never for an empty secret") {
  const std::string secret = "webhook-secret-0123";
  const std::string body = fixture("status.json");
  const std::string header = sign(secret, body);
  CHECK(github_signature_valid(secret, body, header));
  CHECK(github_signature_valid(secret, body, "sha256=" + upper(header.substr(7))));  // hex in upper case

  SUBCASE("wrong signature") {
    std::string flipped = header;
    flipped.back() = flipped.back() == '0' ? '1' : '0';
    CHECK_FALSE(github_signature_valid(secret, body, flipped));
    CHECK_FALSE(github_signature_valid(secret, body + " ", header));  // a changed body
  }
  SUBCASE("wrong secret") { CHECK_FALSE(github_signature_valid("another-secret", body, header)); }
  SUBCASE("empty secret, even when the header is the HMAC of the empty key") {
    CHECK_FALSE(github_signature_valid("", body, sign("", body)));
  }
  SUBCASE("malformed headers") {
    for (const std::string& bad : std::vector<std::string>{
             "",
             "sha256=",
             header.substr(7),                           // no prefix
             "sha1=" + header.substr(7),                 // another algorithm
             "SHA256=" + header.substr(7),               // the prefix is lower case
             header.substr(0, header.size() - 2),        // one byte short
             header + "00",                              // one byte long
             header.substr(0, header.size() - 1),        // odd length
             header.substr(0, header.size() - 1) + "g",  // not hex
             " " + header,                               // padding
             header + " ",
         }) {
      CAPTURE(bad);
      CHECK_FALSE(github_signature_valid(secret, body, bad));
    }
  }
}

TEST_CASE("pull_request_review submitted and dismissed name the PR, its head and (once merged) its merge commit") {
  auto submitted = parse_github_webhook("pull_request_review", fixture("pull_request_review.submitted.json"));
  REQUIRE_MESSAGE(submitted.has_value(), submitted.error());
  CHECK(submitted->kind == GitHubWebhookEvent::Kind::review);
  CHECK(submitted->event == "pull_request_review");
  CHECK(submitted->action == "submitted");
  CHECK(submitted->repository == "acme/monorepo");
  CHECK(submitted->pull_number == 12);
  CHECK(submitted->shas == std::vector<std::string>{kHead});  // merge_commit_sha is null while open

  auto dismissed = parse_github_webhook("pull_request_review", fixture("pull_request_review.dismissed.json"));
  REQUIRE_MESSAGE(dismissed.has_value(), dismissed.error());
  CHECK(dismissed->action == "dismissed");
  CHECK(dismissed->pull_number == 12);
  CHECK(dismissed->shas == std::vector<std::string>{kHead, kMerge});
}

TEST_CASE("check_run, check_suite and status name the commit they are about") {
  struct Case {
    std::string event, file, action;
  };
  for (const auto& [event, file, action] : std::vector<Case>{{"check_run", "check_run.completed.json", "completed"},
                                                             {"check_suite", "check_suite.completed.json", "completed"},
                                                             {"status", "status.json", ""}}) {
    CAPTURE(event);
    auto parsed = parse_github_webhook(event, fixture(file));
    REQUIRE_MESSAGE(parsed.has_value(), parsed.error());
    CHECK(parsed->kind == GitHubWebhookEvent::Kind::check);
    CHECK(parsed->event == event);
    CHECK(parsed->action == action);
    CHECK(parsed->repository == "acme/monorepo");
    CHECK_FALSE(parsed->pull_number.has_value());
    CHECK(parsed->shas == std::vector<std::string>{kHead});
  }
}

TEST_CASE("pull_request closed names the PR number, its head and its merge commit") {
  auto parsed = parse_github_webhook("pull_request", fixture("pull_request.closed.json"));
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error());
  CHECK(parsed->kind == GitHubWebhookEvent::Kind::pull);
  CHECK(parsed->action == "closed");
  CHECK(parsed->pull_number == 12);
  CHECK(parsed->shas == std::vector<std::string>{kHead, kMerge});
}

TEST_CASE("other events (ping, push) are ignored, not errors") {
  auto ping = parse_github_webhook("ping", fixture("ping.json"));
  REQUIRE_MESSAGE(ping.has_value(), ping.error());
  CHECK(ping->kind == GitHubWebhookEvent::Kind::ignored);
  CHECK(ping->event == "ping");
  CHECK(ping->repository == "acme/monorepo");
  CHECK(ping->shas.empty());
  auto push = parse_github_webhook("push", R"({"ref":"refs/heads/main"})");
  REQUIRE_MESSAGE(push.has_value(), push.error());
  CHECK(push->kind == GitHubWebhookEvent::Kind::ignored);
  CHECK(push->repository.empty());
}

TEST_CASE("SHAs that are not 40 hex are dropped; upper-case ones are lower-cased; repeats are kept once") {
  json status = json::parse(fixture("status.json"));
  status["sha"] = "0123abc";
  auto short_sha = parse_github_webhook("status", status.dump());
  REQUIRE_MESSAGE(short_sha.has_value(), short_sha.error());
  CHECK(short_sha->shas.empty());

  status["sha"] = upper(kHead);
  auto upper_sha = parse_github_webhook("status", status.dump());
  REQUIRE(upper_sha.has_value());
  CHECK(upper_sha->shas == std::vector<std::string>{kHead});

  json pull = json::parse(fixture("pull_request.closed.json"));
  pull["pull_request"]["merge_commit_sha"] = kHead;
  auto same = parse_github_webhook("pull_request", pull.dump());
  REQUIRE(same.has_value());
  CHECK(same->shas == std::vector<std::string>{kHead});
  pull["pull_request"]["merge_commit_sha"] = "not a sha but 40 chars long...............";
  auto junk = parse_github_webhook("pull_request", pull.dump());
  REQUIRE(junk.has_value());
  CHECK(junk->shas == std::vector<std::string>{kHead});
}

TEST_CASE("malformed bodies and missing fields are errors naming what is wrong, never throws") {
  struct Case {
    std::string event, body, says;
  };
  json review = json::parse(fixture("pull_request_review.submitted.json"));
  json no_number = review;
  no_number["pull_request"].erase("number");
  json no_head = review;
  no_head["pull_request"]["head"].erase("sha");
  json no_repository = review;
  no_repository.erase("repository");
  json string_number = json::parse(fixture("pull_request.closed.json"));
  string_number["number"] = "12";
  json no_action = json::parse(fixture("check_suite.completed.json"));
  no_action.erase("action");
  json bidi_action = json::parse(fixture("check_run.completed.json"));
  bidi_action["action"] = "completed\u202e";
  for (const auto& [event, body, says] : std::vector<Case>{
           {"status", "", "malformed JSON"},
           {"status", "{", "malformed JSON"},
           {"status", "[1,2]", "not a JSON object"},
           {"ping", "not json", "malformed JSON"},
           {"status", R"({"sha":"a","sha":"b"})", "duplicate key 'sha'"},
           {"status", std::string(100, '[') + std::string(100, ']'), "nested deeper"},
           {"", fixture("status.json"), "X-GitHub-Event"},
           {"status\n", fixture("status.json"), "X-GitHub-Event"},
           {"pull_request_review", no_number.dump(), "`pull_request.number`"},
           {"pull_request_review", no_head.dump(), "`pull_request.head.sha`"},
           {"pull_request_review", no_repository.dump(), "`repository.full_name`"},
           {"pull_request", string_number.dump(), "`number`"},
           {"check_suite", no_action.dump(), "`action`"},
           {"check_run", bidi_action.dump(), "`action`"},
           {"check_run", R"({"action":"completed","repository":{"full_name":"acme/monorepo"}})",
            "`check_run.head_sha`"},
           {"status", R"({"repository":{"full_name":"acme/monorepo"},"sha":7})", "`sha`"},
       }) {
    CAPTURE(event);
    CAPTURE(body.substr(0, 80));
    auto parsed = parse_github_webhook(event, body);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().starts_with("GitHub webhook: "));
    CHECK_MESSAGE(parsed.error().find(says) != std::string::npos, parsed.error());
  }
}

TEST_CASE("check_run without an action (its schema does not require one) still names its commit") {
  json run = json::parse(fixture("check_run.completed.json"));
  run.erase("action");
  auto parsed = parse_github_webhook("check_run", run.dump());
  REQUIRE_MESSAGE(parsed.has_value(), parsed.error());
  CHECK(parsed->action.empty());
  CHECK(parsed->shas == std::vector<std::string>{kHead});
}
