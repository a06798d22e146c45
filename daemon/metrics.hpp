#pragma once
// Prometheus metrics of the daemon. Labels are bounded: per service, step kind, route and result,
// never per SHA or promotion id.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/time.hpp"

namespace promoter::daemon {

class Metrics {
 public:
  Metrics(std::string_view version, bool short_soak);

  // Text exposition format 0.0.4.
  std::string serialize() const;

  void http_request(std::string_view method, std::string_view route, unsigned status, double seconds);
  void event(std::string_view event, std::string_view result);  // result: accepted, refused, error
  void promotion_started();
  // `result`: succeeded, failed or aborted.
  void promotion_finished(std::string_view result, std::optional<double> seconds, core::Timestamp now);
  // service: the deployed service for deploy steps, "" for the others.
  void step_finished(std::string_view kind, std::string_view service, std::string_view result, double seconds);
  void set_release_states(const std::map<std::string, int>& counts);
  void set_soak_remaining(std::optional<double> seconds);
  // 1 while a freeze window or a line stop holds promotions back (the leader's view).
  void set_environment_frozen(bool frozen);
  // 1 while a rollback's pin holds automatic promotions back (until promotectl resume).
  void set_environment_pinned(bool pinned);
  // A rollback started, by trigger ("operator", "verify_failure").
  void rollback_started(std::string_view trigger);
  // A rollback's plan ended, by result ("succeeded", "failed", "aborted").
  void rollback_finished(std::string_view result);
  // Owned by whoever runs executors (App): 1 while any promotion runs in this process.
  void set_promotion_running(bool running);
  void set_database_up(bool up);

  // A step of a running promotion began (`now`) or ended (nullopt): feeds the "stuck in a step" alert.
  void set_step_started(std::optional<core::Timestamp> at);
  void migration_finished(bool succeeded, double seconds);
  // One attempt of an outbound request (adapter: railway, fly, probe). status 0: no complete answer.
  // Attempts after the first also count as retries.
  void adapter_request(std::string_view adapter, std::string_view operation, int status, double seconds, int attempt);
  // The daemon resumes a promotion that paused on an unavailable dependency.
  void promotion_retry();
  // type: deployment or other; result: accepted, recorded_without_commit, ignored, invalid, unavailable, refused.
  void webhook(std::string_view type, std::string_view result);
  // One pass of the staging reconciler ended.
  void reconcile_finished(bool succeeded, core::Timestamp now);
  // Open and overdue hotfix obligations (review backfill, incident report), recomputed by their owner.
  void set_hotfix_obligations(int open, int overdue);
  // Leadership: 1 while this instance leads its environment (0 on a standby), the epoch it leads under
  // (or last saw, on a standby), takeovers by this instance, and writes refused for a stale epoch.
  void set_leader(bool leader);
  void set_leadership_epoch(std::int64_t epoch);
  void leadership_takeover(std::uint64_t count = 1);
  void set_stale_epoch_refusals(std::uint64_t total);
  // Writes a standby forwarded to the leader, by result (forwarded, no_leader, unreachable).
  void write_forwarded(std::string_view result);
  // A connection refused by the HTTP server (reason: max_connections, per_peer, header_timeout).
  void connection_refused(std::string_view reason);
  // A request refused by authentication or authorisation (reason: missing_token, invalid_token, forbidden).
  void auth_refused(std::string_view reason);
  // One group commit of the state strand and how many events it carried.
  void commit_batch(std::size_t events);
  // A provider token's hourly budget left and the back-off it is under. `token` names where the token is
  // configured (its config section, e.g. "railway"), never the token or any part of it.
  void set_provider_budget(std::string_view provider, std::string_view token, double remaining, double backoff_seconds);
  // One GitHub API call by operation and result: fresh (a 2xx body), not_modified (a 304: free of the rate
  // limit), error. `rate_remaining`: x-ratelimit-remaining of the answer, when it said.
  void github_call(std::string_view operation, std::string_view result, std::optional<long> rate_remaining);
  // A GitHub webhook delivery by event kind (review, check, pull, other) and result (queued, ignored,
  // duplicate, refused, invalid).
  void github_webhook(std::string_view kind, std::string_view result);
  // One pass of the GitHub evidence reconciler ended.
  void github_reconcile_finished(bool succeeded);
  // Releases still gathering gates that this gate blocks, per gate (soak, smoke, approval, review, ci,
  // ddl_rollback, env, flag).
  void set_gate_blocked(std::string_view gate, int releases);
  // A production configuration change that did not go to staging first (kind: env_production_first,
  // flag_production_first). Reported, never blocking.
  void config_violation(std::string_view kind);
  // One observation of variable names ("variables") or feature flags ("flags") by result (succeeded, failed).
  void config_observation(std::string_view source, bool succeeded);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_duration_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Counter>& promotions_;
  prometheus::Family<prometheus::Histogram>& promotion_duration_;
  prometheus::Family<prometheus::Histogram>& step_duration_;
  prometheus::Family<prometheus::Gauge>& releases_;
  prometheus::Gauge& soak_remaining_;
  prometheus::Gauge& environment_frozen_;
  prometheus::Gauge& environment_pinned_;
  prometheus::Family<prometheus::Counter>& rollbacks_;
  prometheus::Family<prometheus::Counter>& rollbacks_finished_;
  prometheus::Gauge& promotion_running_;
  prometheus::Gauge& last_success_;
  prometheus::Gauge& database_up_;
  prometheus::Gauge& step_started_;
  prometheus::Family<prometheus::Counter>& migrations_;
  prometheus::Family<prometheus::Histogram>& migration_duration_;
  prometheus::Family<prometheus::Counter>& adapter_requests_;
  prometheus::Family<prometheus::Histogram>& adapter_duration_;
  prometheus::Family<prometheus::Counter>& adapter_retries_;
  prometheus::Counter& promotion_retries_;
  prometheus::Family<prometheus::Counter>& webhooks_;
  prometheus::Family<prometheus::Counter>& reconciles_;
  prometheus::Gauge& reconcile_last_success_;
  prometheus::Gauge& hotfix_open_;
  prometheus::Gauge& hotfix_overdue_;
  prometheus::Gauge& leader_;
  prometheus::Gauge& leadership_epoch_;
  prometheus::Counter& takeovers_;
  prometheus::Counter& stale_epoch_refusals_;
  prometheus::Family<prometheus::Counter>& forwarded_writes_;
  prometheus::Family<prometheus::Counter>& connections_refused_;
  prometheus::Family<prometheus::Counter>& auth_refusals_;
  prometheus::Histogram& commit_batch_;
  prometheus::Family<prometheus::Gauge>& provider_budget_;
  prometheus::Family<prometheus::Gauge>& provider_backoff_;
  prometheus::Family<prometheus::Counter>& github_calls_;
  prometheus::Gauge& github_rate_remaining_;
  prometheus::Family<prometheus::Counter>& github_webhooks_;
  prometheus::Family<prometheus::Counter>& github_reconciles_;
  prometheus::Family<prometheus::Gauge>& gate_blocked_;
  prometheus::Family<prometheus::Counter>& config_violations_;
  prometheus::Family<prometheus::Counter>& config_observations_;
};

}  // namespace promoter::daemon
