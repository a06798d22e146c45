#pragma once
// A promotion step that rolls a Fly app's machines to the image built for the release, one machine at a
// time, the way flyctl's rolling strategy does: lease, update with the full config and the new image, wait
// for `started` on the new instance, wait for its checks, release the lease.
//
// Never updates a machine twice: a machine already on the target image counts as done (it is only waited
// healthy), and the lease nonce and new instance id are noted in the journal before each wait, so a
// restart resumes with the next machine. A restart keeps the order of a machine's roll: a machine it had
// updated is waited started with passing checks before the lease it noted is given back.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>

#include "adapters/fly_client.hpp"
#include "adapters/monotonic_clock.hpp"
#include "ports/step_performer.hpp"

namespace promoter::adapters {

struct FlyTarget {
  std::string app;
  std::string image_template;  // "{sha}" is replaced by the release's full SHA
  std::string process_group;   // "" = every machine of the app
};

struct FlyTimings {
  std::chrono::milliseconds poll_interval{2'000};
  std::chrono::milliseconds lease_ttl{120'000};
  std::chrono::milliseconds lease_wait{180'000};       // someone else's lease: wait this long, then fail
  std::chrono::milliseconds machine_timeout{300'000};  // started and passing checks within this
};

// The image template with the SHA filled in.
std::string fly_image_for(const std::string& image_template, const core::Sha& sha);

class FlyDeployStep final : public ports::StepPerformer {
 public:
  FlyDeployStep(boost::asio::any_io_executor executor, FlyClient& client, FlyTarget target, FlyTimings timings,
                MonotonicClock& clock = real_monotonic_clock());

  boost::asio::awaitable<core::Result<std::string>> perform(const ports::StepContext&) override;
  boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const ports::StepContext&) override;

 private:
  boost::asio::awaitable<core::Result<std::vector<FlyMachine>>> machines();
  boost::asio::awaitable<core::Result<void>> roll(const FlyMachine&, const std::string& image,
                                                  const ports::StepContext&);
  boost::asio::awaitable<core::Result<FlyLease>> lease(const FlyMachine&, const ports::StepContext&);
  boost::asio::awaitable<core::Result<std::string>> update(const FlyMachine&, const std::string& image,
                                                           const std::string& nonce);
  boost::asio::awaitable<core::Result<void>> wait_healthy(const std::string& machine_id, const std::string& instance_id,
                                                          const std::string& image);
  // After a restart: the machine the journal noted as being rolled, if it is on `image`, is waited healthy;
  // then the lease noted for it is released (also when the wait failed: a failed machine is for people to
  // look at, not to stay locked).
  boost::asio::awaitable<core::Result<void>> settle_noted_machine(const std::string& progress,
                                                                  const std::string& image);
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds);

  boost::asio::any_io_executor executor_;
  FlyClient& client_;
  FlyTarget target_;
  FlyTimings timings_;
  MonotonicClock& clock_;
};

}  // namespace promoter::adapters
