#pragma once
// promoterd's configuration file (TOML). Every error names file:line:col and what to do.
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/policy.hpp"
#include "daemon/auth.hpp"
#include "daemon/http_types.hpp"

namespace promoter::daemon {

struct StagingTarget {
  std::string provider = "generic";  // "generic": events are posted to /v1/staging-deployments; "railway"
  std::string project_id;
  std::string environment_id;
  std::string service_id;
};

struct ProductionTarget {
  std::string provider = "simulated";  // "simulated" records the deploy; "railway" deploys the exact commit
  std::string project_id;              // railway
  std::string environment_id;          // railway: the production environment
  std::string service_id;              // railway
};

// Railway's API, for staging tracking and Railway production targets.
struct RailwayConfig {
  std::string endpoint = "https://backboard.railway.com/graphql/v2";
  std::string token_env = "RAILWAY_TOKEN";
  std::string token_kind = "account";  // "account": Authorization: Bearer; "project": Project-Access-Token
  std::string ca_file;                 // extra CA bundle to trust (tests); empty: the system's
  std::string webhook_secret_env;      // the secret in /webhooks/railway/{secret}; empty: no webhook route
  core::Duration reconcile_interval = std::chrono::seconds{60};
  core::Duration poll_interval = std::chrono::seconds{5};      // while a production deployment builds
  core::Duration deploy_timeout = std::chrono::minutes{20};    // a production deployment must be live by then
};

struct ServiceConfig {
  std::string name;
  int restart_order = 0;
  StagingTarget staging;
  ProductionTarget production;
};

struct MigrationsConfig {
  bool enabled = true;
  std::string provider = "simulated";  // "simulated"; "local" runs `command` (arrives with the migration runner)
  std::vector<std::string> command{"pnpm", "db:migrate"};
  std::string workdir = ".";
  core::Duration timeout = std::chrono::minutes{10};
  std::vector<std::string> pass_env{"PATH", "HOME"};
  std::string database_url_env;  // the production database URL handed to the command
};

struct SimulationConfig {
  std::string record_file;             // where simulated side effects are recorded (survives restarts)
  core::Duration step_delay{0};        // makes simulated steps take time, for the demo
  std::vector<std::string> fail_steps;  // step names that fail, e.g. "migrate", "deploy:api"
};

struct TokenConfig {
  std::string identity;
  Role role = Role::viewer;
  std::string token_env;
  std::string token_file;
  std::vector<std::string> git_authors;
};

struct Config {
  std::string path;
  std::string environment = "production";
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::string database_url_env = "PROMOTER_DATABASE_URL";
  std::size_t database_max_connections = 8;
  core::Policy policy;
  std::vector<ServiceConfig> services;  // sorted by restart_order
  MigrationsConfig migrations;
  std::optional<RailwayConfig> railway;
  SimulationConfig simulation;
  std::vector<TokenConfig> tokens;
};

// Errors read "conf/promoter.toml:12:9: policy.soak = \"10m\" is below the policy floor of 30m ...".
std::expected<Config, std::string> load_config(const std::string& path);

// Reads each token from its environment variable or file. Errors name the identity and the source,
// never the value.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::expected<std::vector<TokenEntry>, std::string> resolve_tokens(const Config&, const EnvLookup&);

}  // namespace promoter::daemon
