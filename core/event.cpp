#include "core/event.hpp"

namespace promoter::core {

std::string_view event_name(const Event& e) {
  struct Name {
    std::string_view operator()(const StagingDeploymentObserved&) const { return "staging_deployment_observed"; }
    std::string_view operator()(const SmokeResultReported&) const { return "smoke_result_reported"; }
    std::string_view operator()(const ApprovalGiven&) const { return "approval_given"; }
    std::string_view operator()(const RejectionGiven&) const { return "rejection_given"; }
    std::string_view operator()(const SoakDeadlineReached&) const { return "soak_deadline_reached"; }
    std::string_view operator()(const PromotionFinished&) const { return "promotion_finished"; }
    std::string_view operator()(const HotfixRequested&) const { return "hotfix_requested"; }
    std::string_view operator()(const EvidenceObserved&) const { return "evidence_observed"; }
    std::string_view operator()(const ConfigObserved&) const { return "config_observed"; }
    std::string_view operator()(const LineStopRequested&) const { return "line_stop_requested"; }
    std::string_view operator()(const LineStopLifted&) const { return "line_stop_lifted"; }
    std::string_view operator()(const FreezeBoundaryReached&) const { return "freeze_boundary_reached"; }
    std::string_view operator()(const RollbackRequested&) const { return "rollback_requested"; }
    std::string_view operator()(const ResumeRequested&) const { return "resume_requested"; }
  };
  return std::visit(Name{}, e);
}

const Sha* event_sha(const Event& e) {
  return std::visit(
      [](const auto& ev) -> const Sha* {
        if constexpr (requires { ev.sha; })
          return &ev.sha;
        else
          return nullptr;
      },
      e);
}

}  // namespace promoter::core
