#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [database]: the environment variable holding the URL (never the URL itself) and the pool size.
void read_database_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* db = r.table(root, "database", "[database]")) {
    r.only(*db, "database", {"url_env", "max_connections"});
    if (db->get("url"))
      r.error(db->get("url"), "database.url is not accepted: name an environment variable in url_env");
    if (auto v = r.string(*db, "url_env", "database.url_env")) c.database_url_env = *v;
    if (auto v = r.integer(*db, "max_connections", "database.max_connections", 1, 64)) c.database_max_connections = *v;
  }
}

}  // namespace promoter::daemon
