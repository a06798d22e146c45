#pragma once
// JSON from outside (/v1 request bodies, Railway webhooks), parsed strictly: an object that names a
// key twice is refused, where nlohmann::json would silently keep the last value, so a body cannot say
// one thing to a reader (or a proxy that checks the first) and another to promoterd.
#include <expected>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace promoter::adapters {

struct StrictJsonError {
  enum class Kind { malformed, duplicate_key } kind = Kind::malformed;
  // malformed: the parser's message; duplicate_key: "duplicate key 'status' in the same object".
  std::string message;
};

// Whether no object or array in `body` nests deeper than `limit` (strings are skipped, escapes honoured):
// checked before parsing, so a hostile body cannot make the parser recurse without bound.
bool json_nesting_within(std::string_view body, int limit);

// The parsed value, or why not. Never throws.
std::expected<nlohmann::json, StrictJsonError> parse_strict_json(std::string_view text);

}  // namespace promoter::adapters
