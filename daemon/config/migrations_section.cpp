#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [migrations]: how `pnpm db:migrate` runs before any service restarts (locally, as a Fly machine, or simulated).
void read_migrations_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* m = r.table(root, "migrations", "[migrations]")) {
    r.only(*m, "migrations",
           {"enabled", "provider", "command", "workdir", "timeout", "pass_env", "database_url_env", "app", "image",
            "region"});
    if (auto v = r.boolean(*m, "enabled", "migrations.enabled")) c.migrations.enabled = *v;
    if (auto v = r.string(*m, "provider", "migrations.provider")) c.migrations.provider = *v;
    if (c.migrations.provider != "simulated" && c.migrations.provider != "local" && c.migrations.provider != "fly")
      r.error(m->get("provider"), fmt::format("migrations.provider = \"{}\": use \"local\", \"fly\" or \"simulated\"",
                                              c.migrations.provider));
    if (auto v = r.strings(*m, "command", "migrations.command")) {
      if (v->empty() || v->front().empty()) r.error(m->get("command"), "migrations.command must name a program");
      c.migrations.command = *v;
    }
    if (auto v = r.string(*m, "workdir", "migrations.workdir")) c.migrations.workdir = *v;
    if (auto v = r.duration(*m, "timeout", "migrations.timeout")) c.migrations.timeout = *v;
    if (c.migrations.timeout < std::chrono::seconds(1))
      r.error(m->get("timeout"), "migrations.timeout must be at least 1s");
    if (auto v = r.strings(*m, "pass_env", "migrations.pass_env")) c.migrations.pass_env = *v;
    if (auto v = r.string(*m, "database_url_env", "migrations.database_url_env")) c.migrations.database_url_env = *v;
    if (c.migrations.provider == "fly") {
      c.migrations.app = r.required_string(*m, m, "app", "migrations.app");
      c.migrations.image = r.image_template(*m, m, "migrations.image");
      c.migrations.region = r.string(*m, "region", "migrations.region").value_or("");
    }
  }
  c.policy.run_migrations = c.migrations.enabled;
  bool uses_fly = c.migrations.enabled && c.migrations.provider == "fly";
  for (const auto& s : c.services) uses_fly = uses_fly || s.production.provider == "fly";
  if (uses_fly && !c.fly)
    r.error(nullptr, "a production target or the migrations use Fly: add a [fly] section (token_env, ...)");
}

}  // namespace promoter::daemon
