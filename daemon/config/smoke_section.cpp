#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [smoke]: the suite name and the staging and production probes.
void read_smoke_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* sm = r.table(root, "smoke", "[smoke]")) {
    r.only(*sm, "smoke", {"suite", "staging", "production", "ca_file"});
    if (auto v = r.string(*sm, "suite", "smoke.suite")) c.smoke.suite = *v;
    if (c.smoke.suite.empty()) r.error(sm->get("suite"), "smoke.suite must not be empty");
    if (auto v = r.string(*sm, "ca_file", "smoke.ca_file")) c.smoke.ca_file = *v;
    c.smoke.staging = r.probes(*sm, "staging", "smoke.staging");
    c.smoke.production = r.probes(*sm, "production", "smoke.production");
  }
}

}  // namespace promoter::daemon
