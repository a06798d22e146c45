// parse_railway_webhook: both payload shapes, alerts ignored, errors naming the field, and
// random mutations of real payloads that must never crash (a light fuzz, seeded).

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "adapters/railway_webhook.hpp"

using promoter::adapters::parse_railway_webhook;
using promoter::adapters::RailwayWebhookEvent;

namespace {

const std::string kSha = "0123456789abcdef0123456789abcdef01234567";

// Shape of the Railway docs example (late 2025).
std::string current_payload(const std::string& type, const std::string& status_field = R"("status": "SUCCESS",)") {
  return R"({
  "type": ")" +
         type + R"(",
  "details": { "id": "dep-1", "source": "GitHub", )" +
         status_field + R"(
               "branch": "main", "commitHash": ")" +
         kSha + R"(", "commitAuthor": "octocat", "commitMessage": "fix" },
  "resource": { "workspace": {"id": "ws-1", "name": "acme"}, "project": {"id": "proj-1", "name": "shop"},
                "environment": {"id": "env-staging", "name": "staging", "isEphemeral": false},
                "service": {"id": "svc-api", "name": "api"}, "deployment": {"id": "dep-1"} },
  "severity": "WARNING", "timestamp": "2025-11-21T23:48:42.311Z" })";
}

const std::string kLegacy = R"({
  "type": "DEPLOY", "status": "CRASHED", "timestamp": "2025-02-01T00:00:00.000Z",
  "project": {"id": "proj-1", "name": "shop", "description": "", "createdAt": "2025-02-01T00:00:00.000Z"},
  "environment": {"id": "env-staging", "name": "staging"},
  "deployment": {"id": "dep-9", "creator": {"id": "u1", "name": "Octo", "avatar": ""},
                 "meta": {"commitHash": ")" +
                            kSha + R"(", "commitAuthor": "octocat", "branch": "main"}},
  "service": {"id": "svc-worker", "name": "worker"} })";

}  // namespace

TEST_CASE("the current Deployment.* shape gives a deployment event with details.status") {
  auto event = parse_railway_webhook(current_payload("Deployment.failed"));
  REQUIRE_MESSAGE(event.has_value(), event.error());
  CHECK(event->kind == RailwayWebhookEvent::Kind::deployment);
  CHECK(event->type == "Deployment.failed");
  CHECK(event->status == "SUCCESS");  // details.status wins over the type, as documented
  CHECK(event->deployment_id == "dep-1");
  CHECK(event->project_id == "proj-1");
  CHECK(event->environment_id == "env-staging");
  CHECK(event->environment_name == "staging");
  CHECK(event->service_id == "svc-api");
  CHECK(event->service_name == "api");
  CHECK(event->commit_hash == kSha);
  CHECK(event->commit_author == "octocat");
  CHECK(event->timestamp == "2025-11-21T23:48:42.311Z");
}

TEST_CASE("without details.status the status comes from the type's suffix") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"Deployment.failed", "FAILED"},       {"Deployment.crashed", "CRASHED"},
      {"Deployment.oomKilled", "CRASHED"},   {"Deployment.deployed", "SUCCESS"},
      {"Deployment.succeeded", "SUCCESS"},   {"Deployment.redeployed", "SUCCESS"},
      {"Deployment.building", "BUILDING"},   {"Deployment.deploying", "DEPLOYING"},
      {"Deployment.queued", "QUEUED"},       {"Deployment.needsApproval", "NEEDS_APPROVAL"},
      {"Deployment.removed", "REMOVED"},     {"Deployment.slept", "SLEEPING"},
      {"Deployment.restarted", "RESTARTED"},  // unknown suffix: kept, upper-snake
      {"deployment.crashed", "CRASHED"},
  };
  for (const auto& [type, status] : table) {
    CAPTURE(type);
    auto event = parse_railway_webhook(current_payload(type, ""));
    REQUIRE_MESSAGE(event.has_value(), event.error());
    CHECK(event->kind == RailwayWebhookEvent::Kind::deployment);
    CHECK(event->status == status);
  }
}

TEST_CASE("the older DEPLOY shape is accepted, commit from deployment.meta") {
  auto event = parse_railway_webhook(kLegacy);
  REQUIRE_MESSAGE(event.has_value(), event.error());
  CHECK(event->kind == RailwayWebhookEvent::Kind::deployment);
  CHECK(event->type == "DEPLOY");
  CHECK(event->status == "CRASHED");
  CHECK(event->deployment_id == "dep-9");
  CHECK(event->project_id == "proj-1");
  CHECK(event->environment_id == "env-staging");
  CHECK(event->service_id == "svc-worker");
  CHECK(event->service_name == "worker");
  CHECK(event->commit_hash == kSha);
  CHECK(event->commit_author == "octocat");
  CHECK(event->timestamp == "2025-02-01T00:00:00.000Z");
}

TEST_CASE("alerts and other types are accepted and ignored") {
  for (const auto* body : {
           R"({"type":"Alert.triggered","details":{"metric":"cpu"},"resource":{"project":{"id":"p"}},"timestamp":"t"})",
           R"({"type":"VOLUME_USAGE_ALERT","volume":{"id":"v"}})",
           R"({"type":"Deployment","resource":{}})",  // no state suffix: not a deployment event
       }) {
    CAPTURE(body);
    auto event = parse_railway_webhook(body);
    REQUIRE_MESSAGE(event.has_value(), event.error());
    CHECK(event->kind == RailwayWebhookEvent::Kind::ignored);
  }
}

TEST_CASE("malformed bodies and missing required fields are errors naming the field") {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"", "malformed JSON"},
      {"{", "malformed JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"details":{}})", "`type`"},
      {R"({"type": 7})", "`type`"},
      {R"({"type":"Deployment.crashed"})", "`resource`"},
      {R"({"type":"Deployment.crashed","resource":{"project":{"id":"p"},"environment":{"id":"e"},"service":{"id":"s"}}})",
       "resource.deployment.id"},
      {R"({"type":"Deployment.crashed","resource":{"deployment":{"id":"d"},"environment":{"id":"e"},"service":{"id":"s"}}})",
       "resource.project.id"},
      {R"({"type":"Deployment.crashed","resource":{"deployment":{"id":"d"},"project":{"id":"p"},"service":{"id":"s"}}})",
       "resource.environment.id"},
      {R"({"type":"Deployment.crashed","resource":{"deployment":{"id":"d"},"project":{"id":"p"},"environment":{"id":"e"}}})",
       "resource.service.id"},
      {R"({"type":"DEPLOY","deployment":{"id":"d"}})", "`status`"},
      {R"({"type":"DEPLOY","status":"SUCCESS","project":{"id":"p"}})", "deployment.id"},
      {R"({"type":"DEPLOY","status":"SUCCESS","deployment":{"id":"d"},"project":{"id":"p"},"environment":{"id":"e"}})",
       "service.id"},
      {std::string(100, '[') + std::string(100, ']'), "nested deeper"},
  };
  for (const auto& [body, expected] : table) {
    CAPTURE(body);
    auto event = parse_railway_webhook(body);
    REQUIRE_FALSE(event.has_value());
    CHECK_MESSAGE(event.error().find(expected) != std::string::npos, event.error());
  }
}

TEST_CASE("a key named twice is refused naming the key, at any depth") {
  std::string top = current_payload("Deployment.crashed");
  top.insert(top.rfind('}'), R"(, "type": "Deployment.deployed")");
  auto event = parse_railway_webhook(top);
  REQUIRE_FALSE(event.has_value());
  CHECK(event.error() == "Railway webhook: duplicate key 'type' in the same object");

  std::string nested = current_payload("Deployment.crashed");
  nested.replace(nested.find(R"("id": "dep-1", )"), 15, R"("id": "dep-1", "status": "CRASHED", )");
  event = parse_railway_webhook(nested);
  REQUIRE_FALSE(event.has_value());
  CHECK(event.error() == "Railway webhook: duplicate key 'status' in the same object");

  std::string legacy = kLegacy;
  legacy.replace(legacy.find(R"("branch": "main")"), 16, R"("branch": "main", "commitAuthor": "mallory")");
  event = parse_railway_webhook(legacy);
  REQUIRE_FALSE(event.has_value());
  CHECK(event.error() == "Railway webhook: duplicate key 'commitAuthor' in the same object");
}

TEST_CASE("control, invisible and bidirectional characters in a field are refused naming the field") {
  struct Case {
    std::string from, to, error;
  };
  const Case cases[] = {
      {R"("deployment": {"id": "dep-1"})", R"("deployment": {"id": "dep\u0000-1"})",
       "Railway webhook: field `resource.deployment.id` contains U+0000 (a control character) at byte 3"},
      {R"("name": "api")", R"("name": "a\npi")",
       "Railway webhook: field `resource.service.name` contains U+000A (a control character) at byte 1"},
      {R"("commitAuthor": "octocat")", R"("commitAuthor": "octo\u202ecat")",
       "Railway webhook: field `details.commitAuthor` contains U+202E (a bidirectional control character) at byte 4"},
      {R"("status": "SUCCESS")", R"("status": "SUCCESS\u200b")",
       "Railway webhook: field `details.status` contains U+200B (an invisible character) at byte 7"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.to);
    std::string body = current_payload("Deployment.deployed");
    REQUIRE(body.find(c.from) != std::string::npos);
    body.replace(body.find(c.from), c.from.size(), c.to);
    auto event = parse_railway_webhook(body);
    REQUIRE_FALSE(event.has_value());
    CHECK(event.error() == c.error);
  }
  std::string legacy = kLegacy;
  legacy.replace(legacy.find(R"("id": "dep-9")"), 13, R"("id": "dep-9\u0007")");
  auto event = parse_railway_webhook(legacy);
  REQUIRE_FALSE(event.has_value());
  CHECK(event.error() == "Railway webhook: field `deployment.id` contains U+0007 (a control character) at byte 5");
}

TEST_CASE("a commit author that mixes scripts is refused, in both shapes") {
  std::string current = current_payload("Deployment.deployed");
  current.replace(current.find("octocat"), 7, "\u043ectocat");  // Cyrillic о
  auto event = parse_railway_webhook(current);
  REQUIRE_FALSE(event.has_value());
  CHECK(event.error().starts_with("Railway webhook: field `details.commitAuthor`: the name mixes scripts"));
  std::string legacy = kLegacy;
  legacy.replace(legacy.find("octocat"), 7, "\u043ectocat");
  event = parse_railway_webhook(legacy);
  REQUIRE_FALSE(event.has_value());
  CHECK(event.error().starts_with("Railway webhook: field `deployment.meta.commitAuthor`: the name mixes scripts"));
}

TEST_CASE("a few hundred randomly mutated payloads never crash the parser") {
  std::mt19937 rng(20260101);  // fixed seed: a failure reproduces
  const std::vector<std::string> seeds = {current_payload("Deployment.crashed"),
                                          current_payload("Deployment.deployed", ""), kLegacy,
                                          R"({"type":"Alert.triggered"})"};
  const std::string alphabet = "{}[]\":,\\ 0123456789abcdefnulltrue-.eE\x01\xff\xc3\xa9";
  int parsed = 0;
  int rejected = 0;
  for (int round = 0; round < 600; ++round) {
    std::string body = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const std::size_t at = rng() % body.size();
      switch (rng() % 5) {
        case 0:
          body.erase(at, 1 + rng() % 12);
          break;
        case 1:
          body.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 2:
          body[at] = alphabet[rng() % alphabet.size()];
          break;
        case 3:
          body.insert(at, body.substr(rng() % body.size(), rng() % 40));
          break;
        default:
          body.resize(at);
          break;
      }
    }
    auto event = parse_railway_webhook(body);
    if (event) {
      ++parsed;
      if (event->kind == RailwayWebhookEvent::Kind::deployment) {
        CHECK_FALSE(event->deployment_id.empty());
        CHECK_FALSE(event->status.empty());
      }
    } else {
      ++rejected;
      CHECK_FALSE(event.error().empty());
    }
  }
  CHECK(parsed + rejected == 600);
  CHECK(rejected > 0);
}

TEST_CASE("type confusion in every field is an error or a value, never an exception") {
  const std::vector<std::string> values = {"null", "1", "true", "[]", "{}", "\"\"", "[{}]"};
  for (const auto& v : values) {
    for (
        const auto* pattern : {
            R"({"type":"Deployment.crashed","details":V,"resource":{"deployment":{"id":"d"},"project":{"id":"p"},"environment":{"id":"e"},"service":{"id":"s"}}})",
            R"({"type":"Deployment.crashed","resource":{"deployment":V,"project":{"id":"p"},"environment":{"id":"e"},"service":{"id":"s"}}})",
            R"({"type":"Deployment.crashed","resource":V})",
            R"({"type":"DEPLOY","status":"SUCCESS","deployment":{"id":"d","meta":V},"project":{"id":"p"},"environment":{"id":"e"},"service":{"id":"s"},"timestamp":V})",
            R"({"type":"DEPLOY","status":V,"deployment":V,"project":V,"environment":V,"service":V})",
        }) {
      std::string body = pattern;
      for (auto at = body.find('V'); at != std::string::npos; at = body.find('V')) body.replace(at, 1, v);
      CAPTURE(body);
      auto event = parse_railway_webhook(body);
      if (!event) CHECK_FALSE(event.error().empty());
    }
  }
}
