// Every /v1 request-body parser on the same bytes. Each must refuse with a 400-kind error or return a
// request that obeys the field rules and survives being written back as JSON and parsed again.
// A new parser is one row of kParsers plus its to_json and check overloads.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/identity.hpp"
#include "core/safe_text.hpp"
#include "daemon/http/api_requests.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace core = promoter::core;
using namespace promoter::daemon;
using nlohmann::json;

bool blank(const std::string& s) { return s.find_first_not_of(" \t\r\n") == std::string::npos; }

// The input rules (README "Input rules"): what is accepted shows as what it is.
bool single_line(const std::string& s) { return !core::unsafe_text(s, core::TextKind::single_line); }
bool multi_line(const std::string& s) { return !core::unsafe_text(s, core::TextKind::multi_line); }

bool lowercase_hex_sha(const std::string& s) {
  return s.size() == 40 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

json to_json(const ApproveRequest& r) { return {{"reason", r.reason}}; }
void check(const ApproveRequest& r) { FUZZ_CHECK(r.reason.size() <= 2000 && multi_line(r.reason)); }

json to_json(const RejectRequest& r) { return {{"reason", r.reason}}; }
void check(const RejectRequest& r) {
  FUZZ_CHECK(!blank(r.reason) && multi_line(r.reason));
  FUZZ_CHECK(r.reason.size() <= 2000);
}

json to_json(const AbortPromotionRequest& r) { return {{"reason", r.reason}}; }
void check(const AbortPromotionRequest& r) {
  FUZZ_CHECK(!blank(r.reason) && multi_line(r.reason));
  FUZZ_CHECK(r.reason.size() <= 2000);
}

json to_json(const SmokeRequest& r) { return {{"suite", r.suite}, {"passed", r.passed}, {"details", r.details}}; }
void check(const SmokeRequest& r) {
  FUZZ_CHECK(!blank(r.suite));
  FUZZ_CHECK(r.suite.size() <= 200 && single_line(r.suite));
  FUZZ_CHECK(r.details.size() <= 4000 && multi_line(r.details));
}

json to_json(const StagingDeploymentRequest& r) {
  json j = {{"service", r.service},
            {"sha", r.sha.str()},
            {"deployment_id", r.deployment_id},
            {"status", r.status},
            {"author", r.author}};
  if (r.created_at) j["created_at"] = core::format_timestamp(*r.created_at);
  if (!r.ancestors.empty()) {
    json ancestors = json::array();
    for (const auto& a : r.ancestors) ancestors.push_back(a.str());
    j["ancestors"] = ancestors;
  }
  return j;
}
void check(const StagingDeploymentRequest& r) {
  FUZZ_CHECK(!blank(r.service) && r.service.size() <= 200 && single_line(r.service));
  FUZZ_CHECK(lowercase_hex_sha(r.sha.str()));
  FUZZ_CHECK(!blank(r.deployment_id) && r.deployment_id.size() <= 200 && single_line(r.deployment_id));
  FUZZ_CHECK(!blank(r.status) && r.status.size() <= 50 && single_line(r.status));
  FUZZ_CHECK(r.author.size() <= 200);
  FUZZ_CHECK(r.author.empty() || core::check_identity_spelling(r.author).has_value());
  FUZZ_CHECK(r.ancestors.size() <= 10000);
  for (const auto& a : r.ancestors) FUZZ_CHECK(lowercase_hex_sha(a.str()));
}

bool http_url(const std::string& s) {
  return (s.starts_with("https://") || s.starts_with("http://")) && s.size() <= 2000 &&
         s.find_first_of(" \t\r\n") == std::string::npos && single_line(s);
}

json to_json(const HotfixRequest& r) {
  return {{"sha", r.sha.str()},
          {"reason", r.reason},
          {"incident_url", r.incident_url},
          {"override_freeze", r.override_freeze}};
}
void check(const HotfixRequest& r) {
  FUZZ_CHECK(lowercase_hex_sha(r.sha.str()));
  FUZZ_CHECK(!blank(r.reason) && r.reason.size() <= 2000 && multi_line(r.reason));
  FUZZ_CHECK(http_url(r.incident_url));
}

json to_json(const LineStopRequest& r) {
  json j = {{"reason", r.reason}};
  if (r.until) j["until"] = core::format_timestamp(*r.until);
  if (r.lasting) j["until"] = core::format_duration(*r.lasting);
  return j;
}
void check(const LineStopRequest& r) {
  FUZZ_CHECK(!blank(r.reason) && r.reason.size() <= 2000 && multi_line(r.reason));
  FUZZ_CHECK(!(r.until && r.lasting));
  FUZZ_CHECK(!r.lasting || (*r.lasting > core::Duration::zero() && *r.lasting <= std::chrono::days{366}));
}

json to_json(const LineStopLiftRequest& r) { return {{"reason", r.reason}}; }
void check(const LineStopLiftRequest& r) {
  FUZZ_CHECK(!blank(r.reason) && r.reason.size() <= 2000 && multi_line(r.reason));
}

json to_json(const RollbackRequest& r) {
  json j = {{"reason", r.reason}, {"accept_schema", r.accept_schema}};
  if (r.to) j["to"] = r.to->str();
  return j;
}
void check(const RollbackRequest& r) {
  FUZZ_CHECK(!blank(r.reason) && r.reason.size() <= 2000 && multi_line(r.reason));
  FUZZ_CHECK(!r.to || lowercase_hex_sha(r.to->str()));
}

json to_json(const CloseObligationRequest& r) { return {{"link", r.link}}; }
void check(const CloseObligationRequest& r) { FUZZ_CHECK(http_url(r.link)); }

template <class Request, core::Result<Request> (*parse)(std::string_view)>
void round_trip(std::string_view body) {
  const auto request = parse(body);
  if (!request) {
    FUZZ_CHECK(request.error().code == core::ErrorCode::invalid_argument);
    FUZZ_CHECK(!request.error().message.empty());
    return;
  }
  check(*request);
  // Strict dump: the fields reach logs, the audit trail and JSON answers, so they must be valid UTF-8.
  const json written = to_json(*request);
  const auto again = parse(written.dump());
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(to_json(*again) == written);
}

struct Parser {
  std::string_view name;
  void (*run)(std::string_view body);
};

constexpr Parser kParsers[] = {
    {"approve", round_trip<ApproveRequest, parse_approve_request>},
    {"reject", round_trip<RejectRequest, parse_reject_request>},
    {"promotions-abort", round_trip<AbortPromotionRequest, parse_abort_promotion_request>},
    {"smoke-results", round_trip<SmokeRequest, parse_smoke_request>},
    {"staging-deployments", round_trip<StagingDeploymentRequest, parse_staging_deployment_request>},
    {"hotfixes", round_trip<HotfixRequest, parse_hotfix_request>},
    {"obligations-close", round_trip<CloseObligationRequest, parse_close_obligation_request>},
    {"freeze", round_trip<LineStopRequest, parse_line_stop_request>},
    {"unfreeze", round_trip<LineStopLiftRequest, parse_line_stop_lift_request>},
    {"rollbacks", round_trip<RollbackRequest, parse_rollback_request>},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const auto& parser : kParsers) parser.run(body);
  return 0;
}
