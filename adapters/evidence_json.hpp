#pragma once
// core::Evidence as JSON, the form the store keeps it in (release_evidence.evidence). Versioned: a document
// of another version is an error, never half-read.
#include <nlohmann/json.hpp>

#include <expected>
#include <string>

#include "core/evidence.hpp"

namespace promoter::adapters {

inline constexpr int evidence_json_version = 1;

nlohmann::json evidence_to_json(const core::Evidence&);
std::expected<core::Evidence, std::string> evidence_from_json(const nlohmann::json&);

}  // namespace promoter::adapters
