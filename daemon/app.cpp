#include "daemon/app.hpp"

#include <algorithm>
#include <fstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <fmt/format.h>
#include <thread>
#include <fcntl.h>
#include <unistd.h>

#include "core/gates.hpp"
#include "core/preflight.hpp"
#include "adapters/fly_deploy_step.hpp"
#include "adapters/fly_migration_step.hpp"
#include "adapters/local_migration_step.hpp"
#include "adapters/probe_verify_step.hpp"
#include "adapters/github_tag_step.hpp"
#include "adapters/railway_deploy_step.hpp"
#include "ports/blocking.hpp"
#include "daemon/uses_ports.hpp"
#include "daemon/log.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;

namespace {

// How often a standby tries to take the lead and the leader confirms it still has it.
constexpr std::chrono::milliseconds leadership_interval{1000};

std::string default_instance_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}", host[0] ? host : "promoterd", ::getpid());
}

std::vector<adapters::Probe> to_probes(const std::vector<ProbeConfig>& configs) {
  std::vector<adapters::Probe> out;
  for (const auto& c : configs)
    out.push_back(adapters::Probe{c.name, c.url, c.expect_status, c.expect_body,
                                  std::chrono::duration_cast<std::chrono::milliseconds>(c.timeout)});
  return out;
}

}  // namespace

std::expected<Secrets, std::string> read_secrets(const Config& config, const EnvLookup& env) {
  Secrets s;
  auto url = env(config.database_url_env);
  // An empty value is allowed: libpq then takes PGHOST, PGPORT, PGUSER, ... from the environment.
  if (!url)
    return std::unexpected(
        fmt::format("{}: database.url_env names {}, which is not set (an empty value uses "
                    "libpq's PG* variables)",
                    config.path, config.database_url_env));
  s.database_url = *url;
  auto tokens = resolve_tokens(config, env);
  if (!tokens) return std::unexpected(tokens.error());
  s.tokens = std::move(*tokens);
  if (config.flags) {
    for (auto [name, target] : {std::pair{&config.flags->staging_url_env, &s.flags_staging_url},
                                std::pair{&config.flags->production_url_env, &s.flags_production_url}}) {
      *target = env(*name);
      if (!*target || (*target)->empty())
        return std::unexpected(fmt::format("{}: [flags] names {}, which is not set (the read-only URL of a flag table)",
                                           config.path, *name));
    }
  }
  if (config.railway) {
    s.railway_token = env(config.railway->token_env);
    if (!s.railway_token || s.railway_token->empty())
      return std::unexpected(
          fmt::format("{}: railway.token_env names {}, which is not set", config.path, config.railway->token_env));
    if (!config.railway->webhook_secret_env.empty()) {
      s.railway_webhook_secret = env(config.railway->webhook_secret_env);
      if (!s.railway_webhook_secret || s.railway_webhook_secret->size() < 24)
        return std::unexpected(
            fmt::format("{}: railway.webhook_secret_env names {}, which must hold a random "
                        "secret of at least 24 characters",
                        config.path, config.railway->webhook_secret_env));
    }
  }
  if (config.github) {
    const GitHubConfig& g = *config.github;
    if (!g.token_env.empty()) {
      s.github_token = env(g.token_env);
      if (!s.github_token || s.github_token->empty())
        return std::unexpected(
            fmt::format("{}: github.token_env names {}, which is not set", config.path, g.token_env));
    } else {
      std::ifstream f(g.token_file);
      std::string token;
      if (!f || !std::getline(f, token))
        return std::unexpected(fmt::format("{}: github.token_file {} cannot be read", config.path, g.token_file));
      while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
      if (token.empty())
        return std::unexpected(fmt::format("{}: github.token_file {} is empty", config.path, g.token_file));
      s.github_token = std::move(token);
    }
    if (!g.webhook_secret_env.empty()) {
      s.github_webhook_secret = env(g.webhook_secret_env);
      if (!s.github_webhook_secret || s.github_webhook_secret->size() < 24)
        return std::unexpected(
            fmt::format("{}: github.webhook_secret_env names {}, which must hold a random "
                        "secret of at least 24 characters",
                        config.path, g.webhook_secret_env));
    }
  }
  if (config.fly) {
    s.fly_token = env(config.fly->token_env);
    if (!s.fly_token || s.fly_token->empty())
      return std::unexpected(
          fmt::format("{}: fly.token_env names {}, which is not set", config.path, config.fly->token_env));
  }
  if (config.migrations.enabled && config.migrations.provider == "local") {
    if (!config.migrations.database_url_env.empty()) {
      s.migrations_database_url = env(config.migrations.database_url_env);
      if (!s.migrations_database_url || s.migrations_database_url->empty())
        return std::unexpected(fmt::format("{}: migrations.database_url_env names {}, which is not set", config.path,
                                           config.migrations.database_url_env));
    }
    for (const auto& name : config.migrations.pass_env)
      if (auto v = env(name)) s.migrations_env.emplace_back(name, *v);
  }
  if (config.notifications) {
    s.slack_webhook_url = env(config.notifications->slack_webhook_url_env);
    if (!s.slack_webhook_url ||
        !(s.slack_webhook_url->starts_with("https://") || s.slack_webhook_url->starts_with("http://")))
      return std::unexpected(
          fmt::format("{}: notifications.slack_webhook_url_env names {}, which must hold the "
                      "incoming webhook's https:// URL",
                      config.path, config.notifications->slack_webhook_url_env));
  }
  return s;
}

App::App(Config config, Secrets secrets, const Clock& clock, ProcessTotals carried)
    : config_(std::move(config)),
      clock_(clock),
      store_(secrets.database_url, config_.database_max_connections),
      metrics_(PROMOTER_VERSION, config_.policy.short_soak()),
      carried_(carried),
      instance_(config_.instance_name.empty() ? default_instance_name() : config_.instance_name),
      leader_lock_({secrets.database_url, config_.environment, instance_, config_.advertise_url}),
      leadership_(io_.get_executor(), pool_.get_executor(), leader_lock_, clock_, instance_, leadership_interval),
      tokens_(std::move(secrets.tokens)),
      releases_(io_, pool_, store_, clock_, metrics_, config_.environment),
      obligations_(io_.get_executor(), pool_.get_executor(), store_, clock_),
      simulated_({config_.simulation.record_file, config_.simulation.step_delay, config_.simulation.fail_steps},
                 [&clock] { return clock.now(); }),
      service_(io_),
      refusals_(clock_) {
  metrics_.set_stale_epoch_refusals(carried_.stale_epoch_writes);
  if (carried_.takeovers > 0) metrics_.leadership_takeover(carried_.takeovers);
  make_notifier(secrets);
  if (config_.railway) {
    adapters::HttpClientOptions options;
    options.ca_file = config_.railway->ca_file;
    options.observer = adapter_observer("railway");
    http_client_ = std::make_unique<adapters::HttpClient>(io_.get_executor(), options);
    const std::string token = secrets.railway_token.value_or("");
    railway_ = std::make_unique<adapters::RailwayClient>(
        *http_client_,
        adapters::RailwayClientOptions{config_.railway->endpoint, token,
                                       config_.railway->token_kind == "project" ? adapters::RailwayTokenKind::project
                                                                                : adapters::RailwayTokenKind::account,
                                       token_budget("railway", "railway", token, config_.railway->requests_per_hour)});
    railway_staging_ = std::make_unique<RailwayStaging>(
        io_, *railway_, releases_, config_, secrets.railway_webhook_secret,
        [this](core::AuditNote note) { auditor_.record(std::move(note), clock_.now()); }, metrics_, clock_);
  }
  if (config_.github) {
    adapters::HttpClientOptions options;
    options.ca_file = config_.github->ca_file;
    options.observer = adapter_observer("github");
    github_http_ = std::make_unique<adapters::HttpClient>(io_.get_executor(), options);
    const std::string token = secrets.github_token.value_or("");
    adapters::GitHubClientOptions gh;
    gh.endpoint = config_.github->endpoint;
    gh.owner = config_.github->owner;
    gh.repo = config_.github->repo;
    gh.token = token;
    gh.budget = token_budget("github", "github", token, config_.github->requests_per_hour);
    gh.observer = [this](const adapters::GitHubCall& call) {
      const std::string_view result = call.status == 304                        ? "not_modified"
                                      : call.status >= 200 && call.status < 300 ? "fresh"
                                                                                : "error";
      metrics_.github_call(call.operation, result, call.rate_remaining);
    };
    github_ = std::make_unique<adapters::GitHubClient>(*github_http_, std::move(gh));
    github_evidence_ = std::make_unique<GitHubEvidence>(
        io_, pool_.get_executor(), *github_, releases_, store_, obligations_, config_, secrets.github_webhook_secret,
        [this](core::AuditNote note) { auditor_.record(std::move(note), clock_.now()); }, metrics_, clock_);
  }
  // Fire and forget: notify() and poke() only queue, so neither the release strand's caller nor a promotion waits.
  releases_.on_notify([this](const core::Notify& note) {
    if (notifier_ && config_.notifications && config_.notifications->wants(note.kind))
      notifier_->notify(Notification{note.kind, note.sha, note.text});
    // Production moved: every other release's evidence range now starts at it.
    if (github_evidence_ && note.kind == "promotion.succeeded") github_evidence_->poke();
  });
  if (config_.fly) {
    adapters::HttpClientOptions options;
    options.ca_file = config_.fly->ca_file;
    options.observer = adapter_observer("fly");
    fly_http_ = std::make_unique<adapters::HttpClient>(io_.get_executor(), options);
    const std::string token = secrets.fly_token.value_or("");
    fly_ = std::make_unique<adapters::FlyClient>(
        *fly_http_, adapters::FlyClientOptions{config_.fly->endpoint, token,
                                               token_budget("fly", "fly", token, config_.fly->requests_per_hour)});
  }
  if (config_.env || config_.flags) {
    ConfigWatch::Sources sources{railway_.get(), fly_.get(), secrets.flags_staging_url, secrets.flags_production_url};
    config_watch_ = std::make_unique<ConfigWatch>(
        io_, pool_.get_executor(), std::move(sources), releases_, store_, config_,
        [this](ports::Notification n) {
          if (notifier_ && config_.notifications && config_.notifications->wants(n.kind))
            notifier_->notify(std::move(n));
        },
        metrics_, clock_);
  }
  {
    adapters::HttpClientOptions options;
    options.ca_file = config_.smoke.ca_file;
    options.observer = adapter_observer("probe");
    probe_http_ = std::make_unique<adapters::HttpClient>(io_.get_executor(), options);
  }
  if (!config_.smoke.staging.empty()) {
    staging_smoke_ = std::make_unique<StagingSmoke>(io_, *probe_http_, releases_, config_.smoke.suite,
                                                    to_probes(config_.smoke.staging));
    releases_.on_smoke_checks([this](const core::Sha& sha) { staging_smoke_->run(sha); });
  }
  StepPerformers performers = make_performers(secrets);

  ExecutorHooks hooks;
  hooks.preflight = [this](const core::Sha& sha, PromotionId id) -> asio::awaitable<core::Result<std::string>> {
    // The env and flag gates are re-checked on production as it is now, not as the last pass saw it. A
    // rollback has no gates: it only checks that it is still the environment's rollback.
    auto rollback = [id](const core::World& w) { return w.rollback && w.rollback->promotion_id == id; };
    const bool is_rollback = co_await releases_.read(std::move(rollback));
    if (config_watch_ && !is_rollback) {
      auto observed = co_await config_watch_->observe();
      if (!observed)
        co_return core::fail(observed.error().code,
                             fmt::format("cannot re-check the env and flag gates: {}", observed.error().message));
    }
    const auto now = clock_.now();
    auto check = [sha, id, now](const core::World& w) { return core::preflight_verdict(w, sha, id, now); };
    co_return co_await releases_.read(std::move(check));
  };
  hooks.finish = [this](core::PromotionFinished end) -> asio::awaitable<core::Result<void>> {
    core::Event finished = std::move(end);
    auto r = co_await releases_.submit(std::move(finished));
    if (!r && r.error().code != core::ErrorCode::failed_precondition) co_return std::unexpected(r.error());
    co_return core::Result<void>{};
  };
  executor_ = std::make_unique<PromotionExecutor>(pool_.get_executor(), store_, clock_, std::move(performers),
                                                  std::move(hooks), config_.environment, &metrics_);
  releases_.on_promotion_start([this](PromotionId id, const core::Sha& sha) { start_promotion(id, sha.str()); });
  // A rollback asks the running promotion to stop first: the operator's abort, in their name.
  releases_.on_abort([this](const core::AbortPromotion& abort) {
    asio::co_spawn(
        io_,
        [this, abort]() -> asio::awaitable<void> {
          auto request = [this, abort] {
            return store_.request_abort(abort.promotion_id, abort.by, abort.reason, clock_.now());
          };
          auto r = co_await run_blocking(pool_.get_executor(), std::move(request));
          // failed_precondition: it has ended, or only verify and record remain; the rollback runs after it.
          if (!r)
            log(LogLevel::warn, "the running promotion was not aborted for the rollback; the rollback runs after it",
                {{"promotion_id", abort.promotion_id.value()}, {"error", r.error().message}});
        },
        asio::detached);
  });

  obligations_.on_counts([this](int open, int overdue) { metrics_.set_hotfix_obligations(open, overdue); });
  obligations_.on_overdue([this](const core::Obligation& o) {
    const std::string kind = "hotfix.obligation_overdue";
    log(LogLevel::warn, "hotfix obligation overdue",
        {{"event", kind},
         {"obligation_id", o.id},
         {"kind", core::to_string(o.kind)},
         {"sha", o.sha.str()},
         {"due_at", core::format_timestamp(o.due_at)}});
    if (notifier_ && config_.notifications && config_.notifications->wants(kind))
      notifier_->notify(
          Notification{kind, o.sha,
                       fmt::format("hotfix obligation {} ({}) was due {}; close it with promotectl "
                                   "close-obligation {} --link URL",
                                   o.id, core::to_string(o.kind), core::format_timestamp(o.due_at), o.id)});
  });
  add_api_routes(router_, ApiContext{releases_, store_, pool_.get_executor(), metrics_, obligations_, config_,
                                     PROMOTER_VERSION, leadership_, tokens_});
  add_config_routes(router_, ApiContext{releases_, store_, pool_.get_executor(), metrics_, obligations_, config_,
                                        PROMOTER_VERSION, leadership_, tokens_});
  {
    EventFeedOptions options;
    options.heartbeat = std::chrono::duration_cast<std::chrono::milliseconds>(config_.event_heartbeat);
    options.max_subscribers = config_.max_event_streams;
    options.max_subscribers_per_peer = config_.max_event_streams_per_peer;
    events_ = std::make_unique<EventFeed>(io_.get_executor(), pool_.get_executor(), store_, clock_, options);
    router_.add(boost::beast::http::verb::get, "/v1/events", {true, reader_roles()},
                [this](HttpRequest& request) { return events_->handle(request); });
  }
  if (config_.console.enabled) {
    add_console_session_routes(router_, console_sessions());
    add_console_pages(router_, config_.console);
  }
  if (railway_staging_) railway_staging_->add_routes(router_);
  if (github_evidence_) github_evidence_->add_routes(router_);
  // A write that finds this instance's epoch stale deposes it (the store has stopped writing already).
  store_.enable_fencing(config_.environment, [this] {
    leadership_.depose("a write found this instance's epoch stale: another instance leads");
  });
  leadership_.on_elected([this](const LeaderInfo& info) { return lead(info); });
  leadership_.on_deposed([this](const std::string&) {
    store_.set_epoch(0);
    metrics_.set_stale_epoch_refusals(carried_.stale_epoch_writes + store_.stale_epoch_refusals());
    deposed_ = true;
    stop();
  });
  leadership_.on_change([this] { leadership_changed(); });
  {
    adapters::HttpClientOptions options;
    options.retry.max_attempts = 1;  // a write is never sent twice; the client retries it
    options.user_agent = "promoterd/" PROMOTER_VERSION " (forwarding a write)";
    forward_http_ = std::make_unique<adapters::HttpClient>(io_.get_executor(), options);
    forwarder_ = std::make_unique<WriteForwarder>(*forward_http_, leadership_, metrics_);
  }

  ServerHooks server_hooks;
  server_hooks.on_request = [this](std::string_view method, std::string_view route, unsigned status, double s) {
    metrics_.http_request(method, route, status, s);
  };
  server_hooks.before_write = [this](HttpRequest& req) { return forward_write(req); };
  if (config_.console.enabled) server_hooks.authenticate_cookie = console_cookie_authenticator(console_sessions());
  server_hooks.response_headers = {{"X-Promoter-Served-By", instance_}, {"X-Content-Type-Options", "nosniff"}};
  server_hooks.on_auth_failure = [this](const HttpRequest& req, unsigned status, AuthRefusal kind,
                                        std::string_view reason) {
    metrics_.auth_refused(to_string(kind));
    log(LogLevel::warn, "request refused",
        {{"status", status},
         {"route", req.route},
         {"remote", req.remote},
         {"identity", req.principal ? req.principal->identity : ""},
         {"reason", reason}});
    // A standby changes nothing, the audit log included: its refusals are in its log and the metric.
    if (leadership_.role() != NodeRole::leader) return;
    const std::string method(boost::beast::http::to_string(req.method));
    if (kind != AuthRefusal::forbidden) {
      // Anyone can send these, as fast as they like: one audit row per peer, route and reason a minute.
      refusals_.add(req.remote, method + " " + req.route, reason);
      return;
    }
    // A known caller refused: audited one by one.
    core::AuditNote note{req.principal ? req.principal->identity : "anonymous", "auth.forbidden", std::nullopt,
                         fmt::format("{} {} from {}: {}", method, req.path, req.remote, reason)};
    auditor_.record(std::move(note), clock_.now());
  };
  server_hooks.on_connection_refused = [this](ConnectionRefusal why) { metrics_.connection_refused(to_string(why)); };
  ServerLimits limits;
  limits.max_connections = config_.max_connections;
  limits.max_connections_per_peer = config_.max_connections_per_peer;
  limits.header_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config_.header_timeout);
  server_ = std::make_unique<HttpServer>(io_, router_, tokens_, limits, std::move(server_hooks));
}

asio::awaitable<void> App::end_sessions_of_removed_tokens() {
  std::vector<std::string> digests;
  for (const auto& token : tokens_.entries()) digests.push_back(TokenRegistry::hex(token.sha256));
  const auto now = clock_.now();
  auto ended = co_await ports::run_blocking(pool_.get_executor(), [&] {
    return store_.revoke_sessions_without(digests, now, "its API token was removed from the config");
  });
  if (!ended)
    log(LogLevel::warn, "could not end the console sessions of removed tokens; each ends when next used",
        {{"error", ended.error().message}});
  else if (*ended > 0)
    log(LogLevel::info, "console sessions of removed tokens ended", {{"sessions", *ended}});
}

ConsoleSessionContext App::console_sessions() {
  return ConsoleSessionContext{config_,
                               tokens_,
                               store_,
                               clock_,
                               pool_.get_executor(),
                               adapters::secure_random_bytes,
                               [this](const HttpRequest& request, std::string_view reason) {
                                 metrics_.auth_refused(to_string(AuthRefusal::invalid_token));
                                 if (leadership_.role() == NodeRole::leader)
                                   refusals_.add(request.remote, "POST /v1/session", reason);
                               }};
}

asio::awaitable<std::optional<HttpResponse>> App::forward_write(HttpRequest& request) {
  // Sessions live in the database, which every instance shares: signing in or out needs no leader, and its
  // answer's cookie is set by the instance the browser talks to.
  if (request.route == "/v1/session") co_return std::nullopt;
  co_return co_await (*forwarder_)(request);
}

adapters::HttpObserver App::adapter_observer(std::string adapter) {
  return [this, adapter = std::move(adapter)](const adapters::HttpAttempt& a) {
    metrics_.adapter_request(adapter, a.operation, a.status, a.seconds, a.attempt);
  };
}

void App::make_notifier(const Secrets& secrets) {
  if (!config_.notifications || !secrets.slack_webhook_url) return;
  const auto& n = *config_.notifications;
  adapters::SlackNotifierOptions options;
  options.webhook_url = *secrets.slack_webhook_url;
  options.environment = config_.environment;
  if (config_.console.enabled && !config_.public_url.empty())
    options.console_url = config_.public_url + config_.console.path;
  options.ca_file = n.ca_file;
  options.max_attempts = n.max_attempts;
  options.backoff = std::chrono::duration_cast<std::chrono::milliseconds>(n.backoff);
  const std::string host = adapters::webhook_host(options.webhook_url);
  options.report = [host](const adapters::DeliveryReport& r) {
    nlohmann::json fields = {{"event", r.notification.kind},
                             {"sha", r.notification.sha ? r.notification.sha->str() : ""},
                             {"webhook_host", host},
                             {"attempts", r.attempts}};
    if (r.delivered) {
      log(LogLevel::info, "notification delivered", fields);
      return;
    }
    if (r.status) fields["status"] = r.status;
    fields["error"] = r.error;
    log(LogLevel::error, "notification dropped", fields);
  };
  notifier_ = std::make_unique<adapters::SlackNotifier>(io_.get_executor(), std::move(options));
}

StepPerformers App::make_performers(const Secrets& secrets) {
  StepPerformers performers;
  auto keep = [this](std::unique_ptr<StepPerformer> p) {
    performers_.push_back(std::move(p));
    return performers_.back().get();
  };
  auto simulated = [&] { return keep(std::make_unique<adapters::SimulatedStep>(simulated_, io_.get_executor())); };
  bool simulated_world = config_.migrations.provider == "simulated";

  const auto& m = config_.migrations;
  if (m.provider == "local") {
    adapters::LocalMigrationOptions options;
    options.command = m.command;
    options.workdir = m.workdir;
    options.env = secrets.migrations_env;
    if (secrets.migrations_database_url) {
      options.env.emplace_back("DATABASE_URL", *secrets.migrations_database_url);
      options.secrets = adapters::database_url_secrets(*secrets.migrations_database_url);
    }
    options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(m.timeout);
    performers.migrate = keep(
        std::make_unique<adapters::LocalMigrationStep>(pool_.get_executor(), io_.get_executor(), std::move(options)));
  } else if (m.provider == "fly") {
    performers.migrate = keep(std::make_unique<adapters::FlyMigrationStep>(
        io_.get_executor(), *fly_, adapters::FlyMigrationTarget{m.app, m.image, m.region, m.command},
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.fly->poll_interval),
        std::chrono::duration_cast<std::chrono::milliseconds>(m.timeout)));
  } else {
    performers.migrate = simulated();
  }

  for (const auto& service : config_.services) {
    const auto& target = service.production;
    if (target.provider == "railway") {
      performers.deploy[service.name] = keep(std::make_unique<adapters::RailwayDeployStep>(
          io_.get_executor(), *railway_,
          adapters::RailwayTarget{target.project_id, target.environment_id, target.service_id},
          config_.railway->poll_interval, config_.railway->deploy_timeout));
    } else if (target.provider == "fly") {
      auto ms = [](core::Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
      const adapters::FlyTimings timings{ms(config_.fly->poll_interval), ms(config_.fly->lease_ttl),
                                         ms(config_.fly->lease_wait), ms(config_.fly->machine_timeout)};
      performers.deploy[service.name] = keep(std::make_unique<adapters::FlyDeployStep>(
          io_.get_executor(), *fly_, adapters::FlyTarget{target.app, target.image, target.process_group}, timings));
    } else {
      simulated_world = true;
      performers.deploy[service.name] = simulated();
    }
  }

  if (config_.policy.tag_production && github_)
    performers.tag = keep(std::make_unique<adapters::GitHubTagStep>(*github_, config_.github->tag_prefix));

  // Without production probes, a (partly) simulated world records its verify step like its other steps.
  if (config_.smoke.production.empty() && simulated_world)
    performers.verify = simulated();
  else
    performers.verify =
        keep(std::make_unique<adapters::ProbeVerifyStep>(*probe_http_, to_probes(config_.smoke.production)));
  return performers;
}

std::shared_ptr<adapters::TokenBudget> App::token_budget(const std::string& provider, const std::string& section,
                                                         std::string_view token, int requests_per_hour) {
  adapters::TokenBudget::Options options;
  options.provider = provider;
  options.label = section;
  options.requests_per_hour = requests_per_hour;
  options.report = [this](const adapters::TokenBudget& b) {
    const auto left = b.back_off_until() - adapters::TokenBudget::Clock::now();
    metrics_.set_provider_budget(b.provider(), b.label(), std::floor(b.remaining()),
                                 std::max(0.0, std::chrono::duration<double>(left).count()));
  };
  auto budget = budgets_.for_token(token, std::move(options));
  metrics_.set_provider_budget(budget->provider(), budget->label(), std::floor(budget->remaining()), 0);
  return budget;
}

App::~App() {
  stop();
  pool_.join();
  if (kept_socket_ >= 0) ::close(kept_socket_);
}

core::Result<void> App::prepare(core::Duration db_wait, int inherited_socket) {
  const auto deadline = std::chrono::steady_clock::now() + db_wait;
  const auto stopped = [] {
    return core::fail(core::ErrorCode::aborted, "stopped while waiting for the database; nothing was started");
  };
  for (int attempt = 1;; ++attempt) {
    {
      std::lock_guard lock(prepare_mutex_);
      if (stop_requested_) return stopped();
    }
    auto m = store_.migrate();
    if (m) break;
    if (m.error().code != core::ErrorCode::unavailable || std::chrono::steady_clock::now() >= deadline)
      return std::unexpected(m.error());
    log(LogLevel::warn, "database not reachable yet; retrying",
        {{"attempt", attempt}, {"error", m.error().message}, {"detail", m.error().detail}});
    // Waits for the next attempt, or for stop(): a SIGTERM here must not wait out the budget.
    std::unique_lock lock(prepare_mutex_);
    if (prepare_wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_requested_; })) return stopped();
  }
  metrics_.set_database_up(true);
  auto bound = inherited_socket >= 0 ? server_->adopt(inherited_socket)
                                     : server_->listen(config_.listen_host, config_.listen_port);
  if (!bound) return std::unexpected(std::move(bound.error()));
  kept_socket_ = ::fcntl(server_->native_handle(), F_DUPFD_CLOEXEC, 0);
  std::string advertise = config_.advertise_url;
  const bool wildcard = config_.listen_host.empty() || config_.listen_host == "0.0.0.0" || config_.listen_host == "::";
  if (advertise.empty() && !wildcard) {
    const bool v6 = config_.listen_host.find(':') != std::string::npos;
    advertise =
        fmt::format("http://{}:{}", v6 ? "[" + config_.listen_host + "]" : config_.listen_host, server_->port());
  }
  leader_lock_.set_advertise_url(std::move(advertise));
  return {};
}

void App::run() {
  if (config_.policy.short_soak())
    log(LogLevel::warn, "SHORT SOAK MODE: the soak is below the policy floor; for demos and tests only",
        {{"soak", core::format_duration(config_.policy.soak)}, {"floor", core::format_duration(core::soak_floor)}});
  server_->start();
  asio::co_spawn(io_, audit_refusals_loop(), asio::detached);
  // Everything that changes state waits for the lead: see lead().
  leadership_.start();
  service_.start_watchdog();
  if (notifier_) {
    const auto& kinds = config_.notifications->kinds;
    log(LogLevel::info, "chat notifications enabled",
        {{"webhook_host", notifier_->host()},
         {"kinds", kinds.empty() ? nlohmann::json("all") : nlohmann::json(kinds)}});
  }
  log(LogLevel::info, "promoterd listening",
      {{"address", fmt::format("http://{}:{}", config_.listen_host, server_->port())},
       {"environment", config_.environment},
       {"version", PROMOTER_VERSION}});
  io_.run();
}

void App::leadership_changed() {
  const bool leading = leadership_.role() == NodeRole::leader;
  metrics_.set_leader(leading);
  if (const auto& leader = leadership_.leader()) metrics_.set_leadership_epoch(leader->epoch);
  // A standby is ready as soon as it knows it stands by: it serves reads. A leader once it has loaded.
  if (!leading && leadership_.role() == NodeRole::standby && !announced_ready_ && !stopping_) {
    announced_ready_ = true;
    service_.ready(fmt::format("ready: listening on {}:{}, environment {} (standing by)", config_.listen_host,
                               server_->port(), config_.environment));
  }
}

ProcessTotals App::totals() const {
  return {carried_.stale_epoch_writes + store_.stale_epoch_refusals(), carried_.takeovers + takeovers_};
}

asio::awaitable<core::Result<void>> App::lead(const LeaderInfo& info) {
  store_.set_epoch(info.epoch);
  ++takeovers_;
  metrics_.leadership_takeover();
  metrics_.set_leadership_epoch(info.epoch);
  auto started = co_await releases_.start(config_.policy);
  if (!started) co_return std::unexpected(started.error());
  auto running =
      co_await run_blocking(pool_.get_executor(), [this] { return store_.running_promotions(config_.environment); });
  if (!running) co_return std::unexpected(running.error());
  if (auto loaded = co_await obligations_.reload(); !loaded)
    log(LogLevel::error, "cannot read hotfix obligations; /v1/status will not show them until the next hotfix",
        {{"error", loaded.error().message}});
  for (PromotionId id : *running) {
    auto record = co_await run_blocking(pool_.get_executor(), [this, id] { return store_.promotion(id); });
    const std::string sha = record && *record ? (*record)->sha : "";
    log(LogLevel::info, "resuming promotion interrupted by a restart or a takeover",
        {{"promotion_id", id.value()}, {"sha", sha}});
    start_promotion(id, sha);
  }
  if (railway_staging_) railway_staging_->start();
  if (github_evidence_) github_evidence_->start();
  if (config_watch_) config_watch_->start();
  metrics_.set_leader(true);
  if (!stopping_ && !announced_ready_) {
    announced_ready_ = true;
    service_.ready(fmt::format("ready: listening on {}:{}, environment {} (leading)", config_.listen_host,
                               server_->port(), config_.environment));
  }
  co_return core::Result<void>{};
}

void App::start_promotion(PromotionId id, std::string sha) {
  if (stopping_ || running_.contains(id)) return;  // already running in this process
  // One executor at a time holds the environment: a run created while another of this process is ending (the
  // rollback its end started) waits for it here.
  if (!running_.empty()) {
    if (std::ranges::find(queued_, id, &std::pair<PromotionId, std::string>::first) == queued_.end())
      queued_.emplace_back(id, std::move(sha));
    return;
  }
  running_.insert(id);
  metrics_.set_promotion_running(true);
  asio::co_spawn(io_, run_promotion(id, std::move(sha)), asio::detached);
}

asio::awaitable<void> App::run_promotion(PromotionId id, std::string sha) {
  for (;;) {
    auto r = co_await executor_->run(id);
    if (r) {
      log(*r == PromotionState::succeeded ? LogLevel::info
          : *r == PromotionState::aborted ? LogLevel::warn
                                          : LogLevel::error,
          "promotion ended", {{"promotion_id", id.value()}, {"sha", sha}, {"state", to_string(*r)}});
      break;
    }
    if (stopping_ || leadership_.role() != NodeRole::leader) break;
    // The journal is intact; whatever stopped the executor (database down, lock held) may pass.
    log(LogLevel::warn, "promotion paused; resuming in 5s",
        {{"promotion_id", id.value()}, {"sha", sha}, {"error", r.error().message}});
    asio::steady_timer wait(io_, std::chrono::seconds(5));
    co_await wait.async_wait(asio::use_awaitable);
    if (stopping_) break;
    metrics_.promotion_retry();
  }
  running_.erase(id);
  if (running_.empty()) metrics_.set_promotion_running(false);
  if (running_.empty() && !queued_.empty()) {
    auto [next, next_sha] = std::move(queued_.front());
    queued_.pop_front();
    start_promotion(next, std::move(next_sha));
  }
}

void App::stop() {
  {
    std::lock_guard lock(prepare_mutex_);
    stop_requested_ = true;
  }
  prepare_wake_.notify_all();
  asio::post(io_, [this] {
    if (stopping_) return;
    stopping_ = true;
    log(LogLevel::info, "promoterd stopping: no new requests; running steps resume on restart");
    service_.stopping();
    if (notifier_) notifier_->stop();
    events_->close();
    server_->stop();
    refusals_timer_.cancel();
    // Written on the pool, which ~App joins: the store is still fenced by this instance's epoch then.
    if (leadership_.role() == NodeRole::leader) audit_refusals(true);
    releases_.stop();
    obligations_.stop();
    if (railway_staging_) railway_staging_->stop();
    if (github_evidence_) github_evidence_->stop();
    if (config_watch_) config_watch_->stop();
    if (staging_smoke_) staging_smoke_->stop();
    leadership_.stop();
    metrics_.set_leader(false);
    io_.stop();
  });
}

asio::awaitable<void> App::audit_refusals_loop() {
  while (!stopping_) {
    refusals_timer_.expires_after(std::chrono::seconds(5));
    boost::system::error_code ec;
    co_await refusals_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    if (leadership_.role() == NodeRole::leader) audit_refusals(false);
  }
}

void App::audit_refusals(bool everything) {
  if (refusals_writing_ && !everything) return;  // the batch in flight gives back what it could not write
  auto counts = everything ? refusals_.take_all() : refusals_.take_closed();
  if (counts.empty()) return;
  refusals_writing_ = true;
  const auto now = clock_.now();
  asio::post(pool_, [this, counts = std::move(counts), now, everything]() mutable {
    std::vector<RefusalCount> unwritten;
    for (auto& count : counts) {
      if (unwritten.empty()) {
        auto written = store_.append_audit(to_audit_note(count), now);
        if (written) continue;
        log(LogLevel::warn, "could not audit refused requests; keeping their counts to write once the database is back",
            {{"error", written.error().message}});
      }
      unwritten.push_back(std::move(count));  // after one failure, the rest wait too
    }
    if (everything) {
      std::uint64_t lost = 0;
      for (const auto& count : unwritten) lost += count.count;
      if (lost > 0)
        log(LogLevel::error, "stopping with unauthenticated refusals not audited (the database is unavailable)",
            {{"refusals", lost}, {"counts", unwritten.size()}});
      return;
    }
    asio::post(io_, [this, unwritten = std::move(unwritten)]() mutable {
      refusals_.give_back(std::move(unwritten));
      refusals_writing_ = false;
    });
  });
}

void App::reload(EnvLookup env) {
  asio::post(io_, [this, env = std::move(env)] {
    if (!stopping_) apply_reload(env);
  });
}

void App::apply_reload(const EnvLookup& env) {
  // Before start-up finished, systemd has not had READY=1 yet: a reload must not announce readiness.
  const bool started = announced_ready_;
  auto report = [&](const std::string& status) {
    if (started)
      service_.ready(status);
    else
      service_.status(status);
  };
  if (started) service_.reloading();
  log(LogLevel::info, "reloading the configuration", {{"config", config_.path}});
  auto fresh = load_config(config_.path);
  std::expected<std::vector<TokenEntry>, std::string> tokens =
      fresh ? resolve_tokens(*fresh, env) : std::unexpected(fresh.error());
  if (!tokens) {
    // The message is file:line:col or names a token's source; never a secret.
    log(LogLevel::error, "configuration reload refused; the running configuration stays", {{"error", tokens.error()}});
    report("running; the last reload was refused: " + tokens.error());
    return;
  }
  const std::size_t token_count = tokens->size();
  tokens_.replace(std::move(*tokens));
  if (config_.console.enabled) asio::co_spawn(io_, end_sessions_of_removed_tokens(), asio::detached);
  config_.tokens = fresh->tokens;
  config_.section_texts["auth"] = fresh->section_texts["auth"];

  std::vector<std::string> restart;
  const auto& old_n = config_.notifications;
  const auto& new_n = fresh->notifications;
  if (old_n.has_value() != new_n.has_value() ||
      (old_n && (old_n->slack_webhook_url_env != new_n->slack_webhook_url_env || old_n->ca_file != new_n->ca_file))) {
    // The webhook URL is read from the environment at start; a process cannot see a changed environment.
    restart.push_back("notifications (webhook variable, CA file, or the section itself)");
  } else if (new_n) {
    config_.notifications->kinds = new_n->kinds;
    config_.notifications->max_attempts = new_n->max_attempts;
    config_.notifications->backoff = new_n->backoff;
    if (notifier_)
      notifier_->set_retry(new_n->max_attempts, std::chrono::duration_cast<std::chrono::milliseconds>(new_n->backoff));
    config_.section_texts["notifications"] = fresh->section_texts["notifications"];
  }
  std::set<std::string> keys;
  for (const auto& [k, v] : config_.section_texts) keys.insert(k);
  for (const auto& [k, v] : fresh->section_texts) keys.insert(k);
  for (const auto& key : keys) {
    if (key == "auth" || key == "notifications") continue;
    auto was = config_.section_texts.find(key);
    auto now = fresh->section_texts.find(key);
    const bool same =
        was != config_.section_texts.end() && now != fresh->section_texts.end() && was->second == now->second;
    if (!same) restart.push_back(key);
  }
  if (!restart.empty())
    log(LogLevel::warn, "configuration reload: these sections changed but apply only on restart; restart to apply",
        {{"sections", restart}});
  log(LogLevel::info, "configuration reloaded", {{"tokens", token_count}, {"config", config_.path}});
  report(restart.empty() ? "running; configuration reloaded"
                         : "running; configuration reloaded; restart to apply changes to " +
                               fmt::format("{}", fmt::join(restart, ", ")));
}

}  // namespace promoter::daemon
