#include "core/sha.hpp"

#include <fmt/format.h>

namespace promoter::core {

Result<Sha> Sha::parse(std::string_view text) {
  if (text.size() != 40)
    return fail(ErrorCode::invalid_argument,
                fmt::format("a release SHA has 40 hex digits; got {} characters", text.size()));
  std::string hex(text);
  for (char& c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return fail(ErrorCode::invalid_argument, "a release SHA has only hex digits (0-9, a-f)");
  }
  return Sha(std::move(hex));
}

Result<std::string> Sha::parse_prefix(std::string_view text) {
  if (text.size() < min_prefix || text.size() > 40)
    return fail(ErrorCode::invalid_argument,
                fmt::format("a SHA prefix has {} to 40 hex digits; got {} characters", min_prefix, text.size()));
  std::string hex(text);
  for (char& c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return fail(ErrorCode::invalid_argument, "a SHA prefix has only hex digits (0-9, a-f)");
  }
  return hex;
}

}  // namespace promoter::core
