#pragma once

// Railway project webhooks → one event value. Railway does not sign bodies and may deliver late,
// twice or out of order: treat an event as a hint and confirm it through the API.

#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace promoter::adapters {

struct RailwayWebhookEvent {
  enum class Kind { deployment, ignored } kind = Kind::ignored;  // ignored: alerts and other types
  std::string type;  // as sent: "Deployment.crashed", "DEPLOY", "Alert.triggered", ...
  std::string deployment_id;
  std::string status;  // DeploymentStatus text (SUCCESS, CRASHED, ...); see parse_railway_webhook
  std::string project_id;
  std::string environment_id;
  std::string environment_name;  // empty when not sent
  std::string service_id;
  std::string service_name;  // empty when not sent
  std::optional<std::string> commit_hash, commit_author;
  std::string timestamp;  // raw RFC 3339 as sent; empty when not sent
};

// Accepts both payload shapes:
//  - current: {"type":"Deployment.<state>","details":{...},"resource":{project,environment,service,deployment},
//    "timestamp"}; status = details.status when present, else derived from <state>
//    (deployed/succeeded/redeployed → SUCCESS, failed → FAILED, crashed/oomKilled → CRASHED,
//    building → BUILDING, deploying → DEPLOYING, queued → QUEUED, needsApproval → NEEDS_APPROVAL,
//    removed → REMOVED, slept → SLEEPING, ...; an unknown <state> becomes its UPPER_SNAKE form);
//  - older: {"type":"DEPLOY","status":...,"project":{...},"environment":{...},"service":{...},
//    "deployment":{"id","meta":{commitHash,commitAuthor}}}.
// Any other type is Kind::ignored (not an error). Malformed JSON, or a deployment event without a
// deployment/project/environment/service id or status, is an error naming the field.
// Total on any input: never throws, never crashes.
std::expected<RailwayWebhookEvent, std::string> parse_railway_webhook(std::string_view body);

}  // namespace promoter::adapters
