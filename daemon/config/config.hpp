#pragma once
// promoterd's configuration file (TOML). Every error names file:line:col and what to do.
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.hpp"
#include "daemon/http/auth.hpp"
#include "daemon/http/http_types.hpp"

namespace promoter::daemon {

struct StagingTarget {
  std::string provider = "generic";  // "generic": events are posted to /v1/staging-deployments; "railway"
  std::string project_id;
  std::string environment_id;
  std::string service_id;
};

struct ProductionTarget {
  std::string provider = "simulated";  // "simulated" records the deploy; "railway" deploys the exact commit;
                                       // "fly" rolls the app's machines to the release's image
  std::string project_id;              // railway
  std::string environment_id;          // railway: the production environment
  std::string service_id;              // railway
  std::string app;                     // fly: the Fly app
  std::string image;                   // fly: image template, "{sha}" replaced, e.g. registry.fly.io/rotor-api:{sha}
  std::string process_group;           // fly: only machines of this process group ("" = every machine)
};

// Fly.io's Machines API, for Fly production targets and Fly migrations.
struct FlyConfig {
  std::string endpoint = "https://api.machines.dev/v1";
  std::string token_env = "FLY_API_TOKEN";                   // "Bearer <token>", "FlyV1 <macaroon>" or a bare token
  std::string ca_file;                                       // extra CA bundle to trust (tests); empty: the system's
  core::Duration poll_interval = std::chrono::seconds{2};    // while waiting for checks to pass
  core::Duration lease_ttl = std::chrono::minutes{2};        // per machine, while it is updated
  core::Duration lease_wait = std::chrono::minutes{3};       // a lease held by someone else: wait, then fail (> ttl)
  core::Duration machine_timeout = std::chrono::minutes{5};  // a machine must be started and passing by then
  // Requests per hour this process may send with the Fly token (every client of the token shares it).
  int requests_per_hour = 3600;
};

// An HTTP probe: a smoke check against staging, or a verification against production.
struct ProbeConfig {
  std::string name;
  std::string url;
  int expect_status = 200;
  std::string expect_body;  // a substring the body must contain ("" = any)
  core::Duration timeout = std::chrono::seconds{10};
};

struct SmokeConfig {
  std::string suite = "probes";         // the smoke suite the staging probes report under
  std::vector<ProbeConfig> staging;     // run when a release goes live on staging
  std::vector<ProbeConfig> production;  // the promotion's verify step, after the last service
  std::string ca_file;                  // extra CA bundle to trust (tests); empty: the system's
};

// Railway's API, for staging tracking and Railway production targets.
struct RailwayConfig {
  std::string endpoint = "https://backboard.railway.com/graphql/v2";
  std::string token_env = "RAILWAY_TOKEN";
  std::string token_kind = "account";  // "account": Authorization: Bearer; "project": Project-Access-Token
  std::string ca_file;                 // extra CA bundle to trust (tests); empty: the system's
  std::string webhook_secret_env;      // the secret in /webhooks/railway/{secret}; empty: no webhook route
  core::Duration reconcile_interval = std::chrono::seconds{60};
  core::Duration poll_interval = std::chrono::seconds{5};    // while a production deployment builds
  core::Duration deploy_timeout = std::chrono::minutes{20};  // a production deployment must be live by then
  // Requests per hour this process may send with the Railway token (every client of the token shares it);
  // Railway allows 100 (Free), 1,000 (Hobby) or 10,000 (Pro) per hour.
  int requests_per_hour = 1000;
};

// A reviewer GitHub knows by this immutable id; the login is for people.
struct GitHubMember {
  std::int64_t id = 0;
  std::string login;
};

// GitHub's REST API, for the review, ci and ddl_rollback gates, production tags and the hotfix review backfill.
struct GitHubConfig {
  std::string endpoint = "https://api.github.com";  // GitHub Enterprise Server: https://HOST/api/v3
  std::string owner, repo;
  std::string branch = "main";  // commits reach it through merged PRs
  std::string token_env;        // the token: in this environment variable, or
  std::string token_file;       // in this file (first line)
  std::string ca_file;
  std::string webhook_secret_env;  // the secret of POST /webhooks/github; empty: no webhook route
  // The reviewing team: "org/team-slug" asked of GitHub, or a fixed list of members (by id).
  std::string team;
  std::vector<GitHubMember> members;
  std::string tag_prefix = "production-";  // refs/tags/<prefix><UTC time> after each promotion; "" = no tags
  core::Duration reconcile_interval = std::chrono::minutes{1};
  // GitHub allows 5,000 requests per hour per user token (GitHub App installations up to 12,500); this
  // process's share of it.
  int requests_per_hour = 4000;
};

struct ServiceConfig {
  std::string name;
  int restart_order = 0;
  StagingTarget staging;
  ProductionTarget production;

  // Whether its variable names can be read on both sides ([env]): staging a Railway service, production a
  // Railway service or a Fly app. No other provider lists variable names.
  bool lists_variables() const {
    return staging.provider == "railway" && (production.provider == "railway" || production.provider == "fly");
  }
};

struct MigrationsConfig {
  bool enabled = true;
  // "simulated" records the step; "local" runs `command` here; "fly" runs it in a one-off machine of `app`
  // on the release's image, as flyctl runs a release_command.
  std::string provider = "simulated";
  std::vector<std::string> command{"pnpm", "db:migrate"};
  std::string workdir = ".";  // local
  core::Duration timeout = std::chrono::minutes{10};
  std::vector<std::string> pass_env{"PATH", "HOME"};  // local: names passed through; nothing else is inherited
  std::string database_url_env;  // local: the production database URL, handed to the command as DATABASE_URL
  std::string app;               // fly
  std::string image;             // fly: image template with "{sha}"
  std::string region;            // fly: "" lets Fly choose
};

struct SimulationConfig {
  std::string record_file;              // where simulated side effects are recorded (survives restarts)
  core::Duration step_delay{0};         // makes simulated steps take time, for the demo
  std::vector<std::string> fail_steps;  // step names that fail, e.g. "migrate", "deploy:api"
};

// Chat notifications through a Slack-compatible incoming webhook.
struct NotificationsConfig {
  std::string slack_webhook_url_env = "PROMOTER_SLACK_WEBHOOK_URL";  // the URL is a secret: env only
  std::vector<std::string> kinds;                    // Notify kinds to send, e.g. "promotion.failed"; empty: every kind
  std::string ca_file;                               // extra CA bundle to trust (tests); empty: the system's
  int max_attempts = 5;                              // per message; then it is dropped with an error log
  core::Duration backoff = std::chrono::seconds{1};  // before the first retry; doubles per retry

  bool wants(std::string_view kind) const;
};

struct TokenConfig {
  std::string identity;
  Role role = Role::viewer;
  std::string token_env;
  std::string token_file;
  std::vector<std::string> git_authors;
};

// [env]: how often the variable names of every observable service are read (one whose staging is a Railway
// service and whose production is a Railway service or a Fly app). The rules (the env gate, production-only
// names, the staging-first window) are policy: core::EnvPolicy.
struct EnvConfig {
  core::Duration interval = std::chrono::minutes{2};
};

// [flags]: each environment's feature flag table, read only. The URLs come from the environment variables
// named here (never the file); the flag gate's paths are policy: core::FlagPolicy.
struct FlagsConfig {
  std::string staging_url_env;
  std::string production_url_env;
  std::string table = "feature_flags";  // may be schema-qualified: "app.feature_flags"
  std::string key_column = "key";
  std::string enabled_column = "enabled";
  std::string updated_at_column = "updated_at";  // "" when the table has none
  core::Duration interval = std::chrono::minutes{2};
  core::Duration timeout = std::chrono::seconds{5};  // per read
};

// [console]: the web console promoterd serves (daemon/console).
struct ConsoleConfig {
  bool enabled = true;
  std::string path = "/ui/";  // where the page is served; starts and ends with '/'
  // A session ends when unused for `session_idle`, and `session_absolute` after sign-in in any case.
  core::Duration session_idle = std::chrono::hours{8};
  core::Duration session_absolute = std::chrono::hours{24};
};

struct Config {
  std::string path;
  std::string environment = "production";
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  // Where standbys forward writes to this instance when it leads (http[s]://host:port, no path). Empty:
  // http://HOST:PORT of `listen` when HOST is a specific address; with a wildcard HOST, writes sent to a
  // standby are refused with 503 instead of forwarded.
  std::string advertise_url;
  std::string instance_name;  // as /v1/status and the leadership row show it; empty: hostname:pid
  // How people reach promoterd (http[s]://host[:port], no path): links in chat notices, the origin the console's
  // writes must come from, and whether its cookie is Secure. Empty: the Host each request names.
  std::string public_url;
  ConsoleConfig console;
  // [server] connection limits (see ServerLimits in daemon/http/http_server.hpp).
  std::size_t max_connections = 256;          // served at once; a small reserve still answers health checks
  std::size_t max_connections_per_peer = 64;  // from one address
  core::Duration header_timeout = std::chrono::seconds{5};  // accept (or last response) to complete header
  // GET /v1/events: streams served at once, and from one address; a comment line after this long without news.
  std::size_t max_event_streams = 1000;
  std::size_t max_event_streams_per_peer = 8;
  core::Duration event_heartbeat = std::chrono::seconds{15};
  std::string database_url_env = "PROMOTER_DATABASE_URL";
  std::size_t database_max_connections = 8;
  core::Policy policy;
  std::vector<ServiceConfig> services;  // sorted by restart_order
  MigrationsConfig migrations;
  std::optional<RailwayConfig> railway;
  std::optional<FlyConfig> fly;
  std::optional<GitHubConfig> github;
  std::optional<EnvConfig> env;      // absent: variable names are not watched
  std::optional<FlagsConfig> flags;  // absent: feature flags are not read
  SmokeConfig smoke;
  SimulationConfig simulation;
  std::vector<TokenConfig> tokens;
  std::optional<NotificationsConfig> notifications;  // absent: no chat notifications
  // Each top-level key's TOML as written, so a reload can tell which sections changed.
  std::map<std::string, std::string> section_texts;
  // Doubtful but valid settings, as "file:line:col: warning: ..."; `promoterd --check` prints them.
  std::vector<std::string> warnings;
};

// Errors read "conf/promoter.toml:12:9: policy.soak = \"10m\" is below the policy floor of 30m ...".
std::expected<Config, std::string> load_config(const std::string& path);
// The same for text already in memory; `path` only names the source in errors and Config::path.
std::expected<Config, std::string> load_config_text(std::string_view text, const std::string& path);

// Reads each token from its environment variable or file. Errors name the identity and the source,
// never the value.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::expected<std::vector<TokenEntry>, std::string> resolve_tokens(const Config&, const EnvLookup&);

}  // namespace promoter::daemon
