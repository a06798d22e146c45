#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [railway]: the API, its token and budget, webhooks; required once a service uses Railway.
void read_railway_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* rw = r.table(root, "railway", "[railway]")) {
    r.only(*rw, "railway",
           {"endpoint", "token_env", "token_kind", "ca_file", "webhook_secret_env", "reconcile_interval",
            "poll_interval", "deploy_timeout", "requests_per_hour"});
    RailwayConfig railway;
    if (auto v = r.string(*rw, "endpoint", "railway.endpoint")) railway.endpoint = *v;
    if (!railway.endpoint.starts_with("https://") && !railway.endpoint.starts_with("http://"))
      r.error(rw->get("endpoint"), "railway.endpoint must be an http:// or https:// URL");
    if (auto v = r.string(*rw, "token_env", "railway.token_env")) railway.token_env = *v;
    if (auto v = r.string(*rw, "token_kind", "railway.token_kind")) railway.token_kind = *v;
    if (railway.token_kind != "account" && railway.token_kind != "project")
      r.error(rw->get("token_kind"), "railway.token_kind must be \"account\" or \"project\"");
    if (auto v = r.string(*rw, "ca_file", "railway.ca_file")) railway.ca_file = *v;
    if (auto v = r.string(*rw, "webhook_secret_env", "railway.webhook_secret_env")) railway.webhook_secret_env = *v;
    if (auto v = r.duration(*rw, "reconcile_interval", "railway.reconcile_interval")) railway.reconcile_interval = *v;
    if (auto v = r.duration(*rw, "poll_interval", "railway.poll_interval")) railway.poll_interval = *v;
    if (auto v = r.duration(*rw, "deploy_timeout", "railway.deploy_timeout")) railway.deploy_timeout = *v;
    if (auto v = r.integer(*rw, "requests_per_hour", "railway.requests_per_hour", 1, 1'000'000))
      railway.requests_per_hour = static_cast<int>(*v);
    if (railway.reconcile_interval < std::chrono::seconds(1))
      r.error(rw->get("reconcile_interval"), "railway.reconcile_interval must be at least 1s");
    if (railway.poll_interval < std::chrono::milliseconds(50))
      r.error(rw->get("poll_interval"), "railway.poll_interval must be at least 50ms");
    c.railway = railway;
  }
  for (const auto& s : c.services)
    if ((s.staging.provider == "railway" || s.production.provider == "railway") && !c.railway)
      r.error(nullptr, fmt::format("service '{}' uses Railway: add a [railway] section (token_env, ...)", s.name));
}

}  // namespace promoter::daemon
