#pragma once
// Tracks Railway staging without manual calls: webhooks are hints (each confirmed through the API),
// and a reconciler reads every tracked staging service's deployments at an interval and after every
// webhook, so a missed, duplicated or out-of-order webhook never leaves a release in the wrong state.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <set>

#include "adapters/railway_client.hpp"
#include "daemon/http/auth.hpp"
#include "ports/clock.hpp"
#include "daemon/uses_ports.hpp"
#include "daemon/config/config.hpp"
#include "daemon/metrics.hpp"
#include "daemon/release_service.hpp"
#include "daemon/http/router.hpp"

namespace promoter::daemon {

class RailwayStaging {
 public:
  using Auditor = std::function<void(core::AuditNote)>;
  RailwayStaging(boost::asio::io_context& io, adapters::RailwayClient& client, ReleaseService& releases,
                 const Config& config, std::optional<std::string> webhook_secret, Auditor audit, Metrics& metrics,
                 const Clock& clock);

  // POST /webhooks/railway/{secret}, when a webhook secret is configured.
  void add_routes(Router&);
  // Starts the reconcile loop (first pass at once).
  void start();
  void stop();

  // One pass over every tracked staging environment; exposed for tests and the webhook path.
  boost::asio::awaitable<core::Result<void>> reconcile();

 private:
  struct Tracked {
    std::string project_id;
    std::string environment_id;
    std::map<std::string, std::string> service_names;  // Railway service id -> configured service name
  };

  boost::asio::awaitable<HttpResponse> on_webhook(HttpRequest&);
  boost::asio::awaitable<HttpResponse> handle_webhook(HttpRequest&, std::string& type, std::string& result);
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<core::Result<void>> observe(const adapters::RailwayDeployment&, const std::string& service);
  void poke();

  boost::asio::io_context& io_;
  adapters::RailwayClient& client_;
  ReleaseService& releases_;
  std::optional<TokenDigest> webhook_secret_;
  Auditor audit_;
  Metrics& metrics_;
  const Clock& clock_;
  core::Duration interval_;
  std::vector<Tracked> tracked_;
  std::map<std::string, std::string> seen_;  // deployment id -> last status submitted (io thread)
  std::set<std::string> reported_without_commit_;
  boost::asio::steady_timer wake_;
  bool stopped_ = false;
  bool pending_ = false;
};

}  // namespace promoter::daemon
