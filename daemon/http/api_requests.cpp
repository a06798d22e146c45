#include "daemon/http/api_requests.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "adapters/strict_json.hpp"
#include "core/identity.hpp"

namespace promoter::daemon {

using nlohmann::json;

namespace {

std::unexpected<core::Error> bad(std::string message) {
  return core::fail(core::ErrorCode::invalid_argument, std::move(message));
}

}  // namespace

core::Result<json> parse_object(std::string_view body, std::initializer_list<std::string_view> allowed) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  auto parsed = adapters::parse_strict_json(body);
  if (!parsed) {
    if (parsed.error().kind == adapters::StrictJsonError::Kind::duplicate_key)
      return bad("request body has a " + parsed.error().message);
    return bad("request body is not valid JSON");
  }
  json j = std::move(*parsed);
  if (!j.is_object()) return bad("request body must be a JSON object");
  for (const auto& [key, value] : j.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return bad(fmt::format("unknown field '{}' (allowed: {})", key, fmt::join(allowed, ", ")));
  return j;
}

core::Result<std::string> text_field(const json& j, std::string_view name, bool required, std::size_t max,
                                     core::TextKind kind) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) return bad(fmt::format("field '{}' is required", name));
    return std::string();
  }
  if (!it->is_string()) return bad(fmt::format("field '{}' must be a string", name));
  std::string v = it->get<std::string>();
  if (required && v.find_first_not_of(" \t\r\n") == std::string::npos)
    return bad(fmt::format("field '{}' must not be empty", name));
  if (v.size() > max) return bad(fmt::format("field '{}' is longer than {} characters", name, max));
  // NUL would be cut off by PostgreSQL; control, invisible and bidirectional characters would make the
  // text display as something else in promotectl's tables and the audit trail.
  if (auto why = core::unsafe_text(v, kind)) return bad(fmt::format("field '{}' {}", name, *why));
  return v;
}

core::Result<ApproveRequest> parse_approve_request(std::string_view body) {
  auto j = parse_object(body, {"reason"});
  if (!j) return std::unexpected(j.error());
  auto reason = text_field(*j, "reason", false, 2000, core::TextKind::multi_line);
  if (!reason) return std::unexpected(reason.error());
  return ApproveRequest{std::move(*reason)};
}

core::Result<RejectRequest> parse_reject_request(std::string_view body) {
  auto j = parse_object(body, {"reason"});
  if (!j) return std::unexpected(j.error());
  auto reason = text_field(*j, "reason", true, 2000, core::TextKind::multi_line);
  if (!reason) return std::unexpected(reason.error());
  return RejectRequest{std::move(*reason)};
}

core::Result<AbortPromotionRequest> parse_abort_promotion_request(std::string_view body) {
  auto r = parse_reject_request(body);  // the same rule: one required, non-blank reason
  if (!r) return std::unexpected(r.error());
  return AbortPromotionRequest{std::move(r->reason)};
}

core::Result<SmokeRequest> parse_smoke_request(std::string_view body) {
  auto j = parse_object(body, {"suite", "passed", "details"});
  if (!j) return std::unexpected(j.error());
  auto suite = text_field(*j, "suite", true, 200);
  if (!suite) return std::unexpected(suite.error());
  auto details = text_field(*j, "details", false, 4000, core::TextKind::multi_line);
  if (!details) return std::unexpected(details.error());
  auto passed = j->find("passed");
  if (passed == j->end() || !passed->is_boolean()) return bad("field 'passed' is required and must be true or false");
  return SmokeRequest{std::move(*suite), passed->get<bool>(), std::move(*details)};
}

core::Result<StagingDeploymentRequest> parse_staging_deployment_request(std::string_view body) {
  auto j = parse_object(body, {"service", "sha", "deployment_id", "status", "author", "created_at", "ancestors"});
  if (!j) return std::unexpected(j.error());
  auto service = text_field(*j, "service", true, 200);
  if (!service) return std::unexpected(service.error());
  auto sha_text = text_field(*j, "sha", true, 100);
  if (!sha_text) return std::unexpected(sha_text.error());
  auto sha = core::Sha::parse(*sha_text);
  if (!sha) return bad(fmt::format("field 'sha': {}", sha.error().message));
  auto deployment = text_field(*j, "deployment_id", true, 200);
  if (!deployment) return std::unexpected(deployment.error());
  auto status = text_field(*j, "status", true, 50);
  if (!status) return std::unexpected(status.error());
  auto author = text_field(*j, "author", false, 200);
  if (!author) return std::unexpected(author.error());
  // Refused on arrival, so a look-alike of an operator's name never becomes a release's author.
  if (!author->empty())
    if (auto spelled = core::check_identity_spelling(*author); !spelled)
      return bad(fmt::format("field 'author': {}", spelled.error().message));
  auto created_text = text_field(*j, "created_at", false, 64);
  if (!created_text) return std::unexpected(created_text.error());
  std::optional<core::Timestamp> created;
  if (!created_text->empty()) {
    auto t = core::parse_timestamp(*created_text);
    if (!t) return bad(fmt::format("field 'created_at': {}", t.error().message));
    created = *t;
  }
  std::vector<core::Sha> ancestors;
  if (auto it = j->find("ancestors"); it != j->end() && !it->is_null()) {
    if (!it->is_array() || it->size() > 10000)
      return bad("field 'ancestors' must be an array of at most 10000 commit SHAs");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const json& a = (*it)[i];
      if (!a.is_string()) return bad(fmt::format("field 'ancestors[{}]' must be a string", i));
      auto parsed = core::Sha::parse(a.get<std::string>());
      if (!parsed) return bad(fmt::format("field 'ancestors[{}]': {}", i, parsed.error().message));
      ancestors.push_back(std::move(*parsed));
    }
  }
  return StagingDeploymentRequest{std::move(*service), std::move(*sha), std::move(*deployment), std::move(*status),
                                  std::move(*author),  created,         std::move(ancestors)};
}

core::Result<std::string> url_field(const json& j, std::string_view name) {
  auto v = text_field(j, name, true, 2000);
  if (!v) return v;
  if (!(v->starts_with("https://") || v->starts_with("http://")) || v->find_first_of(" \t\r\n") != std::string::npos)
    return bad(fmt::format("field '{}' must be an http(s) URL", name));
  return v;
}

namespace {

// An optional boolean field: false when absent or null.
core::Result<bool> flag_field(const nlohmann::json& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return false;
  if (!it->is_boolean()) return bad(fmt::format("field '{}' must be true or false", name));
  return it->get<bool>();
}

}  // namespace

core::Result<HotfixRequest> parse_hotfix_request(std::string_view body) {
  auto j = parse_object(body, {"sha", "reason", "incident_url", "override_freeze"});
  if (!j) return std::unexpected(j.error());
  auto override_freeze = flag_field(*j, "override_freeze");
  if (!override_freeze) return std::unexpected(override_freeze.error());
  auto sha_text = text_field(*j, "sha", true, 100);
  if (!sha_text) return std::unexpected(sha_text.error());
  auto sha = core::Sha::parse(*sha_text);
  if (!sha) return bad(fmt::format("field 'sha': {}", sha.error().message));
  auto reason = text_field(*j, "reason", true, 2000, core::TextKind::multi_line);
  if (!reason) return std::unexpected(reason.error());
  auto incident = url_field(*j, "incident_url");
  if (!incident) return std::unexpected(incident.error());
  return HotfixRequest{std::move(*sha), std::move(*reason), std::move(*incident), *override_freeze};
}

core::Result<RollbackRequest> parse_rollback_request(std::string_view body) {
  auto j = parse_object(body, {"to", "reason", "accept_schema"});
  if (!j) return std::unexpected(j.error());
  auto accept = flag_field(*j, "accept_schema");
  if (!accept) return std::unexpected(accept.error());
  auto reason = text_field(*j, "reason", true, 2000, core::TextKind::multi_line);
  if (!reason) return std::unexpected(reason.error());
  auto to_text = text_field(*j, "to", false, 100);
  if (!to_text) return std::unexpected(to_text.error());
  RollbackRequest out{std::nullopt, std::move(*reason), *accept};
  if (to_text->empty()) return out;
  auto sha = core::Sha::parse(*to_text);
  if (!sha) return bad(fmt::format("field 'to': {}", sha.error().message));
  out.to = std::move(*sha);
  return out;
}

core::Result<LineStopRequest> parse_line_stop_request(std::string_view body) {
  auto j = parse_object(body, {"reason", "until"});
  if (!j) return std::unexpected(j.error());
  auto reason = text_field(*j, "reason", true, 2000, core::TextKind::multi_line);
  if (!reason) return std::unexpected(reason.error());
  auto until_text = text_field(*j, "until", false, 64);
  if (!until_text) return std::unexpected(until_text.error());
  LineStopRequest out{std::move(*reason), std::nullopt, std::nullopt};
  if (until_text->empty()) return out;
  if (auto t = core::parse_timestamp(*until_text)) {
    out.until = *t;
    return out;
  }
  // A line stop longer than a year is a freeze window, or a stop nobody meant to end.
  auto d = core::parse_duration(*until_text);
  if (!d || *d <= core::Duration::zero() || *d > std::chrono::days{366})
    return bad(
        "field 'until' must be an RFC 3339 time (2026-12-02T18:00:00Z) or a duration from now of at most "
        "366 days (\"2h\", \"90m\")");
  out.lasting = *d;
  return out;
}

core::Result<LineStopLiftRequest> parse_line_stop_lift_request(std::string_view body) {
  auto r = parse_reject_request(body);  // one required, non-blank reason
  if (!r) return std::unexpected(r.error());
  return LineStopLiftRequest{std::move(r->reason)};
}

core::Result<CloseObligationRequest> parse_close_obligation_request(std::string_view body) {
  auto j = parse_object(body, {"link"});
  if (!j) return std::unexpected(j.error());
  auto link = url_field(*j, "link");
  if (!link) return std::unexpected(link.error());
  return CloseObligationRequest{std::move(*link)};
}

}  // namespace promoter::daemon
