#pragma once
// promoterd assembled: store, release service, executor, HTTP server, on one io_context plus a small
// blocking pool. main() and the end-to-end tests both run this.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <deque>
#include <set>

#include "adapters/fly_client.hpp"
#include "adapters/http_client.hpp"
#include "adapters/pg_leadership.hpp"
#include "adapters/pg_store.hpp"
#include "adapters/github_client.hpp"
#include "adapters/railway_client.hpp"
#include "adapters/secure_random.hpp"
#include "adapters/simulated_production.hpp"
#include "adapters/slack_notifier.hpp"
#include "adapters/token_budget.hpp"
#include "daemon/console/console_pages.hpp"
#include "daemon/console/console_sessions_api.hpp"
#include "daemon/http/api.hpp"
#include "daemon/http/config_api.hpp"
#include "daemon/auditor.hpp"
#include "daemon/http/auth.hpp"
#include "ports/clock.hpp"
#include "daemon/uses_ports.hpp"
#include "daemon/config/config.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/leadership.hpp"
#include "daemon/metrics.hpp"
#include "daemon/obligation_watch.hpp"
#include "daemon/promotion_executor.hpp"
#include "daemon/config_watch.hpp"
#include "daemon/event_feed.hpp"
#include "daemon/github_evidence.hpp"
#include "daemon/railway_staging.hpp"
#include "daemon/http/refusal_tally.hpp"
#include "daemon/release_service.hpp"
#include "daemon/service_notifier.hpp"
#include "daemon/staging_smoke.hpp"
#include "daemon/write_forwarder.hpp"

namespace promoter::daemon {

// What main() read from the environment and files named in the config. Never logged.
struct Secrets {
  std::string database_url;
  std::vector<TokenEntry> tokens;
  std::optional<std::string> railway_token;
  std::optional<std::string> railway_webhook_secret;
  std::optional<std::string> github_token;
  std::optional<std::string> github_webhook_secret;
  std::optional<std::string> fly_token;
  std::optional<std::string> migrations_database_url;  // handed to a local migration command as DATABASE_URL
  std::vector<std::pair<std::string, std::string>> migrations_env;  // migrations.pass_env, as found at start
  std::optional<std::string> slack_webhook_url;                     // notifications.slack_webhook_url_env
  std::optional<std::string> flags_staging_url;     // flags.staging_url_env: read-only access to staging's flags
  std::optional<std::string> flags_production_url;  // flags.production_url_env
};

// Reads every secret the config names; errors name the variable or file, never a value.
std::expected<Secrets, std::string> read_secrets(const Config&, const EnvLookup&);

// Counters that outlive an App: when one loses the lead, main() builds the next on them, so a scrape of the
// process never sees them fall (a deposed leader's stale-write refusals are the reason it stepped down).
struct ProcessTotals {
  std::uint64_t stale_epoch_writes = 0;
  std::uint64_t takeovers = 0;
};

class App {
 public:
  App(Config config, Secrets secrets, const Clock& clock, ProcessTotals carried = {});
  ~App();

  // Applies schema migrations (waiting up to `db_wait` for the database), binds the listen address, or
  // serves `inherited_socket` (>= 0: a listening socket this App takes over) instead. A stop() before or
  // during the wait ends it at once with ErrorCode::aborted (checked between connection attempts).
  core::Result<void> prepare(core::Duration db_wait, int inherited_socket = -1);
  // Runs until stop(); returns once the io_context has no work left.
  void run();
  // Stops accepting, cancels timers, lets the current journal write finish. Safe from a signal handler's
  // io_context callback or another thread.
  void stop();
  // Re-reads the config file and the tokens (SIGHUP). A config that does not load, or whose tokens cannot
  // be read, is refused with a logged error and the running one stays. Otherwise the tokens and the
  // notification settings are swapped in; changes to other sections are logged as needing a restart.
  // Safe from another thread.
  void reload(EnvLookup env);

  unsigned short port() const { return server_->port(); }
  // After run() returned: whether it stopped because this instance lost the lead. main() then starts a
  // fresh App, a standby, on take_listen_socket(): a duplicate of the listening socket kept from prepare(),
  // which the caller then owns (-1 if none).
  bool deposed() const { return deposed_; }
  // The counters to carry into the next App of this process.
  ProcessTotals totals() const;
  int take_listen_socket() { return std::exchange(kept_socket_, -1); }
  // (method, pattern) of every route the server answers; for promoterd --list-routes.
  std::vector<std::pair<std::string, std::string>> routes() const { return router_.routes(); }

 private:
  void start_promotion(PromotionId, std::string sha);
  boost::asio::awaitable<void> run_promotion(PromotionId, std::string sha);
  // Runs once this instance leads: fences the store with the epoch, loads the World, resumes promotions.
  boost::asio::awaitable<core::Result<void>> lead(const LeaderInfo&);
  void leadership_changed();
  StepPerformers make_performers(const Secrets&);
  // Reports every outbound request attempt of one adapter (railway, fly, probe) to the metrics.
  adapters::HttpObserver adapter_observer(std::string adapter);
  // The web console's sessions, on this instance's tokens, store and clock.
  ConsoleSessionContext console_sessions();
  // ServerHooks::before_write: a write goes to the leader, except signing in and out of the console.
  boost::asio::awaitable<std::optional<HttpResponse>> forward_write(HttpRequest&);
  // After a reload: the sessions of tokens no longer configured end in the database too.
  boost::asio::awaitable<void> end_sessions_of_removed_tokens();
  // The budget of a provider token (made on first use), reported to the metrics under `section`, the config
  // section that names the token.
  std::shared_ptr<adapters::TokenBudget> token_budget(const std::string& provider, const std::string& section,
                                                      std::string_view token, int requests_per_hour);
  void make_notifier(const Secrets&);
  void apply_reload(const EnvLookup&);
  // 401s are audited in aggregate (see RefusalTally): every few seconds the closed minutes are written;
  // at stop, everything. Counts that fail to be written wait for the next pass.
  boost::asio::awaitable<void> audit_refusals_loop();
  void audit_refusals(bool everything);

  Config config_;
  const Clock& clock_;
  boost::asio::io_context io_;
  boost::asio::thread_pool pool_{4};
  adapters::PgStore store_;
  Auditor auditor_{store_, pool_.get_executor()};
  Metrics metrics_;
  ProcessTotals carried_;
  std::string instance_;
  adapters::PgLeadership leader_lock_;
  Leadership leadership_;
  TokenRegistry tokens_;
  ReleaseService releases_;
  ObligationWatch obligations_;
  adapters::SimulatedProduction simulated_;
  // One request allowance per provider token, shared by every client of that token in this process.
  adapters::TokenBudgets budgets_;
  std::unique_ptr<adapters::HttpClient> http_client_;
  std::unique_ptr<adapters::RailwayClient> railway_;
  std::unique_ptr<RailwayStaging> railway_staging_;
  std::unique_ptr<adapters::HttpClient> github_http_;
  std::unique_ptr<adapters::GitHubClient> github_;
  std::unique_ptr<GitHubEvidence> github_evidence_;
  std::unique_ptr<ConfigWatch> config_watch_;  // with [env] or [flags]
  std::unique_ptr<adapters::HttpClient> fly_http_;
  std::unique_ptr<adapters::FlyClient> fly_;
  std::unique_ptr<adapters::HttpClient> probe_http_;
  std::unique_ptr<adapters::HttpClient> forward_http_;
  std::unique_ptr<WriteForwarder> forwarder_;
  std::unique_ptr<StagingSmoke> staging_smoke_;
  ServiceNotifier service_;
  std::unique_ptr<adapters::SlackNotifier> notifier_;  // io thread only
  std::vector<std::unique_ptr<StepPerformer>> performers_;
  std::unique_ptr<PromotionExecutor> executor_;
  std::unique_ptr<EventFeed> events_;  // GET /v1/events
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::set<PromotionId> running_;  // io thread only
  // Runs that wait for this process's current run to let go of the environment (a rollback right after the
  // promotion it followed ended): started in order as runs end, instead of retrying the lease.
  std::deque<std::pair<PromotionId, std::string>> queued_;  // io thread only
  RefusalTally refusals_;                                   // io thread only
  boost::asio::steady_timer refusals_timer_{io_};
  bool refusals_writing_ = false;  // io thread only: a batch is being written on the pool
  bool stopping_ = false;
  // stop() wakes prepare() from its wait between database connection attempts.
  std::mutex prepare_mutex_;
  std::condition_variable prepare_wake_;
  bool stop_requested_ = false;  // guarded by prepare_mutex_
  bool deposed_ = false;
  std::uint64_t takeovers_ = 0;   // io thread
  bool announced_ready_ = false;  // io thread only
  int kept_socket_ = -1;
};

}  // namespace promoter::daemon
