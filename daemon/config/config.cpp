#include "daemon/config/config.hpp"

#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

#include "daemon/config/config_sections.hpp"
#include "daemon/config/toml_reader.hpp"
#include "daemon/config/toml_safety.hpp"

namespace promoter::daemon {

namespace {

Config read_config(const TomlReader& r, const toml::table& root) {
  Config c;
  c.path = r.path();
  r.only(root, "",
         {"environment", "server", "database", "policy", "services", "migrations", "simulation", "auth", "railway",
          "fly", "github", "env", "flags", "smoke", "hotfix", "notifications", "console"});
  if (auto v = r.string(root, "environment", "environment")) c.environment = *v;
  read_server_section(r, root, c);
  read_console_section(r, root, c);
  read_database_section(r, root, c);
  const toml::table& policy = read_policy_section(r, root, c);
  const std::set<std::string> names = read_services_section(r, root, c);
  if (const toml::node* rules = policy.get("approval_rules")) read_approval_rules(r, *rules, names, c.policy);
  read_rollback_order(r, policy, names, c.policy);
  if (const auto* hotfix = r.table(root, "hotfix", "[hotfix]")) read_hotfix_table(r, *hotfix, c.policy.hotfix);
  if (const toml::node* freeze = policy.get("freeze")) read_freeze_windows(r, *freeze, c.policy);
  read_railway_section(r, root, c);
  read_fly_section(r, root, c);
  read_github_section(r, root, c);
  read_env_section(r, root, c);
  read_flags_section(r, root, c);
  read_migrations_section(r, root, c);
  read_smoke_section(r, root, c);
  read_simulation_section(r, root, c);
  read_notifications_section(r, root, c);
  read_auth_section(r, root, c);
  return c;
}

}  // namespace

std::expected<Config, std::string> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(fmt::format("{}: cannot read the file", path));
  std::stringstream text;
  text << in.rdbuf();
  return load_config_text(text.str(), path);
}

std::expected<Config, std::string> load_config_text(std::string_view text, const std::string& path) {
  if (auto unsafe = unsafe_for_toml(text, path)) return std::unexpected(std::move(*unsafe));
  try {
    toml::table root = toml::parse(text, path);
    Config config = read_config(TomlReader(path), root);
    for (const auto& [key, node] : root) {
      std::ostringstream section;
      node.visit([&section](const auto& n) { section << n; });
      config.section_texts[std::string(key.str())] = section.str();
    }
    return config;
  } catch (const toml::parse_error& e) {
    return std::unexpected(
        fmt::format("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column, e.description()));
  } catch (const ConfigError& e) {
    return std::unexpected(e.message);
  }
}

bool NotificationsConfig::wants(std::string_view kind) const {
  return kinds.empty() || std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

std::expected<std::vector<TokenEntry>, std::string> resolve_tokens(const Config& c, const EnvLookup& env) {
  std::vector<TokenEntry> out;
  for (const auto& t : c.tokens) {
    std::string token;
    if (!t.token_env.empty()) {
      auto v = env(t.token_env);
      if (!v || v->empty())
        return std::unexpected(
            fmt::format("{}: token of '{}': environment variable {} is not set", c.path, t.identity, t.token_env));
      token = *v;
    } else {
      std::ifstream f(t.token_file);
      if (!f)
        return std::unexpected(fmt::format("{}: token of '{}': cannot read {}", c.path, t.identity, t.token_file));
      std::getline(f, token);
      while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
      if (token.empty())
        return std::unexpected(fmt::format("{}: token of '{}': {} is empty", c.path, t.identity, t.token_file));
    }
    if (token.size() < 16)
      return std::unexpected(
          fmt::format("{}: token of '{}' is shorter than 16 characters; use a long random token", c.path, t.identity));
    out.push_back(TokenEntry{t.identity, t.role, std::move(token), t.git_authors});
  }
  return out;
}

}  // namespace promoter::daemon
