#pragma once
// The promotion's verify step: the production probes, after the last service step. Probes are reads, so
// after a crash they simply run again.
#include "adapters/http_probe.hpp"
#include "ports/step_performer.hpp"

namespace promoter::adapters {

class ProbeVerifyStep final : public ports::StepPerformer {
 public:
  // `http` must outlive the step.
  ProbeVerifyStep(HttpClient& http, std::vector<Probe> probes) : http_(http), probes_(std::move(probes)) {}

  boost::asio::awaitable<core::Result<std::string>> perform(const ports::StepContext&) override;
  boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const ports::StepContext&) override;

 private:
  HttpClient& http_;
  std::vector<Probe> probes_;
};

}  // namespace promoter::adapters
