#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [[services]]: each service, its restart order, and where its staging and production run. Returns their names.
std::set<std::string> read_services_section(const TomlReader& r, const toml::table& root, Config& c) {
  const toml::node* services_node = root.get("services");
  if (!services_node) r.error(nullptr, "at least one [[services]] entry is required");
  const toml::array* services = services_node->as_array();
  if (!services || services->empty()) r.error(services_node, "services must be an array of tables ([[services]])");
  std::set<std::string> names;
  std::set<std::int64_t> orders;
  for (const auto& node : *services) {
    const toml::table* s = node.as_table();
    if (!s) r.error(&node, "each [[services]] entry must be a table");
    r.only(*s, "services", {"name", "restart_order", "staging", "production"});
    ServiceConfig svc;
    svc.name = r.required_string(*s, &node, "name", "services.name");
    if (!names.insert(svc.name).second)
      r.error(s->get("name"), fmt::format("service '{}' is configured twice", svc.name));
    auto order = r.integer(*s, "restart_order", "services.restart_order", 1, 100000);
    if (!order) r.error(&node, fmt::format("service '{}' needs restart_order (1 restarts first)", svc.name));
    if (!orders.insert(*order).second)
      r.error(s->get("restart_order"), fmt::format("restart_order {} is used by two services", *order));
    svc.restart_order = static_cast<int>(*order);
    if (const auto* st = r.table(*s, "staging", "services.staging")) {
      r.only(*st, "services.staging", {"provider", "project_id", "environment_id", "service_id"});
      if (auto v = r.string(*st, "provider", "services.staging.provider")) svc.staging.provider = *v;
      if (svc.staging.provider != "generic" && svc.staging.provider != "railway")
        r.error(st->get("provider"), fmt::format("services.staging.provider = \"{}\": use \"railway\" or \"generic\"",
                                                 svc.staging.provider));
      if (svc.staging.provider == "railway") {
        svc.staging.project_id = r.required_string(*st, st, "project_id", "services.staging.project_id");
        svc.staging.environment_id = r.required_string(*st, st, "environment_id", "services.staging.environment_id");
        svc.staging.service_id = r.required_string(*st, st, "service_id", "services.staging.service_id");
      }
    }
    if (const auto* pr = r.table(*s, "production", "services.production")) {
      r.only(*pr, "services.production",
             {"provider", "project_id", "environment_id", "service_id", "app", "image", "process_group"});
      if (auto v = r.string(*pr, "provider", "services.production.provider")) svc.production.provider = *v;
      if (svc.production.provider == "railway") {
        svc.production.project_id = r.required_string(*pr, pr, "project_id", "services.production.project_id");
        svc.production.environment_id =
            r.required_string(*pr, pr, "environment_id", "services.production.environment_id");
        svc.production.service_id = r.required_string(*pr, pr, "service_id", "services.production.service_id");
      } else if (svc.production.provider == "fly") {
        svc.production.app = r.required_string(*pr, pr, "app", "services.production.app");
        svc.production.image = r.image_template(*pr, pr, "services.production.image");
        svc.production.process_group = r.string(*pr, "process_group", "services.production.process_group").value_or("");
      } else if (svc.production.provider != "simulated") {
        r.error(pr->get("provider"),
                fmt::format("services.production.provider = \"{}\": use \"railway\", \"fly\" or \"simulated\"",
                            svc.production.provider));
      }
    }
    c.services.push_back(std::move(svc));
  }
  std::sort(c.services.begin(), c.services.end(),
            [](const auto& a, const auto& b) { return a.restart_order < b.restart_order; });
  for (const auto& s : c.services) c.policy.services.push_back(s.name);
  return names;
}

}  // namespace promoter::daemon
