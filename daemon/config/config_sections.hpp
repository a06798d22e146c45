#pragma once
// One reader per configuration section. Each reads its table from the root (a missing optional section
// leaves the defaults) into Config and throws ConfigError ("file:line:col: message") on the first mistake.
// config.cpp calls them in the order their checks depend on: services before approval rules, providers
// after the services that need them.
#include <set>
#include <string>
#include <toml++/toml.h>

#include "core/policy.hpp"
#include "daemon/config/config.hpp"

namespace promoter::daemon {

class TomlReader;

void read_server_section(const TomlReader& r, const toml::table& root, Config& c);
void read_console_section(const TomlReader& r, const toml::table& root, Config& c);
void read_database_section(const TomlReader& r, const toml::table& root, Config& c);
const toml::table& read_policy_section(const TomlReader& r, const toml::table& root, Config& c);
std::set<std::string> read_services_section(const TomlReader& r, const toml::table& root, Config& c);
void read_rollback_order(const TomlReader& r, const toml::table& policy, const std::set<std::string>& services,
                         core::Policy& p);
void read_approval_rules(const TomlReader& r, const toml::node& node, const std::set<std::string>& services,
                         core::Policy& p);
// [[policy.freeze]]: one-off and weekly freeze windows, with their IANA time zones.
void read_freeze_windows(const TomlReader& r, const toml::node& node, core::Policy& p);
void read_hotfix_table(const TomlReader& r, const toml::table& t, core::HotfixPolicy& h);
void read_railway_section(const TomlReader& r, const toml::table& root, Config& c);
void read_github_section(const TomlReader& r, const toml::table& root, Config& c);
void read_env_section(const TomlReader& r, const toml::table& root, Config& c);
void read_flags_section(const TomlReader& r, const toml::table& root, Config& c);
void read_fly_section(const TomlReader& r, const toml::table& root, Config& c);
void read_migrations_section(const TomlReader& r, const toml::table& root, Config& c);
void read_smoke_section(const TomlReader& r, const toml::table& root, Config& c);
void read_simulation_section(const TomlReader& r, const toml::table& root, Config& c);
void read_notifications_section(const TomlReader& r, const toml::table& root, Config& c);
void read_auth_section(const TomlReader& r, const toml::table& root, Config& c);

}  // namespace promoter::daemon
