#pragma once
// The bodies of the /v1 POST requests, parsed into values. Pure functions of the body text (no I/O,
// no clock), so the handlers stay about behaviour and the fuzzer can drive them directly.
// Every error is ErrorCode::invalid_argument (a 400) with a message naming the field.
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/safe_text.hpp"
#include "core/sha.hpp"
#include "core/time.hpp"

namespace promoter::daemon {

// A JSON object with only the `allowed` fields, each named once. An empty (or all-whitespace) body is
// an empty object.
core::Result<nlohmann::json> parse_object(std::string_view body, std::initializer_list<std::string_view> allowed);

// A string field of at most `max` bytes. Absent or null: an error when `required`, else "".
// A required field must not be blank. Characters core::unsafe_text refuses for `kind` are refused:
// every field is single-line but free text a person writes (reasons, smoke details).
core::Result<std::string> text_field(const nlohmann::json& object, std::string_view name, bool required,
                                     std::size_t max = 2000, core::TextKind kind = core::TextKind::single_line);

// POST /v1/releases/{sha}/approve
struct ApproveRequest {
  std::string reason;  // "" when not given
};
core::Result<ApproveRequest> parse_approve_request(std::string_view body);

// POST /v1/releases/{sha}/reject
struct RejectRequest {
  std::string reason;  // required: a rejection says why
};
core::Result<RejectRequest> parse_reject_request(std::string_view body);

// POST /v1/promotions/{id}/abort
struct AbortPromotionRequest {
  std::string reason;  // required: like a rejection, an abort says why
};
core::Result<AbortPromotionRequest> parse_abort_promotion_request(std::string_view body);

// POST /v1/releases/{sha}/smoke-results
struct SmokeRequest {
  std::string suite;
  bool passed = false;
  std::string details;  // "" when not given
};
core::Result<SmokeRequest> parse_smoke_request(std::string_view body);

// POST /v1/staging-deployments
struct StagingDeploymentRequest {
  std::string service;
  core::Sha sha;
  std::string deployment_id;
  std::string status;  // as sent; an unknown status is not an error (see core::parse_deploy_status)
  std::string author;  // "" when not given; refused when it mixes scripts (core::check_identity_spelling)
  std::optional<core::Timestamp> created_at;
  std::vector<core::Sha> ancestors;  // empty when not given
};
core::Result<StagingDeploymentRequest> parse_staging_deployment_request(std::string_view body);

// An http(s) URL of at most 2000 bytes without whitespace: a link an auditor can follow.
core::Result<std::string> url_field(const nlohmann::json& object, std::string_view name);

// POST /v1/hotfixes
struct HotfixRequest {
  core::Sha sha;
  std::string reason;
  std::string incident_url;
  bool override_freeze = false;  // it may start inside a freeze window or a line stop
};
core::Result<HotfixRequest> parse_hotfix_request(std::string_view body);

// POST /v1/freeze (stop the line): a reason, and optionally when it lifts by itself: an RFC 3339 time, or a
// duration from the moment the leader records it ("2h").
struct LineStopRequest {
  std::string reason;
  std::optional<core::Timestamp> until;
  std::optional<core::Duration> lasting;  // at most one of until and lasting is set
};
core::Result<LineStopRequest> parse_line_stop_request(std::string_view body);

// POST /v1/unfreeze: a reason.
struct LineStopLiftRequest {
  std::string reason;
};
core::Result<LineStopLiftRequest> parse_line_stop_lift_request(std::string_view body);

// POST /v1/rollbacks: a reason; the target (a full SHA; default: the release production had before), and
// whether the operator accepts that migrations since the target stay applied.
struct RollbackRequest {
  std::optional<core::Sha> to;
  std::string reason;
  bool accept_schema = false;
};
core::Result<RollbackRequest> parse_rollback_request(std::string_view body);

// POST /v1/obligations/{id}/close
struct CloseObligationRequest {
  std::string link;
};
core::Result<CloseObligationRequest> parse_close_obligation_request(std::string_view body);

}  // namespace promoter::daemon
