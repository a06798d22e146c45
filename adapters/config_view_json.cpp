#include "adapters/config_view_json.hpp"

namespace promoter::adapters {

using nlohmann::json;

json config_view_to_json(const core::ConfigView& v) {
  json services = json::object();
  for (const auto& [name, names] : v.services)
    services[name] = {{"staging", names.staging}, {"production", names.production}};
  return {{"version", config_view_json_version},
          {"observed_at", core::format_timestamp(v.observed_at)},
          {"services", services},
          {"production_flags", v.production_flags ? json(*v.production_flags) : json(nullptr)}};
}

std::expected<core::ConfigView, std::string> config_view_from_json(const json& doc) {
  try {
    if (!doc.is_object() || doc.value("version", 0) != config_view_json_version)
      return std::unexpected("not a version " + std::to_string(config_view_json_version) + " configuration view");
    core::ConfigView v;
    auto at = core::parse_timestamp(doc.at("observed_at").get<std::string>());
    if (!at) return std::unexpected(at.error().message);
    v.observed_at = *at;
    for (const auto& [name, names] : doc.at("services").items())
      v.services[name] = core::ServiceNames{names.at("staging").get<std::set<std::string>>(),
                                            names.at("production").get<std::set<std::string>>()};
    if (!doc.at("production_flags").is_null())
      v.production_flags = doc.at("production_flags").get<std::set<std::string>>();
    return v;
  } catch (const json::exception& e) {
    return std::unexpected(std::string("configuration view: ") + e.what());
  }
}

}  // namespace promoter::adapters
