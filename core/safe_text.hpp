#pragma once
// Which characters text may carry when people will read it later (promotectl tables, the audit trail,
// chat notices). A control character, an invisible one or a bidirectional override can make a name
// or a reason display as something it is not, and NUL is silently cut off by PostgreSQL; so such text
// is refused when it arrives, with the character and why.
#include <optional>
#include <string>
#include <string_view>

namespace promoter::core {

enum class TextKind {
  single_line,  // names, ids, URLs: no control character at all
  multi_line,   // free text (a reason, smoke details): tab and line feed allowed, no other control
};

// Why `text` may not be shown as it is, e.g. "contains U+202E (a bidirectional control character) at
// byte 4"; nullopt when it may. Refused: C0 controls U+0000..U+001F (but tab and line feed in
// multi-line text), DEL, C1 controls U+0080..U+009F, the invisible and bidirectional formatting
// characters U+061C, U+200B..U+200F, U+202A..U+202E, U+2060..U+2064, U+2066..U+2069 and U+FEFF, and
// malformed UTF-8.
std::optional<std::string> unsafe_text(std::string_view text, TextKind kind);

}  // namespace promoter::core
