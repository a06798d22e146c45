#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [simulation]: the simulated production used by the demo and tests.
void read_simulation_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* sim = r.table(root, "simulation", "[simulation]")) {
    r.only(*sim, "simulation", {"record_file", "step_delay", "fail_steps"});
    if (auto v = r.string(*sim, "record_file", "simulation.record_file")) c.simulation.record_file = *v;
    if (auto v = r.duration(*sim, "step_delay", "simulation.step_delay")) c.simulation.step_delay = *v;
    if (auto v = r.strings(*sim, "fail_steps", "simulation.fail_steps")) c.simulation.fail_steps = *v;
  }
}

}  // namespace promoter::daemon
