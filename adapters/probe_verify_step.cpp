#include "adapters/probe_verify_step.hpp"

#include <fmt/format.h>

namespace promoter::adapters {

boost::asio::awaitable<core::Result<std::string>> ProbeVerifyStep::perform(const ports::StepContext& ctx) {
  if (probes_.empty()) co_return std::string("no production probes are configured: nothing to verify");
  auto report = co_await run_probes(http_, probes_);
  if (!report.passed())
    co_return core::fail(core::ErrorCode::failed_precondition,
                         fmt::format("production verification of {} failed: {}", ctx.sha.abbrev(), report.summary()));
  co_return report.summary();
}

boost::asio::awaitable<core::Result<std::optional<std::string>>> ProbeVerifyStep::find_done(const ports::StepContext&) {
  co_return std::optional<std::string>();
}

}  // namespace promoter::adapters
