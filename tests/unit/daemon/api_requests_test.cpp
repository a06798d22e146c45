// The /v1 request-body parsers refuse what would be stored wrongly or shown misleadingly: duplicate
// keys, control characters (NUL is cut off by PostgreSQL), invisible and bidirectional characters,
// and commit authors that imitate another name. Pure functions: no database, no server.
#include <doctest/doctest.h>

#include <functional>
#include <string>

#include "daemon/http/api_requests.hpp"

namespace promoter::daemon {
namespace {

const std::string sha = "1111111111111111111111111111111111111111";

// A valid staging-deployment body with `field` set to `value` (a JSON string literal, escapes as sent).
std::string staging_body(const std::string& field, const std::string& value) {
  std::string body = R"({"service":"api","sha":")" + sha + R"(","deployment_id":"dep-1","status":"SUCCESS")";
  if (field == "service" || field == "deployment_id" || field == "status") {
    const auto at = body.find("\"" + field + "\":\"");
    const auto start = at + field.size() + 4;
    body.replace(start, body.find('"', start) - start, value);
  } else {
    body += ",\"" + field + "\":\"" + value + "\"";
  }
  return body + "}";
}

std::string refusal(const core::Result<StagingDeploymentRequest>& r) {
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == core::ErrorCode::invalid_argument);
  return r.error().message;
}

TEST_CASE("a NUL in deployment_id is refused naming the field, not cut off") {
  auto r = parse_staging_deployment_request(staging_body("deployment_id", "a\\u0000b"));
  CHECK(refusal(r) == "field 'deployment_id' contains U+0000 (a control character) at byte 1");
}

TEST_CASE("control characters are refused in every single-line field of a staging deployment") {
  for (const std::string field : {"service", "deployment_id", "status", "author"}) {
    for (const std::string ch : {"\\u0001", "\\u001f", "\\n", "\\t", "\\u007f", "\\u0085"}) {
      CAPTURE(field);
      CAPTURE(ch);
      auto r = parse_staging_deployment_request(staging_body(field, "x" + ch + "y"));
      CHECK(refusal(r).starts_with("field '" + field + "' contains U+"));
    }
  }
}

TEST_CASE("bidirectional and invisible characters are refused in every text field of every /v1 body") {
  const std::string rlo = "\\u202e", zwsp = "\\u200b";
  using Parse = std::function<core::Result<void>(const std::string&)>;
  auto drop = [](auto r) -> core::Result<void> {
    if (!r) return std::unexpected(r.error());
    return {};
  };
  struct Case {
    std::string field;
    Parse parse;
    std::string body_before, body_after;  // the body around the field's value
  };
  const Case cases[] = {
      {"reason", [&](auto b) { return drop(parse_approve_request(b)); }, R"({"reason":")", R"("})"},
      {"reason", [&](auto b) { return drop(parse_reject_request(b)); }, R"({"reason":")", R"("})"},
      {"reason", [&](auto b) { return drop(parse_abort_promotion_request(b)); }, R"({"reason":")", R"("})"},
      {"suite", [&](auto b) { return drop(parse_smoke_request(b)); }, R"({"passed":true,"suite":")", R"("})"},
      {"details", [&](auto b) { return drop(parse_smoke_request(b)); }, R"({"passed":true,"suite":"e2e","details":")",
       R"("})"},
      {"reason", [&](auto b) { return drop(parse_hotfix_request(b)); },
       R"({"sha":")" + sha + R"(","incident_url":"https://x.example/1","reason":")", R"("})"},
      {"incident_url", [&](auto b) { return drop(parse_hotfix_request(b)); },
       R"({"sha":")" + sha + R"(","reason":"outage","incident_url":"https://x.example/)", R"("})"},
      {"link", [&](auto b) { return drop(parse_close_obligation_request(b)); }, R"({"link":"https://x.example/)",
       R"("})"},
      {"service", [&](auto b) { return drop(parse_staging_deployment_request(b)); },
       R"({"sha":")" + sha + R"(","deployment_id":"d","status":"SUCCESS","service":")", R"("})"},
      {"deployment_id", [&](auto b) { return drop(parse_staging_deployment_request(b)); },
       R"({"sha":")" + sha + R"(","service":"api","status":"SUCCESS","deployment_id":")", R"("})"},
      {"author", [&](auto b) { return drop(parse_staging_deployment_request(b)); },
       R"({"sha":")" + sha + R"(","service":"api","status":"SUCCESS","deployment_id":"d","author":")", R"("})"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body_before);
    REQUIRE(c.parse(c.body_before + "fine" + c.body_after).has_value());
    for (const auto& [ch, what] : {std::pair{rlo, "U+202E (a bidirectional control character)"},
                                   std::pair{zwsp, "U+200B (an invisible character)"}}) {
      auto r = c.parse(c.body_before + "ab" + ch + "c" + c.body_after);
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error().code == core::ErrorCode::invalid_argument);
      CHECK(r.error().message == "field '" + c.field + "' contains " + what + " at byte " +
                                     (c.field == "incident_url" || c.field == "link" ? "20" : "2"));
    }
  }
}

TEST_CASE("free text keeps its line feeds and tabs, but not other control characters") {
  auto ok = parse_smoke_request(R"({"suite":"e2e","passed":false,"details":"2 failed:\n\tcheckout\n\tlogin"})");
  REQUIRE(ok.has_value());
  CHECK(ok->details == "2 failed:\n\tcheckout\n\tlogin");
  REQUIRE(parse_reject_request(R"({"reason":"breaks\ncheckout"})").has_value());
  auto cr = parse_reject_request(R"({"reason":"breaks\rcheckout"})");
  REQUIRE_FALSE(cr.has_value());
  CHECK(cr.error().message == "field 'reason' contains U+000D (a control character) at byte 6");
  auto nul = parse_approve_request(R"({"reason":"ok\u0000"})");
  REQUIRE_FALSE(nul.has_value());
  CHECK(nul.error().message == "field 'reason' contains U+0000 (a control character) at byte 2");
}

TEST_CASE("a key named twice is refused naming the key, in every /v1 body") {
  auto r = parse_staging_deployment_request(R"({"service":"api","sha":")" + sha +
                                            R"(","deployment_id":"d","status":"FAILED","status":"SUCCESS"})");
  CHECK(refusal(r) == "request body has a duplicate key 'status' in the same object");
  auto approve = parse_approve_request(R"({"reason":"a","reason":"b"})");
  REQUIRE_FALSE(approve.has_value());
  CHECK(approve.error().message == "request body has a duplicate key 'reason' in the same object");
  auto hotfix = parse_hotfix_request(R"({"sha":")" + sha + R"(","sha":")" + sha +
                                     R"(","reason":"r","incident_url":"https://x.example/1"})");
  REQUIRE_FALSE(hotfix.has_value());
  CHECK(hotfix.error().message == "request body has a duplicate key 'sha' in the same object");
  // The same key in two different objects is not a duplicate.
  CHECK(parse_object(R"({"a":{"k":1},"b":{"k":2}})", {"a", "b"}).has_value());
}

TEST_CASE("a commit author spelled to imitate another name is refused on arrival") {
  auto cyrillic = parse_staging_deployment_request(staging_body("author", "b\\u043eb"));
  CHECK(refusal(cyrillic).starts_with("field 'author': the name mixes scripts"));
  for (const std::string fine : {"bob", "Bob Smith", "bob@example.com", "Jos\\u00e9"}) {
    CAPTURE(fine);
    auto r = parse_staging_deployment_request(staging_body("author", fine));
    REQUIRE(r.has_value());
  }
}

TEST_CASE("a line stop's until is an RFC 3339 time or a duration from now, never both, never unbounded") {
  auto at = parse_line_stop_request(R"({"reason":"failover","until":"2026-12-02T18:00:00Z"})");
  REQUIRE(at.has_value());
  CHECK(at->until == core::parse_timestamp("2026-12-02T18:00:00Z").value());
  CHECK_FALSE(at->lasting.has_value());
  auto lasting = parse_line_stop_request(R"({"reason":"failover","until":"1h30m"})");
  REQUIRE(lasting.has_value());
  CHECK(lasting->lasting == std::chrono::minutes{90});
  CHECK_FALSE(lasting->until.has_value());
  auto open = parse_line_stop_request(R"({"reason":"failover"})");
  REQUIRE(open.has_value());
  CHECK_FALSE(open->until.has_value());
  CHECK_FALSE(open->lasting.has_value());
  for (const char* body : {R"({"reason":"x","until":"0s"})", R"({"reason":"x","until":"9000h"})",
                           R"({"reason":"x","until":"tomorrow"})", R"({"reason":"x","until":5})"}) {
    CAPTURE(body);
    auto refused = parse_line_stop_request(body);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == core::ErrorCode::invalid_argument);
    CHECK(refused.error().message.find("'until'") != std::string::npos);
  }
  CHECK_FALSE(parse_line_stop_request(R"({"until":"2h"})").has_value());  // a reason is required
}

}  // namespace
}  // namespace promoter::daemon
