#include "daemon/http/json_views.hpp"

#include "core/evidence_gates.hpp"

namespace promoter::daemon {

namespace {
nlohmann::json ts_or_null(const std::optional<core::Timestamp>& t) {
  return t ? nlohmann::json(core::format_timestamp(*t)) : nlohmann::json(nullptr);
}
nlohmann::json gate_json(const core::GateStatus& g) {
  return {{"ok", g.ok}, {"reason", g.reason}, {"required", g.applies}};
}
// What the evidence gates read, in short: enough to find the PR or check a reason names.
nlohmann::json evidence_json(const core::Evidence& e) {
  nlohmann::json pulls = nlohmann::json::array();
  for (const auto& [number, p] : e.pulls)
    pulls.push_back({{"number", number}, {"url", p.url}, {"author", p.author.login}, {"reviews", p.reviews.size()}});
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& c : e.checks)
    checks.push_back({{"name", c.name}, {"completed", c.completed}, {"conclusion", c.conclusion}});
  return {{"base", e.base ? nlohmann::json(*e.base) : nlohmann::json(nullptr)},
          {"observed_at", core::format_timestamp(e.observed_at)},
          {"commits", e.commits.size()},
          {"pulls", pulls},
          {"checks", checks}};
}
nlohmann::json verdict_json(const core::Verdict& v) {
  return {{"by", v.by}, {"at", core::format_timestamp(v.at)}, {"reason", v.reason}, {"gate_facts", v.gate_facts}};
}
}  // namespace

nlohmann::json release_json(const core::Release& r, const core::Policy& policy, core::Timestamp now,
                            const std::optional<core::Sha>& current_production) {
  const std::optional<core::Sha> production = core::evidence_range_start(r, current_production);
  const core::GateReport gates = core::evaluate_gates(r, policy, now, production);
  nlohmann::json deployments = nlohmann::json::array();
  for (const auto& service : policy.services) {
    auto it = r.deployments.find(service);
    if (it == r.deployments.end()) continue;
    deployments.push_back({{"service", service},
                           {"deployment_id", it->second.deployment_id},
                           {"status", core::to_string(it->second.status)},
                           {"updated_at", core::format_timestamp(it->second.updated_at)}});
  }
  nlohmann::json smoke = nlohmann::json::array();
  for (const auto& [suite, s] : r.smoke)
    smoke.push_back({{"suite", suite},
                     {"passed", s.passed},
                     {"reported_by", s.reported_by},
                     {"at", core::format_timestamp(s.at)},
                     {"details", s.details}});
  nlohmann::json approvals = nlohmann::json::array();
  for (const auto& a : r.approvals) approvals.push_back(verdict_json(a));
  return {
      {"sha", r.sha.str()},
      {"author", r.author},
      {"state", core::to_string(r.state)},
      {"state_reason", core::state_reason_at(r, policy, now, production)},  // a soaking release's counts time
      {"first_seen_at", core::format_timestamp(r.first_seen_at)},
      {"live_at", ts_or_null(r.live_at)},
      {"gates",
       {{"soak", gate_json(gates.soak)},
        {"smoke", gate_json(gates.smoke)},
        {"approval", gate_json(gates.approval)},
        {"review", gate_json(gates.review)},
        {"ci", gate_json(gates.ci)},
        {"ddl_rollback", gate_json(gates.ddl_rollback)},
        {"env", gate_json(gates.env)},
        {"flag", gate_json(gates.flag)}}},
      {"evidence", r.evidence ? evidence_json(*r.evidence) : nlohmann::json(nullptr)},
      {"ready", gates.all_ok()},
      {"soak",
       {{"started_at", ts_or_null(r.soak_started_at)},
        {"deadline", ts_or_null(gates.soak_deadline)},
        {"resets", r.soak_resets}}},
      {"deployments", deployments},
      {"smoke_results", smoke},
      {"approvals", approvals},
      {"rejection", r.rejection ? verdict_json(*r.rejection) : nlohmann::json(nullptr)},
      {"hotfix", r.hotfix ? nlohmann::json{{"by", r.hotfix->by},
                                           {"at", core::format_timestamp(r.hotfix->at)},
                                           {"reason", r.hotfix->reason},
                                           {"incident_url", r.hotfix->incident_url},
                                           {"overrides_freeze", r.hotfix->overrides_freeze}}
                          : nlohmann::json(nullptr)},
      {"required_approvals", core::required_approvals(r, policy)},
      {"promotion_id", r.promotion_id ? nlohmann::json(core::to_string(*r.promotion_id)) : nlohmann::json(nullptr)}};
}

nlohmann::json promotion_json(const PromotionRecord& p) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : p.steps) {
    nlohmann::json duration = nullptr;
    if (s.started_at && s.finished_at) duration = std::chrono::duration<double>(*s.finished_at - *s.started_at).count();
    steps.push_back({{"index", s.step.index},
                     {"name", s.step.name()},
                     {"kind", core::to_string(s.step.kind)},
                     {"service", s.step.service.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.step.service)},
                     {"state", core::to_string(s.state)},
                     {"idempotency_key", s.idempotency_key},
                     {"attempts", s.attempts},
                     {"started_at", ts_or_null(s.started_at)},
                     {"finished_at", ts_or_null(s.finished_at)},
                     {"duration_seconds", duration},
                     {"detail", s.detail}});
  }
  return {
      {"id", core::to_string(p.id)},
      {"sha", p.sha},
      {"environment", p.environment},
      {"state", to_string(p.state)},
      {"hotfix", p.hotfix},
      {"created_at", core::format_timestamp(p.created_at)},
      {"finished_at", ts_or_null(p.finished_at)},
      {"error", p.error ? nlohmann::json(*p.error) : nlohmann::json(nullptr)},
      {"abort", p.abort ? nlohmann::json{{"by", p.abort->by},
                                         {"at", core::format_timestamp(p.abort->at)},
                                         {"reason", p.abort->reason}}
                        : nlohmann::json(nullptr)},
      {"steps", steps},
      {"kind", p.rollback ? "rollback" : "promotion"},
      {"rollback", p.rollback ? nlohmann::json{{"requested_by", p.rollback->requested_by},
                                               {"requested_at", core::format_timestamp(p.rollback->requested_at)},
                                               {"reason", p.rollback->reason},
                                               {"trigger", p.rollback->trigger},
                                               {"after_promotion",
                                                p.rollback->after ? nlohmann::json(core::to_string(*p.rollback->after))
                                                                  : nlohmann::json(nullptr)},
                                               {"migrations_since", p.rollback->migrations_since},
                                               {"schema_state", p.rollback->schema_state}}
                              : nlohmann::json(nullptr)},
      {"rolled_back_by",
       p.rolled_back_by ? nlohmann::json(core::to_string(*p.rolled_back_by)) : nlohmann::json(nullptr)}};
}

nlohmann::json rollback_json(const core::Rollback& r) {
  return {{"target", r.target.str()},
          {"requested_by", r.by},
          {"requested_at", core::format_timestamp(r.requested_at)},
          {"reason", r.reason},
          {"trigger", core::to_string(r.trigger)},
          {"after_promotion", r.after ? nlohmann::json(core::to_string(*r.after)) : nlohmann::json(nullptr)},
          {"promotion_id", r.promotion_id ? nlohmann::json(core::to_string(*r.promotion_id)) : nlohmann::json(nullptr)},
          {"migrations_since", r.migrations_since},
          {"schema_state", r.schema_state},
          {"text", core::describe(r)}};
}

nlohmann::json pin_json(const std::optional<core::Pin>& pin) {
  if (!pin) return {{"pinned", false}};
  return {{"pinned", true},
          {"by", pin->by},
          {"at", core::format_timestamp(pin->at)},
          {"reason", pin->reason},
          {"text", core::pin_reason(*pin)}};
}

nlohmann::json obligation_json(const core::Obligation& o, core::Timestamp now) {
  return {{"id", std::to_string(o.id)},
          {"kind", core::to_string(o.kind)},
          {"sha", o.sha.str()},
          {"opened_by", o.opened_by},
          {"opened_at", core::format_timestamp(o.opened_at)},
          {"due_at", core::format_timestamp(o.due_at)},
          {"state", o.open() ? (o.overdue(now) ? "overdue" : "open") : "closed"},
          {"closed_at", ts_or_null(o.closed_at)},
          {"closed_by", o.open() ? nlohmann::json(nullptr) : nlohmann::json(o.closed_by)},
          {"link", o.open() ? nlohmann::json(nullptr) : nlohmann::json(o.link)}};
}

nlohmann::json audit_json(const AuditEntry& e) {
  return {{"id", e.id},
          {"at", core::format_timestamp(e.at)},
          {"actor", e.actor},
          {"action", e.action},
          {"sha", e.sha ? nlohmann::json(*e.sha) : nlohmann::json(nullptr)},
          {"detail", e.detail},
          {"epoch", e.epoch ? nlohmann::json(*e.epoch) : nlohmann::json(nullptr)}};
}

}  // namespace promoter::daemon
