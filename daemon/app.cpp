#include "daemon/app.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <thread>

#include "core/gates.hpp"
#include "adapters/railway_deploy_step.hpp"
#include "daemon/blocking.hpp"
#include "daemon/log.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;

std::expected<Secrets, std::string> read_secrets(const Config& config, const EnvLookup& env) {
  Secrets s;
  auto url = env(config.database_url_env);
  // An empty value is allowed: libpq then takes PGHOST, PGPORT, PGUSER, ... from the environment.
  if (!url)
    return std::unexpected(fmt::format("{}: database.url_env names {}, which is not set (an empty value uses "
                                       "libpq's PG* variables)",
                                       config.path, config.database_url_env));
  s.database_url = *url;
  auto tokens = resolve_tokens(config, env);
  if (!tokens) return std::unexpected(tokens.error());
  s.tokens = std::move(*tokens);
  if (config.railway) {
    s.railway_token = env(config.railway->token_env);
    if (!s.railway_token || s.railway_token->empty())
      return std::unexpected(fmt::format("{}: railway.token_env names {}, which is not set", config.path,
                                         config.railway->token_env));
    if (!config.railway->webhook_secret_env.empty()) {
      s.railway_webhook_secret = env(config.railway->webhook_secret_env);
      if (!s.railway_webhook_secret || s.railway_webhook_secret->size() < 24)
        return std::unexpected(fmt::format("{}: railway.webhook_secret_env names {}, which must hold a random "
                                           "secret of at least 24 characters",
                                           config.path, config.railway->webhook_secret_env));
    }
  }
  return s;
}

App::App(Config config, Secrets secrets, const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      store_(std::move(secrets.database_url), config_.database_max_connections),
      metrics_(PROMOTER_VERSION, config_.policy.short_soak()),
      tokens_(std::move(secrets.tokens)),
      releases_(io_, pool_, store_, clock_, metrics_, config_.environment),
      simulated_({config_.simulation.record_file, config_.simulation.step_delay, config_.simulation.fail_steps},
                 [&clock] { return clock.now(); }) {
  StepPerformers performers;
  auto simulated = [&] {
    performers_.push_back(std::make_unique<adapters::SimulatedStep>(simulated_, io_.get_executor()));
    return performers_.back().get();
  };
  if (config_.railway) {
    adapters::HttpClientOptions options;
    options.ca_file = config_.railway->ca_file;
    http_client_ = std::make_unique<adapters::HttpClient>(io_.get_executor(), options);
    railway_ = std::make_unique<adapters::RailwayClient>(
        *http_client_, adapters::RailwayClientOptions{config_.railway->endpoint, secrets.railway_token.value_or(""),
                                                      config_.railway->token_kind == "project"
                                                          ? adapters::RailwayTokenKind::project
                                                          : adapters::RailwayTokenKind::account});
    railway_staging_ = std::make_unique<RailwayStaging>(
        io_, *railway_, releases_, config_, secrets.railway_webhook_secret, [this](core::AuditNote note) {
          const auto now = clock_.now();
          asio::post(pool_, [this, note = std::move(note), now] {
            if (auto r = store_.append_audit(note, now); !r)
              log(LogLevel::error, "could not write the audit log", {{"error", r.error().message}});
          });
        });
  }
  performers.migrate = simulated();
  performers.verify = simulated();
  for (const auto& service : config_.services) {
    if (service.production.provider == "railway") {
      performers_.push_back(std::make_unique<adapters::RailwayDeployStep>(
          io_.get_executor(), *railway_,
          adapters::RailwayTarget{service.production.project_id, service.production.environment_id,
                                  service.production.service_id},
          config_.railway->poll_interval, config_.railway->deploy_timeout));
      performers.deploy[service.name] = performers_.back().get();
    } else {
      performers.deploy[service.name] = simulated();
    }
  }

  ExecutorHooks hooks;
  hooks.preflight = [this](const core::Sha& sha, PromotionId id) -> asio::awaitable<core::Result<std::string>> {
    const auto now = clock_.now();
    auto check = [sha, id, now](const core::World& w) -> core::Result<std::string> {
      const core::Release* r = w.find(sha);
      if (!r || r->state != core::ReleaseState::promoting || r->promotion_id != id)
        return core::fail(core::ErrorCode::failed_precondition,
                          fmt::format("release {} is no longer being promoted by promotion {}", sha.abbrev(), id));
      const auto gates = core::evaluate_gates(*r, w.policy, now);
      if (!gates.all_ok())
        return core::fail(core::ErrorCode::failed_precondition,
                          fmt::format("gates no longer hold: {}; {}; {}", gates.soak.reason, gates.smoke.reason,
                                      gates.approval.reason));
      return fmt::format("gates hold: {}; {}; {}", gates.soak.reason, gates.smoke.reason, gates.approval.reason);
    };
    co_return co_await releases_.read(std::move(check));
  };
  hooks.finish = [this](const core::Sha& sha, PromotionId id, bool ok,
                        std::string detail) -> asio::awaitable<core::Result<void>> {
    core::Event finished = core::PromotionFinished{sha, id, ok, std::move(detail)};
    auto r = co_await releases_.submit(std::move(finished));
    if (!r && r.error().code != core::ErrorCode::failed_precondition) co_return std::unexpected(r.error());
    metrics_.promotion_finished(ok, std::nullopt, clock_.now());
    co_return core::Result<void>{};
  };
  executor_ = std::make_unique<PromotionExecutor>(pool_.get_executor(), store_, clock_, std::move(performers),
                                                  std::move(hooks), config_.environment, &metrics_);
  releases_.on_promotion_start([this](PromotionId id, const core::Sha&) { start_promotion(id); });

  add_api_routes(router_, ApiContext{releases_, store_, pool_.get_executor(), metrics_, config_, PROMOTER_VERSION});
  if (railway_staging_) railway_staging_->add_routes(router_);
  ServerHooks server_hooks;
  server_hooks.on_request = [this](std::string_view method, std::string_view route, unsigned status, double s) {
    metrics_.http_request(method, route, status, s);
  };
  server_hooks.on_auth_failure = [this](const HttpRequest& req, unsigned status, std::string_view reason) {
    log(LogLevel::warn, "request refused",
        {{"status", status}, {"route", req.route}, {"remote", req.remote},
         {"identity", req.principal ? req.principal->identity : ""}, {"reason", reason}});
    core::AuditNote note{req.principal ? req.principal->identity : "anonymous",
                         status == 401 ? "auth.unauthenticated" : "auth.forbidden", std::nullopt,
                         fmt::format("{} {} from {}: {}", std::string(boost::beast::http::to_string(req.method)), req.path,
                                     req.remote, reason)};
    const auto now = clock_.now();
    asio::post(pool_, [this, note, now] { (void)store_.append_audit(note, now); });
  };
  server_ = std::make_unique<HttpServer>(io_, router_, tokens_, ServerLimits{}, std::move(server_hooks));
}

App::~App() {
  stop();
  pool_.join();
}

core::Result<void> App::prepare(core::Duration db_wait) {
  const auto deadline = std::chrono::steady_clock::now() + db_wait;
  for (int attempt = 1;; ++attempt) {
    auto m = store_.migrate();
    if (m) break;
    if (m.error().code != core::ErrorCode::unavailable || std::chrono::steady_clock::now() >= deadline)
      return std::unexpected(m.error());
    log(LogLevel::warn, "database not reachable yet; retrying", {{"attempt", attempt}, {"error", m.error().message}});
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  metrics_.set_database_up(true);
  if (auto l = server_->listen(config_.listen_host, config_.listen_port); !l)
    return core::fail(core::ErrorCode::unavailable, l.error());
  return {};
}

void App::run() {
  if (config_.policy.short_soak())
    log(LogLevel::warn, "SHORT SOAK MODE: the soak is below the policy floor; for demos and tests only",
        {{"soak", core::format_duration(config_.policy.soak)}, {"floor", core::format_duration(core::soak_floor)}});
  server_->start();
  asio::co_spawn(io_, startup(), asio::detached);
  log(LogLevel::info, "promoterd listening",
      {{"address", fmt::format("http://{}:{}", config_.listen_host, server_->port())},
       {"environment", config_.environment}, {"version", PROMOTER_VERSION}});
  io_.run();
}

asio::awaitable<void> App::startup() {
  auto started = co_await releases_.start(config_.policy);
  if (!started) {
    log(LogLevel::error, "cannot load releases; stopping", {{"error", started.error().message}});
    stop();
    co_return;
  }
  auto running = co_await run_blocking(pool_.get_executor(), [this] { return store_.running_promotions(config_.environment); });
  if (!running) {
    log(LogLevel::error, "cannot list running promotions; stopping", {{"error", running.error().message}});
    stop();
    co_return;
  }
  for (PromotionId id : *running) {
    log(LogLevel::info, "resuming promotion interrupted by a restart", {{"promotion_id", id}});
    start_promotion(id);
  }
  if (railway_staging_) railway_staging_->start();
}

void App::start_promotion(PromotionId id) {
  if (stopping_ || !running_.insert(id).second) return;  // already running in this process
  metrics_.set_promotion_running(true);
  asio::co_spawn(io_, run_promotion(id), asio::detached);
}

asio::awaitable<void> App::run_promotion(PromotionId id) {
  for (;;) {
    auto r = co_await executor_->run(id);
    if (r) {
      log(*r == PromotionState::succeeded ? LogLevel::info : LogLevel::error, "promotion ended",
          {{"promotion_id", id}, {"state", to_string(*r)}});
      break;
    }
    if (stopping_) break;
    // The journal is intact; whatever stopped the executor (database down, lock held) may pass.
    log(LogLevel::warn, "promotion paused; resuming in 5s", {{"promotion_id", id}, {"error", r.error().message}});
    asio::steady_timer wait(io_, std::chrono::seconds(5));
    co_await wait.async_wait(asio::use_awaitable);
    if (stopping_) break;
  }
  running_.erase(id);
  if (running_.empty()) metrics_.set_promotion_running(false);
}

void App::stop() {
  asio::post(io_, [this] {
    if (stopping_) return;
    stopping_ = true;
    log(LogLevel::info, "promoterd stopping: no new requests; running steps resume on restart");
    server_->stop();
    releases_.stop();
    if (railway_staging_) railway_staging_->stop();
    io_.stop();
  });
}

}  // namespace promoter::daemon
