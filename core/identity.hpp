#pragma once
// Identities as people write them: an operator's name, a git commit author, a configured git login.
// Two spellings of one person (Bob, " bob", BOB, fullwidth ｂｏｂ) must compare equal, or the author
// could approve their own release by spelling their name differently (safety rule 5).
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace promoter::core {

// The form identities are compared in: Unicode NFKC with case folding (ICU's NFKC_Casefold, which
// also drops default-ignorable characters such as U+200B), then leading and trailing white space
// trimmed. Malformed UTF-8 is compared as U+FFFD.
std::string normalise_identity(std::string_view name);

// Whether two spellings name the same person: equal normalised forms, or forms a reader cannot tell
// apart (ICU's confusable skeletons: Latin "bob" and "bоb" with a Cyrillic о). Errs towards "same":
// it decides who may not approve. A name that normalises to nothing is nobody's.
bool same_identity(std::string_view a, std::string_view b);

// Refuses a name that mixes scripts in a way that imitates another name (Latin with Cyrillic or Greek;
// ICU's moderately restrictive level, which still allows e.g. Latin with Han), or that carries a
// character unsafe_text refuses. invalid_argument, with the reason.
Result<void> check_identity_spelling(std::string_view name);

}  // namespace promoter::core
