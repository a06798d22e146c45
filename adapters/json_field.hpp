#pragma once
// Reading the JSON answers of provider APIs (Railway, Fly) without throwing.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "adapters/adapter_error.hpp"

namespace promoter::adapters {

// object[key] when it is a string; nullopt when absent, null, another type, or `object` is not an object.
inline std::optional<std::string> string_field(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// An answer we cannot understand.
inline AdapterError protocol_error(std::string message) {
  return AdapterError{AdapterError::Kind::protocol, 0, std::move(message)};
}

}  // namespace promoter::adapters
