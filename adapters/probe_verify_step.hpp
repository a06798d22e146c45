#pragma once
// The promotion's verify step: the production probes, after the last service step. Probes are reads, so
// after a crash they simply run again.
#include "adapters/http_probe.hpp"
#include "daemon/step_performer.hpp"

namespace promoter::adapters {

class ProbeVerifyStep final : public daemon::StepPerformer {
 public:
  // `http` must outlive the step.
  ProbeVerifyStep(HttpClient& http, std::vector<Probe> probes) : http_(http), probes_(std::move(probes)) {}

  boost::asio::awaitable<core::Result<std::string>> perform(const daemon::StepContext&) override;
  boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const daemon::StepContext&) override;

 private:
  HttpClient& http_;
  std::vector<Probe> probes_;
};

}  // namespace promoter::adapters
