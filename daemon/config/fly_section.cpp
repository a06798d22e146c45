#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [fly]: the Machines API, its token and budget, leases and timeouts.
void read_fly_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* fl = r.table(root, "fly", "[fly]")) {
    r.only(*fl, "fly",
           {"endpoint", "token_env", "ca_file", "poll_interval", "lease_ttl", "lease_wait", "machine_timeout",
            "requests_per_hour"});
    FlyConfig f;
    if (auto v = r.string(*fl, "endpoint", "fly.endpoint")) f.endpoint = *v;
    if (!f.endpoint.starts_with("https://") && !f.endpoint.starts_with("http://"))
      r.error(fl->get("endpoint"), "fly.endpoint must be an http:// or https:// URL");
    while (f.endpoint.ends_with('/')) f.endpoint.pop_back();
    if (auto v = r.string(*fl, "token_env", "fly.token_env")) f.token_env = *v;
    if (auto v = r.string(*fl, "ca_file", "fly.ca_file")) f.ca_file = *v;
    if (auto v = r.duration(*fl, "poll_interval", "fly.poll_interval")) f.poll_interval = *v;
    if (auto v = r.duration(*fl, "lease_ttl", "fly.lease_ttl")) f.lease_ttl = *v;
    if (auto v = r.duration(*fl, "lease_wait", "fly.lease_wait")) f.lease_wait = *v;
    if (auto v = r.duration(*fl, "machine_timeout", "fly.machine_timeout")) f.machine_timeout = *v;
    if (auto v = r.integer(*fl, "requests_per_hour", "fly.requests_per_hour", 1, 1'000'000))
      f.requests_per_hour = static_cast<int>(*v);
    if (f.poll_interval < std::chrono::milliseconds(50))
      r.error(fl->get("poll_interval"), "fly.poll_interval must be at least 50ms");
    if (f.lease_ttl < std::chrono::seconds(10)) r.error(fl->get("lease_ttl"), "fly.lease_ttl must be at least 10s");
    c.fly = f;
  }
}

}  // namespace promoter::daemon
