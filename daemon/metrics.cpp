#include "daemon/metrics.hpp"

#include <prometheus/text_serializer.h>
#include <sstream>

#include "core/release.hpp"

namespace promoter::daemon {

namespace {
std::string status_class(unsigned status) { return std::to_string(status / 100) + "xx"; }

double unix_seconds(core::Timestamp t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

const prometheus::Histogram::BucketBoundaries request_buckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                              0.1,   0.25,   0.5,   1,    2.5,   10};
const prometheus::Histogram::BucketBoundaries step_buckets{0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800};
}  // namespace

Metrics::Metrics(std::string_view version, bool short_soak)
    : registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(prometheus::BuildCounter()
                         .Name("promoter_http_requests_total")
                         .Help("HTTP requests served, by method, route pattern and status class")
                         .Register(*registry_)),
      http_duration_(prometheus::BuildHistogram()
                         .Name("promoter_http_request_duration_seconds")
                         .Help("Time to answer an HTTP request, by route pattern")
                         .Register(*registry_)),
      events_(prometheus::BuildCounter()
                  .Name("promoter_events_total")
                  .Help("Release events handled, by event and result (accepted, refused, error)")
                  .Register(*registry_)),
      promotions_(prometheus::BuildCounter()
                      .Name("promoter_promotions_total")
                      .Help("Promotions by result (started, succeeded, failed, aborted)")
                      .Register(*registry_)),
      promotion_duration_(prometheus::BuildHistogram()
                              .Name("promoter_promotion_duration_seconds")
                              .Help("Time from a promotion's creation to its end, by result")
                              .Register(*registry_)),
      step_duration_(prometheus::BuildHistogram()
                         .Name("promoter_promotion_step_duration_seconds")
                         .Help("Time a promotion step took, by step kind and result")
                         .Register(*registry_)),
      releases_(prometheus::BuildGauge()
                    .Name("promoter_releases")
                    .Help("Releases known to promoterd, by state")
                    .Register(*registry_)),
      soak_remaining_(prometheus::BuildGauge()
                          .Name("promoter_soak_remaining_seconds")
                          .Help("Seconds of soak left for the newest soaking release (0 when none)")
                          .Register(*registry_)
                          .Add({})),
      environment_frozen_(prometheus::BuildGauge()
                              .Name("promoter_environment_frozen")
                              .Help("1 while a freeze window or a line stop holds promotions to production back")
                              .Register(*registry_)
                              .Add({})),
      environment_pinned_(prometheus::BuildGauge()
                              .Name("promoter_environment_pinned")
                              .Help("1 while a rollback's pin holds automatic promotions back (promotectl resume)")
                              .Register(*registry_)
                              .Add({})),
      rollbacks_(prometheus::BuildCounter()
                     .Name("promoter_rollbacks_total")
                     .Help("Rollbacks started, by trigger (operator, verify_failure)")
                     .Register(*registry_)),
      rollbacks_finished_(prometheus::BuildCounter()
                              .Name("promoter_rollbacks_finished_total")
                              .Help("Rollbacks ended, by result (succeeded, failed, aborted)")
                              .Register(*registry_)),
      promotion_running_(prometheus::BuildGauge()
                             .Name("promoter_promotion_running")
                             .Help("1 while a promotion to production runs")
                             .Register(*registry_)
                             .Add({})),
      last_success_(prometheus::BuildGauge()
                        .Name("promoter_last_successful_promotion_timestamp_seconds")
                        .Help("Unix time of the last successful promotion (0 if none since start)")
                        .Register(*registry_)
                        .Add({})),
      database_up_(prometheus::BuildGauge()
                       .Name("promoter_database_up")
                       .Help("1 when the last database call succeeded")
                       .Register(*registry_)
                       .Add({})),
      step_started_(prometheus::BuildGauge()
                        .Name("promoter_promotion_step_started_timestamp_seconds")
                        .Help("Unix time the running promotion step began (0 when no step runs)")
                        .Register(*registry_)
                        .Add({})),
      migrations_(prometheus::BuildCounter()
                      .Name("promoter_migrations_total")
                      .Help("Database migration steps run, by result (succeeded, failed)")
                      .Register(*registry_)),
      migration_duration_(prometheus::BuildHistogram()
                              .Name("promoter_migration_duration_seconds")
                              .Help("Time a database migration step took, by result")
                              .Register(*registry_)),
      adapter_requests_(prometheus::BuildCounter()
                            .Name("promoter_adapter_requests_total")
                            .Help("Outbound request attempts, by adapter (railway, fly, probe), operation and status "
                                  "class (2xx..5xx, error when no answer)")
                            .Register(*registry_)),
      adapter_duration_(prometheus::BuildHistogram()
                            .Name("promoter_adapter_request_duration_seconds")
                            .Help("Time of one outbound request attempt, by adapter and operation")
                            .Register(*registry_)),
      adapter_retries_(prometheus::BuildCounter()
                           .Name("promoter_adapter_retries_total")
                           .Help("Outbound request attempts that repeated a failed one, by adapter and operation")
                           .Register(*registry_)),
      promotion_retries_(prometheus::BuildCounter()
                             .Name("promoter_promotion_retries_total")
                             .Help("Times a promotion paused on an unavailable dependency was resumed")
                             .Register(*registry_)
                             .Add({})),
      webhooks_(prometheus::BuildCounter()
                    .Name("promoter_webhook_events_total")
                    .Help("Railway webhook deliveries, by type (deployment, other) and result")
                    .Register(*registry_)),
      reconciles_(prometheus::BuildCounter()
                      .Name("promoter_reconciler_passes_total")
                      .Help("Passes of the staging reconciler, by result (succeeded, failed)")
                      .Register(*registry_)),
      reconcile_last_success_(prometheus::BuildGauge()
                                  .Name("promoter_reconciler_last_success_timestamp_seconds")
                                  .Help("Unix time the staging reconciler last read every tracked service (0 if never "
                                        "since start); time() minus it is the reconciler lag")
                                  .Register(*registry_)
                                  .Add({})),
      hotfix_open_(prometheus::BuildGauge()
                       .Name("promoter_hotfix_obligations_open")
                       .Help("Hotfix obligations (review backfill, incident report) not yet met")
                       .Register(*registry_)
                       .Add({})),
      hotfix_overdue_(prometheus::BuildGauge()
                          .Name("promoter_hotfix_obligations_overdue")
                          .Help("Hotfix obligations past their deadline and not yet met")
                          .Register(*registry_)
                          .Add({})),
      leader_(prometheus::BuildGauge()
                  .Name("promoter_leader")
                  .Help("1 when this promoterd leads its environment (runs promotions and reconciles staging); "
                        "0 on a standby")
                  .Register(*registry_)
                  .Add({})),
      leadership_epoch_(prometheus::BuildGauge()
                            .Name("promoter_leadership_epoch")
                            .Help("The fencing token this instance leads under, or the last one it saw as a standby")
                            .Register(*registry_)
                            .Add({})),
      takeovers_(prometheus::BuildCounter()
                     .Name("promoter_leadership_takeovers_total")
                     .Help("Times this instance took the lead of its environment")
                     .Register(*registry_)
                     .Add({})),
      stale_epoch_refusals_(prometheus::BuildCounter()
                                .Name("promoter_stale_epoch_writes_total")
                                .Help("State-changing writes the database refused because this instance's epoch "
                                      "was stale (a newer leader had taken over)")
                                .Register(*registry_)
                                .Add({})),
      forwarded_writes_(prometheus::BuildCounter()
                            .Name("promoter_forwarded_writes_total")
                            .Help("Write requests a standby forwarded to the leader, by result (forwarded, "
                                  "no_leader, unreachable)")
                            .Register(*registry_)),
      connections_refused_(prometheus::BuildCounter()
                               .Name("promoter_http_connections_refused_total")
                               .Help("HTTP connections refused at a limit (max_connections, per_peer) or closed "
                                     "because no complete request header arrived in time (header_timeout)")
                               .Register(*registry_)),
      auth_refusals_(prometheus::BuildCounter()
                         .Name("promoter_auth_refusals_total")
                         .Help("API requests refused by authentication (missing_token, invalid_token: 401) or "
                               "authorisation (forbidden: 403)")
                         .Register(*registry_)),
      commit_batch_(prometheus::BuildHistogram()
                        .Name("promoter_commit_batch_events")
                        .Help("Events committed together in one transaction (group commit on the state strand)")
                        .Register(*registry_)
                        .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64})),
      provider_budget_(prometheus::BuildGauge()
                           .Name("promoter_provider_budget_remaining")
                           .Help("Requests left in the hourly budget of a provider token, by provider and the config "
                                 "section naming the token (never the token)")
                           .Register(*registry_)),
      provider_backoff_(prometheus::BuildGauge()
                            .Name("promoter_provider_backoff_seconds")
                            .Help("Seconds every request of a provider token still waits on the provider's "
                                  "Retry-After, when last looked at (0: none)")
                            .Register(*registry_)),
      github_calls_(prometheus::BuildCounter()
                        .Name("promoter_github_calls_total")
                        .Help("GitHub API calls by operation and result (fresh, not_modified: a 304 answered from "
                              "the ETag cache and free of the rate limit, error)")
                        .Register(*registry_)),
      github_rate_remaining_(prometheus::BuildGauge()
                                 .Name("promoter_github_rate_limit_remaining")
                                 .Help("x-ratelimit-remaining of GitHub's latest answer: requests the token has left "
                                       "this hour, across every client of the token")
                                 .Register(*registry_)
                                 .Add({})),
      github_webhooks_(prometheus::BuildCounter()
                           .Name("promoter_github_webhooks_total")
                           .Help("GitHub webhook deliveries by kind (review, check, pull, other) and result (queued, "
                                 "ignored, duplicate, refused, invalid)")
                           .Register(*registry_)),
      github_reconciles_(prometheus::BuildCounter()
                             .Name("promoter_github_reconciles_total")
                             .Help("Passes of the GitHub evidence reconciler by result (succeeded, failed)")
                             .Register(*registry_)),
      gate_blocked_(prometheus::BuildGauge()
                        .Name("promoter_gate_blocked")
                        .Help("Releases still gathering gates that this gate blocks, by gate")
                        .Register(*registry_)),
      config_violations_(prometheus::BuildCounter()
                             .Name("promoter_config_violations_total")
                             .Help("Production configuration changes not made on staging first, by kind "
                                   "(env_production_first, flag_production_first)")
                             .Register(*registry_)),
      config_observations_(prometheus::BuildCounter()
                               .Name("promoter_config_observations_total")
                               .Help("Observations of variable names and feature flags by source (variables, flags) "
                                     "and result (succeeded, failed)")
                               .Register(*registry_)) {
  // Present from the start at 0, so increase() sees the first violation.
  for (const char* kind : {"env_production_first", "flag_production_first"}) config_violations_.Add({{"kind", kind}});
  prometheus::BuildGauge()
      .Name("promoter_build_info")
      .Help("promoterd build; the value is always 1")
      .Register(*registry_)
      .Add({{"version", std::string(version)}})
      .Set(1);
  prometheus::BuildGauge()
      .Name("promoter_short_soak_enabled")
      .Help("1 when the policy's soak is below the 30m floor (allow_short_soak: demos and tests only)")
      .Register(*registry_)
      .Add({})
      .Set(short_soak ? 1 : 0);
  for (auto state : {core::ReleaseState::deploying, core::ReleaseState::soaking, core::ReleaseState::ready,
                     core::ReleaseState::promoting, core::ReleaseState::promoted, core::ReleaseState::promotion_failed,
                     core::ReleaseState::promotion_aborted, core::ReleaseState::rejected,
                     core::ReleaseState::superseded, core::ReleaseState::staging_failed})
    releases_.Add({{"state", std::string(core::to_string(state))}}).Set(0);
  for (auto result : {"started", "succeeded", "failed", "aborted"}) promotions_.Add({{"result", result}});
  for (auto trigger : {"operator", "verify_failure"}) rollbacks_.Add({{"trigger", trigger}});
  for (auto result : {"succeeded", "failed", "aborted"}) rollbacks_finished_.Add({{"result", result}});
  // Present from the first scrape, so rate() and increase() see the first failure.
  for (auto result : {"succeeded", "failed"}) {
    migrations_.Add({{"result", result}});
    reconciles_.Add({{"result", result}});
  }
  for (auto reason : {"max_connections", "per_peer", "header_timeout"}) connections_refused_.Add({{"reason", reason}});
  for (auto reason : {"missing_token", "invalid_token", "forbidden"}) auth_refusals_.Add({{"reason", reason}});
}

std::string Metrics::serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

void Metrics::http_request(std::string_view method, std::string_view route, unsigned status, double seconds) {
  const std::string r = route.empty() ? "unmatched" : std::string(route);
  http_requests_.Add({{"method", std::string(method)}, {"route", r}, {"code", status_class(status)}}).Increment();
  http_duration_.Add({{"route", r}}, request_buckets).Observe(seconds);
}

void Metrics::event(std::string_view event, std::string_view result) {
  events_.Add({{"event", std::string(event)}, {"result", std::string(result)}}).Increment();
}

void Metrics::promotion_started() { promotions_.Add({{"result", "started"}}).Increment(); }

void Metrics::promotion_finished(std::string_view result, std::optional<double> seconds, core::Timestamp now) {
  promotions_.Add({{"result", std::string(result)}}).Increment();
  if (seconds) promotion_duration_.Add({{"result", std::string(result)}}, step_buckets).Observe(*seconds);
  if (result == "succeeded") last_success_.Set(unix_seconds(now));
}

void Metrics::step_finished(std::string_view kind, std::string_view service, std::string_view result, double seconds) {
  step_duration_
      .Add({{"kind", std::string(kind)}, {"service", std::string(service)}, {"result", std::string(result)}},
           step_buckets)
      .Observe(seconds);
}

void Metrics::set_release_states(const std::map<std::string, int>& counts) {
  for (const auto& [state, n] : counts) releases_.Add({{"state", state}}).Set(n);
}

void Metrics::set_soak_remaining(std::optional<double> seconds) { soak_remaining_.Set(seconds.value_or(0)); }

void Metrics::set_environment_frozen(bool frozen) { environment_frozen_.Set(frozen ? 1 : 0); }

void Metrics::set_environment_pinned(bool pinned) { environment_pinned_.Set(pinned ? 1 : 0); }

void Metrics::rollback_finished(std::string_view result) {
  rollbacks_finished_.Add({{"result", std::string(result)}}).Increment();
}

void Metrics::rollback_started(std::string_view trigger) {
  rollbacks_.Add({{"trigger", std::string(trigger)}}).Increment();
}

void Metrics::set_promotion_running(bool running) { promotion_running_.Set(running ? 1 : 0); }

void Metrics::set_database_up(bool up) { database_up_.Set(up ? 1 : 0); }

void Metrics::set_step_started(std::optional<core::Timestamp> at) { step_started_.Set(at ? unix_seconds(*at) : 0); }

void Metrics::migration_finished(bool succeeded, double seconds) {
  const std::string result = succeeded ? "succeeded" : "failed";
  migrations_.Add({{"result", result}}).Increment();
  migration_duration_.Add({{"result", result}}, step_buckets).Observe(seconds);
}

void Metrics::adapter_request(std::string_view adapter, std::string_view operation, int status, double seconds,
                              int attempt) {
  const std::string a(adapter);
  const std::string op(operation);
  const std::string code = status > 0 ? status_class(static_cast<unsigned>(status)) : "error";
  adapter_requests_.Add({{"adapter", a}, {"operation", op}, {"code", code}}).Increment();
  adapter_duration_.Add({{"adapter", a}, {"operation", op}}, request_buckets).Observe(seconds);
  if (attempt > 1) adapter_retries_.Add({{"adapter", a}, {"operation", op}}).Increment();
}

void Metrics::promotion_retry() { promotion_retries_.Increment(); }

void Metrics::webhook(std::string_view type, std::string_view result) {
  webhooks_.Add({{"type", std::string(type)}, {"result", std::string(result)}}).Increment();
}

void Metrics::reconcile_finished(bool succeeded, core::Timestamp now) {
  reconciles_.Add({{"result", succeeded ? "succeeded" : "failed"}}).Increment();
  if (succeeded) reconcile_last_success_.Set(unix_seconds(now));
}

void Metrics::set_hotfix_obligations(int open, int overdue) {
  hotfix_open_.Set(open);
  hotfix_overdue_.Set(overdue);
}

void Metrics::set_leader(bool leader) { leader_.Set(leader ? 1 : 0); }

void Metrics::set_leadership_epoch(std::int64_t epoch) { leadership_epoch_.Set(static_cast<double>(epoch)); }

void Metrics::leadership_takeover(std::uint64_t count) { takeovers_.Increment(static_cast<double>(count)); }

void Metrics::set_stale_epoch_refusals(std::uint64_t total) {
  // A counter only rises: add what the store counted since the last report.
  const double seen = stale_epoch_refusals_.Value();
  if (static_cast<double>(total) > seen) stale_epoch_refusals_.Increment(static_cast<double>(total) - seen);
}

void Metrics::write_forwarded(std::string_view result) {
  forwarded_writes_.Add({{"result", std::string(result)}}).Increment();
}

void Metrics::commit_batch(std::size_t events) { commit_batch_.Observe(static_cast<double>(events)); }

void Metrics::connection_refused(std::string_view reason) {
  connections_refused_.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::auth_refused(std::string_view reason) {
  auth_refusals_.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::set_provider_budget(std::string_view provider, std::string_view token, double remaining,
                                  double backoff_seconds) {
  const std::map<std::string, std::string> labels{{"provider", std::string(provider)}, {"token", std::string(token)}};
  provider_budget_.Add(labels).Set(remaining);
  provider_backoff_.Add(labels).Set(backoff_seconds);
}

void Metrics::github_call(std::string_view operation, std::string_view result, std::optional<long> rate_remaining) {
  github_calls_.Add({{"operation", std::string(operation)}, {"result", std::string(result)}}).Increment();
  if (rate_remaining) github_rate_remaining_.Set(static_cast<double>(*rate_remaining));
}

void Metrics::github_webhook(std::string_view kind, std::string_view result) {
  github_webhooks_.Add({{"kind", std::string(kind)}, {"result", std::string(result)}}).Increment();
}

void Metrics::github_reconcile_finished(bool succeeded) {
  github_reconciles_.Add({{"result", succeeded ? "succeeded" : "failed"}}).Increment();
}

void Metrics::set_gate_blocked(std::string_view gate, int releases) {
  gate_blocked_.Add({{"gate", std::string(gate)}}).Set(releases);
}

void Metrics::config_violation(std::string_view kind) {
  config_violations_.Add({{"kind", std::string(kind)}}).Increment();
}

void Metrics::config_observation(std::string_view source, bool succeeded) {
  config_observations_.Add({{"source", std::string(source)}, {"result", succeeded ? "succeeded" : "failed"}})
      .Increment();
}

}  // namespace promoter::daemon
