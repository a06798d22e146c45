#include "daemon/railway_staging.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <openssl/crypto.h>

#include "adapters/railway_webhook.hpp"
#include "core/identity.hpp"
#include "daemon/log.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;

RailwayStaging::RailwayStaging(asio::io_context& io, adapters::RailwayClient& client, ReleaseService& releases,
                               const Config& config, std::optional<std::string> webhook_secret, Auditor audit,
                               Metrics& metrics, const Clock& clock)
    : io_(io),
      client_(client),
      releases_(releases),
      audit_(std::move(audit)),
      metrics_(metrics),
      clock_(clock),
      interval_(config.railway ? config.railway->reconcile_interval : core::Duration(std::chrono::seconds(60))),
      wake_(io) {
  if (webhook_secret) webhook_secret_ = TokenRegistry::digest(*webhook_secret);
  for (const auto& s : config.services) {
    if (s.staging.provider != "railway") continue;
    auto it = std::find_if(tracked_.begin(), tracked_.end(), [&](const Tracked& t) {
      return t.project_id == s.staging.project_id && t.environment_id == s.staging.environment_id;
    });
    if (it == tracked_.end())
      it = tracked_.insert(tracked_.end(), Tracked{s.staging.project_id, s.staging.environment_id, {}});
    it->service_names[s.staging.service_id] = s.name;
  }
}

void RailwayStaging::add_routes(Router& router) {
  if (!webhook_secret_) return;
  router.add(http::verb::post, "/webhooks/railway/{secret}", RouteAccess{false, {}},
             [this](HttpRequest& req) { return on_webhook(req); });
}

void RailwayStaging::start() {
  if (tracked_.empty()) return;
  asio::co_spawn(io_, loop(), asio::detached);
}

void RailwayStaging::stop() {
  stopped_ = true;
  wake_.cancel();
}

void RailwayStaging::poke() {
  pending_ = true;
  wake_.cancel();
}

asio::awaitable<void> RailwayStaging::loop() {
  while (!stopped_) {
    pending_ = false;
    auto r = co_await reconcile();
    metrics_.reconcile_finished(r.has_value(), clock_.now());
    if (!r) log(LogLevel::warn, "staging reconciliation failed; will retry", {{"error", r.error().message}});
    if (stopped_ || pending_) continue;
    wake_.expires_after(interval_);
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<core::Result<void>> RailwayStaging::observe(const adapters::RailwayDeployment& d,
                                                            const std::string& service) {
  if (!d.commit_hash) {
    if (reported_without_commit_.insert(d.id).second) {
      log(LogLevel::warn, "staging deployment has no commit in its metadata; recorded, not guessed",
          {{"deployment_id", d.id}, {"service", service}, {"status", d.status}});
      if (audit_)
        audit_(core::AuditNote{"railway", "staging.deployment_without_commit", std::nullopt,
                               fmt::format("{} deployment {} ({}) has no commitHash in its metadata; no release "
                                           "can be tracked from it",
                                           service, d.id, d.status)});
    }
    co_return core::Result<void>{};
  }
  auto sha = core::Sha::parse(*d.commit_hash);
  if (!sha) {
    log(LogLevel::warn, "staging deployment has a malformed commit; ignored",
        {{"deployment_id", d.id}, {"service", service}});
    co_return core::Result<void>{};
  }
  if (auto it = seen_.find(d.id); it != seen_.end() && it->second == d.status) co_return core::Result<void>{};
  std::optional<core::Timestamp> created;
  if (auto t = core::parse_timestamp(d.created_at)) created = *t;
  // An author that imitates another name (mixed scripts, invisible characters) is not recorded: the
  // deployment still is, and the release waits for a readable author before anyone may approve it.
  std::string author = d.commit_author.value_or("");
  if (!author.empty())
    if (auto spelled = core::check_identity_spelling(author); !spelled) {
      log(LogLevel::warn, "staging deployment's commit author refused; recorded without it",
          {{"deployment_id", d.id}, {"service", service}, {"reason", spelled.error().message}});
      author.clear();
    }
  core::Event event = core::StagingDeploymentObserved{
      *sha, service, d.id, core::parse_deploy_status(d.status), std::move(author), created, "railway"};
  auto r = co_await releases_.submit(std::move(event));
  if (!r && r.error().code == core::ErrorCode::unavailable) co_return std::unexpected(r.error());
  if (!r)
    log(LogLevel::warn, "staging deployment not applied", {{"deployment_id", d.id}, {"error", r.error().message}});
  seen_[d.id] = d.status;
  co_return core::Result<void>{};
}

asio::awaitable<core::Result<void>> RailwayStaging::reconcile() {
  for (const auto& t : tracked_) {
    std::vector<std::string> ids;
    for (const auto& [id, name] : t.service_names) ids.push_back(id);
    auto batch = co_await client_.list_deployments_batch(t.environment_id, t.project_id, ids, 10);
    if (!batch)
      co_return core::fail(
          core::ErrorCode::unavailable,
          fmt::format("listing staging deployments of environment {}: {}", t.environment_id, batch.error().message));
    for (const auto& [service_id, deployments] : *batch) {
      const std::string& name = t.service_names.at(service_id);
      // Oldest first, so a newer release is seen after the one it replaces.
      for (auto it = deployments.rbegin(); it != deployments.rend(); ++it) {
        auto r = co_await observe(*it, name);
        if (!r) co_return r;
      }
    }
  }
  co_return core::Result<void>{};
}

asio::awaitable<HttpResponse> RailwayStaging::on_webhook(HttpRequest& req) {
  std::string type = "unknown";
  std::string result = "invalid";
  auto response = co_await handle_webhook(req, type, result);
  metrics_.webhook(type, result);
  co_return response;
}

// Sets `type` (deployment, other, unknown) and `result` (a bounded word) for the metrics.
asio::awaitable<HttpResponse> RailwayStaging::handle_webhook(HttpRequest& req, std::string& type, std::string& result) {
  // Compare digests in constant time; a wrong secret looks like no route at all.
  const TokenDigest given = TokenRegistry::digest(req.params.at("secret"));
  if (CRYPTO_memcmp(given.data(), webhook_secret_->data(), given.size()) != 0) {
    result = "refused";
    co_return HttpResponse::error(404, core::ErrorCode::not_found, "no such route");
  }
  auto event = adapters::parse_railway_webhook(req.body);
  if (!event) co_return HttpResponse::error(400, core::ErrorCode::invalid_argument, event.error());
  type = event->kind == adapters::RailwayWebhookEvent::Kind::deployment ? "deployment" : "other";
  result = "ignored";
  if (event->kind != adapters::RailwayWebhookEvent::Kind::deployment)
    co_return HttpResponse::json(200, {{"status", "ignored"}, {"reason", "not a deployment event"}});
  const Tracked* tracked = nullptr;
  for (const auto& t : tracked_)
    if (t.project_id == event->project_id && t.environment_id == event->environment_id &&
        t.service_names.contains(event->service_id))
      tracked = &t;
  // 2xx for everything deliberately not acted on: Railway retries other answers and, after repeated
  // failures, suspends the webhook for every environment of the project.
  if (!tracked) co_return HttpResponse::json(202, {{"status", "ignored"}, {"reason", "not a tracked staging service"}});
  const std::string service = tracked->service_names.at(event->service_id);
  // A webhook is a hint: the deployment as the API reports it is what gets recorded.
  auto confirmed = co_await client_.find_deployment(event->deployment_id);
  if (!confirmed) {
    result = "unavailable";
    co_return HttpResponse::error(
        503, core::ErrorCode::unavailable,
        fmt::format("cannot confirm deployment {} with Railway now; retry later", event->deployment_id));
  }
  // Railway answered, and what it says settles the event: no such deployment, or one elsewhere.
  std::string ignored;
  if (!*confirmed) {
    ignored = fmt::format("Railway has no deployment {}", event->deployment_id);
  } else if ((!(*confirmed)->environment_id.empty() && (*confirmed)->environment_id != tracked->environment_id) ||
             (!(*confirmed)->service_id.empty() && (*confirmed)->service_id != event->service_id)) {
    ignored = fmt::format("Railway reports deployment {} in environment {}, service {}, not the tracked {} service",
                          event->deployment_id, (*confirmed)->environment_id, (*confirmed)->service_id, service);
  }
  if (!ignored.empty()) {
    log(LogLevel::warn, "Railway webhook ignored: the API does not confirm its deployment",
        {{"deployment_id", event->deployment_id}, {"service", service}, {"reason", ignored}});
    if (audit_)
      audit_(core::AuditNote{"railway", "staging.webhook_ignored", std::nullopt,
                             fmt::format("webhook {} for {}: {}; not recorded", event->type, service, ignored)});
    co_return HttpResponse::json(202, {{"status", "ignored"}, {"reason", ignored}});
  }
  const adapters::RailwayDeployment& deployment = **confirmed;
  auto r = co_await observe(deployment, service);
  if (!r) {
    result = "unavailable";
    co_return HttpResponse::error(503, core::ErrorCode::unavailable, "cannot record the deployment now; retry later");
  }
  poke();
  result = deployment.commit_hash ? "accepted" : "recorded_without_commit";
  if (!deployment.commit_hash)
    co_return HttpResponse::json(
        202, {{"status", "recorded_without_commit"}, {"reason", "the deployment's metadata has no commit hash"}});
  co_return HttpResponse::json(200, {{"status", "accepted"}});
}

}  // namespace promoter::daemon
