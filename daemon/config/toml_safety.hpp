#pragma once
// A workaround for a toml++ 3.3 defect: see toml_safety.cpp.
#include <optional>
#include <string>
#include <string_view>

namespace promoter::daemon {

// The "file:line:col: ..." refusal of the first character that would make toml++ 3.3 reach undefined
// behaviour, or nullopt when the text is safe to hand to toml::parse.
std::optional<std::string> unsafe_for_toml(std::string_view text, std::string_view path);

}  // namespace promoter::daemon
