#include <chrono>
#include <fmt/format.h>
#include <set>

#include "daemon/config/config_sections.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

namespace {

// env.production_only / env.staging_only: [{ name = "DATABASE_URL", reason = "each environment has its own" }].
// A reason is required: a name exempt from staging-first is a decision someone must be able to read back.
std::vector<core::ExemptName> read_exempt(const TomlReader& r, const toml::node& node, std::string_view where) {
  const toml::array* list = node.as_array();
  if (!list)
    r.error(&node, fmt::format("{} must be an array of tables ({{ name = \"...\", reason = \"...\" }})", where));
  std::vector<core::ExemptName> out;
  std::set<std::string> seen;
  for (const auto& entry : *list) {
    const toml::table* t = entry.as_table();
    if (!t)
      r.error(&entry, fmt::format("each {} entry must be a table ({{ name = \"...\", reason = \"...\" }})", where));
    r.only(*t, where, {"name", "reason"});
    core::ExemptName e;
    e.name = r.required_string(*t, &entry, "name", fmt::format("{}.name", where));
    e.reason = r.required_string(*t, &entry, "reason", fmt::format("{}.reason", where));
    if (e.name.empty()) r.error(&entry, fmt::format("{}.name must not be empty", where));
    if (e.reason.empty()) r.error(&entry, fmt::format("{}.reason must say why {} is exempt", where, e.name));
    if (!seen.insert(e.name).second) r.error(&entry, fmt::format("{} lists {} twice", where, e.name));
    out.push_back(std::move(e));
  }
  return out;
}

// A SQL identifier as the flag reader quotes it: letters, digits and underscores (a schema-qualified table
// has one dot). Anything else is refused here rather than quoted into something surprising.
bool plain_identifier(std::string_view s, bool allow_dot) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  int dots = 0;
  for (char ch : s) {
    if (ch == '.') {
      if (!allow_dot || ++dots > 1) return false;
    } else if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

// [env]: environment-variable names, staging first (core::EnvPolicy) and how often they are read.
void read_env_section(const TomlReader& r, const toml::table& root, Config& c) {
  const auto* t = r.table(root, "env", "[env]");
  if (!t) return;
  r.only(*t, "env", {"require_env", "interval", "staging_window", "clock_skew", "production_only", "staging_only"});
  EnvConfig e;
  core::EnvPolicy& p = c.policy.env;
  if (auto v = r.boolean(*t, "require_env", "env.require_env")) p.require_env = *v;
  if (auto v = r.duration(*t, "interval", "env.interval")) e.interval = *v;
  if (e.interval < std::chrono::seconds(1)) r.error(t->get("interval"), "env.interval must be at least 1s");
  if (auto v = r.duration(*t, "staging_window", "env.staging_window")) p.staging_window = *v;
  if (p.staging_window <= core::Duration::zero())
    r.error(t->get("staging_window"), "env.staging_window must be positive");
  if (auto v = r.duration(*t, "clock_skew", "env.clock_skew")) p.clock_skew = *v;
  if (p.clock_skew > std::chrono::hours(1))
    r.error(t->get("clock_skew"), "env.clock_skew above 1h would let a production-first change pass as staging first");
  if (const toml::node* n = t->get("production_only")) p.production_only = read_exempt(r, *n, "env.production_only");
  if (const toml::node* n = t->get("staging_only")) p.staging_only = read_exempt(r, *n, "env.staging_only");
  for (const auto& name : p.production_only)
    if (p.staging_only_name(name.name))
      r.error(t->get("staging_only"), fmt::format("{} is both production_only and staging_only", name.name));
  bool any = false;
  for (const auto& s : c.services) any = any || s.lists_variables();
  if (!any)
    r.error(t,
            "[env] needs at least one service whose staging is a Railway service and whose production is a "
            "Railway service or a Fly app: no other provider lists variable names");
  c.env = e;
}

// [flags]: each environment's feature flag table, read only, and the flag gate (core::FlagPolicy).
void read_flags_section(const TomlReader& r, const toml::table& root, Config& c) {
  const auto* t = r.table(root, "flags", "[flags]");
  if (!t) return;
  r.only(*t, "flags",
         {"staging_url_env", "production_url_env", "table", "key_column", "enabled_column", "updated_at_column",
          "interval", "timeout", "require_flag", "guarded_paths"});
  FlagsConfig f;
  f.staging_url_env = r.required_string(*t, t, "staging_url_env", "flags.staging_url_env");
  f.production_url_env = r.required_string(*t, t, "production_url_env", "flags.production_url_env");
  if (auto v = r.string(*t, "table", "flags.table")) f.table = *v;
  if (!plain_identifier(f.table, true))
    r.error(t->get("table"), "flags.table must be a plain SQL name (letters, digits, _; optionally schema.table)");
  for (auto [key, target] : {std::pair{"key_column", &f.key_column}, std::pair{"enabled_column", &f.enabled_column},
                             std::pair{"updated_at_column", &f.updated_at_column}}) {
    const std::string where = fmt::format("flags.{}", key);
    if (auto v = r.string(*t, key, where)) *target = *v;
    const bool optional = target == &f.updated_at_column;
    if (!(optional && target->empty()) && !plain_identifier(*target, false))
      r.error(t->get(key), fmt::format("{} must be a plain SQL column name (letters, digits, _)", where));
  }
  if (auto v = r.duration(*t, "interval", "flags.interval")) f.interval = *v;
  if (f.interval < std::chrono::seconds(1)) r.error(t->get("interval"), "flags.interval must be at least 1s");
  if (auto v = r.duration(*t, "timeout", "flags.timeout")) f.timeout = *v;
  if (f.timeout < std::chrono::milliseconds(100) || f.timeout > std::chrono::minutes(1))
    r.error(t->get("timeout"), "flags.timeout must be between 100ms and 1m");
  core::FlagPolicy& p = c.policy.flags;
  if (auto v = r.boolean(*t, "require_flag", "flags.require_flag")) p.require_flag = *v;
  if (auto v = r.strings(*t, "guarded_paths", "flags.guarded_paths")) p.guarded_globs = *v;
  if (p.require_flag && p.guarded_globs.empty())
    r.error(t, "flags.require_flag = true needs the billing, quota and enterprise paths in flags.guarded_paths");
  if (p.require_flag && !c.github)
    r.error(t->get("require_flag"),
            "flags.require_flag = true needs [github]: the flag gate reads each PR's files and description");
  c.flags = std::move(f);
}

}  // namespace promoter::daemon
