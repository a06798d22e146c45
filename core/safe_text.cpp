#include "core/safe_text.hpp"

#include <cstdint>
#include <fmt/format.h>

namespace promoter::core {

namespace {

// The code point at text[i] and its length in bytes; length 0 for malformed UTF-8 (overlong forms,
// surrogates and values above U+10FFFF included).
std::pair<char32_t, std::size_t> decode(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return {lead, 1};
  const std::size_t n = lead >= 0xF8 ? 0 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC2 ? 2 : 0;
  if (n == 0 || i + n > text.size()) return {0, 0};
  char32_t c = lead & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto cont = static_cast<unsigned char>(text[i + k]);
    if ((cont & 0xC0) != 0x80) return {0, 0};
    c = (c << 6) | (cont & 0x3F);
  }
  const char32_t smallest = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
  if (c < smallest || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return {0, 0};
  return {c, n};
}

// What kind of character a refused one is, for the message; nullptr when it is allowed.
const char* refused_kind(char32_t c, TextKind kind) {
  if (c < 0x20) {
    if (kind == TextKind::multi_line && (c == '\t' || c == '\n')) return nullptr;
    return "a control character";
  }
  if (c == 0x7F || (c >= 0x80 && c <= 0x9F)) return "a control character";
  if (c == 0x061C || (c >= 0x200E && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069))
    return "a bidirectional control character";
  if ((c >= 0x200B && c <= 0x200D) || (c >= 0x2060 && c <= 0x2064) || c == 0xFEFF) return "an invisible character";
  return nullptr;
}

}  // namespace

std::optional<std::string> unsafe_text(std::string_view text, TextKind kind) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto [c, n] = decode(text, i);
    if (n == 0) return fmt::format("is not valid UTF-8 at byte {}", i);
    if (const char* what = refused_kind(c, kind))
      return fmt::format("contains U+{:04X} ({}) at byte {}", static_cast<std::uint32_t>(c), what, i);
    i += n;
  }
  return std::nullopt;
}

}  // namespace promoter::core
