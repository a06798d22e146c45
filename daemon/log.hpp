#pragma once
// Structured logs: one JSON object per line on stdout. Never pass a secret in a field.
#include <nlohmann/json.hpp>
#include <string_view>

namespace promoter::daemon {

enum class LogLevel { debug, info, warn, error };

// Fields are merged into the line: log(LogLevel::info, "promotion started", {{"sha", sha}, {"promotion_id", 7}}).
void log(LogLevel, std::string_view message, const nlohmann::json& fields = nlohmann::json::object());

}  // namespace promoter::daemon
