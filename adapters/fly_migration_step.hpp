#pragma once
// The migrate step as flyctl runs a release_command: a one-off machine of the app, on the release's image,
// running the migration command; it must exit 0 before any service is touched.
//
// The machine carries the step's idempotency key in its metadata and its id is noted in the journal, and
// its exit code is noted before it is destroyed, so a restart finds the run it already started instead of
// starting another.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>

#include "adapters/fly_client.hpp"
#include "adapters/monotonic_clock.hpp"
#include "ports/step_performer.hpp"

namespace promoter::adapters {

struct FlyMigrationTarget {
  std::string app;
  std::string image_template;  // "{sha}" is replaced by the release's full SHA
  std::string region;          // "" lets Fly choose
  std::vector<std::string> command;
};

class FlyMigrationStep final : public ports::StepPerformer {
 public:
  FlyMigrationStep(boost::asio::any_io_executor executor, FlyClient& client, FlyMigrationTarget target,
                   std::chrono::milliseconds poll_interval, std::chrono::milliseconds timeout,
                   MonotonicClock& clock = real_monotonic_clock());

  boost::asio::awaitable<core::Result<std::string>> perform(const ports::StepContext&) override;
  boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const ports::StepContext&) override;

 private:
  // Waits for the machine to stop, notes and judges its exit code, destroys it.
  boost::asio::awaitable<core::Result<std::string>> finish(const std::string& machine_id,
                                                           const std::string& instance_id, const ports::StepContext&);

  boost::asio::any_io_executor executor_;
  FlyClient& client_;
  FlyMigrationTarget target_;
  std::chrono::milliseconds poll_interval_;
  std::chrono::milliseconds timeout_;
  MonotonicClock& clock_;
};

}  // namespace promoter::adapters
