#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>

#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [console]: the web console.
void read_console_section(const TomlReader& r, const toml::table& root, Config& c) {
  const auto* console = r.table(root, "console", "[console]");
  if (!console) return;
  r.only(*console, "console", {"enabled", "path", "session_idle", "session_absolute"});
  if (auto v = r.boolean(*console, "enabled", "console.enabled")) c.console.enabled = *v;
  if (auto v = r.string(*console, "path", "console.path")) {
    const bool plain = std::all_of(v->begin(), v->end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '/' || ch == '-' || ch == '_';
    });
    if (v->size() < 3 || !v->starts_with('/') || !v->ends_with('/') || !plain || v->find("//") != std::string::npos ||
        v->starts_with("/v1/"))
      r.error(console->get("path"),
              fmt::format("console.path = \"{}\" must look like \"/ui/\": lower-case letters, digits, '-' and '_' "
                          "between slashes, starting and ending with '/', and not under /v1/",
                          *v));
    c.console.path = *v;
  }
  auto lifetime = [&](std::string_view key, core::Duration& out) {
    const std::string where = fmt::format("console.{}", key);
    if (auto v = r.duration(*console, key, where)) {
      if (*v < std::chrono::minutes(1) || *v > std::chrono::days(30))
        r.error(console->get(key),
                fmt::format("{} = \"{}\" must be between 1m and 30 days", where, core::format_duration(*v)));
      out = *v;
    }
  };
  lifetime("session_idle", c.console.session_idle);
  lifetime("session_absolute", c.console.session_absolute);
  if (c.console.session_idle > c.console.session_absolute)
    r.error(
        console->get("session_idle"),
        fmt::format("console.session_idle = \"{}\" is longer than console.session_absolute = \"{}\"; a session "
                    "ends at the absolute limit whatever its use",
                    core::format_duration(c.console.session_idle), core::format_duration(c.console.session_absolute)));
}

}  // namespace promoter::daemon
