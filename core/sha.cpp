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

}  // namespace promoter::core
