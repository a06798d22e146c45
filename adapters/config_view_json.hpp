#pragma once
// core::ConfigView as JSON, the form the store keeps a release's view in (release_config.view): names and keys
// only. Versioned: a document of another version is an error, never half-read.
#include <nlohmann/json.hpp>

#include <expected>
#include <string>

#include "core/config_drift.hpp"

namespace promoter::adapters {

inline constexpr int config_view_json_version = 1;

nlohmann::json config_view_to_json(const core::ConfigView&);
std::expected<core::ConfigView, std::string> config_view_from_json(const nlohmann::json&);

}  // namespace promoter::adapters
