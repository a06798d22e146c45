#pragma once
// A promotion step that deploys the release's exact commit to a Railway production service and waits
// until the deployment is live. The deployment id is noted in the journal before waiting, so a restart
// finds the deployment it already started instead of starting another.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <map>
#include <string>

#include "adapters/monotonic_clock.hpp"
#include "adapters/railway_client.hpp"
#include "ports/step_performer.hpp"

namespace promoter::adapters {

struct RailwayTarget {
  std::string project_id;
  std::string environment_id;
  std::string service_id;
};

class RailwayDeployStep final : public ports::StepPerformer {
 public:
  RailwayDeployStep(boost::asio::any_io_executor executor, RailwayClient& client, RailwayTarget target,
                    std::chrono::milliseconds poll_interval, std::chrono::milliseconds timeout,
                    MonotonicClock& clock = real_monotonic_clock());

  boost::asio::awaitable<core::Result<std::string>> perform(const ports::StepContext&) override;
  boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const ports::StepContext&) override;

  // The progress note for a deployment id, and back.
  static std::string note_for(const std::string& deployment_id);
  static std::optional<std::string> deployment_in(const std::string& progress);

 private:
  // Waits until the deployment is SUCCESS (detail line) or fails (failed_precondition) or times out.
  boost::asio::awaitable<core::Result<std::string>> wait_live(std::string deployment_id, const ports::StepContext&);

  // The journal says only "started" both after a restart and after an attempt in this process ended
  // without a clear answer (a 502 on the deploy request, say); what find_done reports differs, so the
  // second is remembered here: idempotency key → what the attempt saw. Empty after a restart.
  std::map<std::string, std::string> unclear_;

  boost::asio::any_io_executor executor_;
  RailwayClient& client_;
  RailwayTarget target_;
  std::chrono::milliseconds poll_interval_;
  std::chrono::milliseconds timeout_;
  MonotonicClock& clock_;
};

}  // namespace promoter::adapters
