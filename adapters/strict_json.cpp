#include "adapters/strict_json.hpp"

#include <set>
#include <vector>

namespace promoter::adapters {

using nlohmann::json;

namespace {

// A key for a message: at most 100 bytes, cut between characters so the message stays valid UTF-8.
std::string shortened(std::string key) {
  if (key.size() <= 100) return key;
  std::size_t cut = 100;
  while (cut > 0 && (static_cast<unsigned char>(key[cut]) & 0xC0) == 0x80) --cut;
  key.resize(cut);
  return key + "...";
}

}  // namespace

std::expected<json, StrictJsonError> parse_strict_json(std::string_view text) {
  // The keys seen so far in each object being read, innermost last.
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  const json::parser_callback_t callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!duplicate && !open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second)
          duplicate = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  try {
    json value = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true);
    if (duplicate)
      return std::unexpected(StrictJsonError{StrictJsonError::Kind::duplicate_key,
                                             "duplicate key '" + shortened(*duplicate) + "' in the same object"});
    return value;
  } catch (const json::exception& e) {
    return std::unexpected(StrictJsonError{StrictJsonError::Kind::malformed, e.what()});
  } catch (const std::exception& e) {
    return std::unexpected(StrictJsonError{StrictJsonError::Kind::malformed, e.what()});
  }
}

bool json_nesting_within(std::string_view body, int limit) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

}  // namespace promoter::adapters
