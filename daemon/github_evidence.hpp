#pragma once
// Gathers GitHub evidence for the review, ci and ddl_rollback gates, and closes hotfix review backfills whose
// evidence has arrived. Webhooks (POST /webhooks/github) only wake it: every pass re-reads what it needs from
// the API (conditional requests keep a pass that finds nothing new nearly free), so a lost, late or repeated
// delivery delays a gate but never decides one. It also runs at an interval and whenever production moves.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "adapters/github_client.hpp"
#include "core/effect.hpp"
#include "core/evidence.hpp"
#include "core/obligation.hpp"
#include "daemon/config/config.hpp"
#include "daemon/http/auth.hpp"
#include "daemon/http/router.hpp"
#include "daemon/metrics.hpp"
#include "daemon/obligation_watch.hpp"
#include "daemon/release_service.hpp"
#include "daemon/uses_ports.hpp"
#include "ports/clock.hpp"
#include "ports/ledger.hpp"

namespace promoter::daemon {

class GitHubEvidence {
 public:
  using Auditor = std::function<void(core::AuditNote)>;
  GitHubEvidence(boost::asio::io_context& io, boost::asio::any_io_executor blocking, adapters::GitHubClient& client,
                 ReleaseService& releases, Ledger& ledger, ObligationWatch& obligations, const Config& config,
                 std::optional<std::string> webhook_secret, Auditor audit, Metrics& metrics, const Clock& clock);

  // POST /webhooks/github, when a webhook secret is configured.
  void add_routes(Router&);
  void start();  // the reconcile loop; its first pass at once
  void stop();
  // Asks for a pass soon (a webhook arrived, production moved).
  void poke();

  // One pass: evidence for every release still gathering gates, then the open review backfills.
  boost::asio::awaitable<core::Result<void>> reconcile();
  // The evidence for promoting `head` over `production` (nullopt: the head commit alone), as the gates read it.
  boost::asio::awaitable<core::Result<core::Evidence>> gather(core::Sha head, std::optional<core::Sha> production);

 private:
  boost::asio::awaitable<HttpResponse> on_webhook(HttpRequest&);
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<core::Result<void>> close_backfills();
  // Members of the reviewing team among `users` (ids), by the configured list or by asking GitHub.
  boost::asio::awaitable<core::Result<std::set<std::int64_t>>> team_members(std::map<std::int64_t, std::string> users);
  // Remembers a delivery id; false when it was seen already (bounded memory).
  bool first_delivery(const std::string& id);

  boost::asio::io_context& io_;
  boost::asio::any_io_executor blocking_;
  adapters::GitHubClient& client_;
  ReleaseService& releases_;
  Ledger& ledger_;
  ObligationWatch& obligations_;
  core::EvidencePolicy policy_;
  core::FlagPolicy flags_;
  GitHubConfig config_;
  std::optional<std::string> webhook_secret_;
  Auditor audit_;
  Metrics& metrics_;
  const Clock& clock_;
  std::set<std::string> deliveries_;
  std::deque<std::string> delivery_order_;
  boost::asio::steady_timer wake_;
  bool stopped_ = false;
  bool pending_ = false;
};

}  // namespace promoter::daemon
