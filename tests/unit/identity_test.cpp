// Identities compared as people read them, and names refused when they imitate another name.
#include <doctest/doctest.h>

#include <string>

#include "core/identity.hpp"
#include "core/safe_text.hpp"

namespace promoter::core {
namespace {

TEST_CASE("spellings of one name normalise to one form: case, surrounding space, compatibility forms") {
  for (const std::string spelling : {"bob", "Bob", "BOB", "bob ", " bob", "\tbob\u00a0", "\uff42\uff4f\uff42"}) {
    INFO(spelling);
    CHECK(normalise_identity(spelling) == "bob");
    CHECK(same_identity(spelling, "bob"));
  }
  CHECK(normalise_identity("Stra\u00dfe") == "strasse");  // case folding, not lower-casing
  CHECK_FALSE(same_identity("bob", "rob"));
  CHECK_FALSE(same_identity("", "bob"));
}

TEST_CASE("a Cyrillic look-alike of a Latin name is the same identity for the self-approval rule") {
  CHECK(same_identity("b\u043eb", "bob"));  // Cyrillic о
  CHECK(same_identity("B\u043eB", "bob"));
}

TEST_CASE("names mixing Latin with Cyrillic are refused and say why") {
  auto r = check_identity_spelling("b\u043eb");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::invalid_argument);
  CHECK(r.error().message.find("mixes scripts") != std::string::npos);
}

TEST_CASE("names with invisible or bidirectional characters are refused and name the character") {
  const std::pair<std::string, std::string> cases[] = {
      {"bob\u200b", "U+200B (an invisible character)"},
      {"\u202ebob", "U+202E (a bidirectional control character)"},
      {"b\u2066ob", "U+2066 (a bidirectional control character)"},
      {"bob\u200f", "U+200F (a bidirectional control character)"},
      {std::string("b\0b", 3), "U+0000 (a control character)"},
  };
  for (const auto& [name, why] : cases) {
    INFO(name);
    auto r = check_identity_spelling(name);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find(why) != std::string::npos);
  }
}

TEST_CASE("ordinary names in one script, with digits and punctuation, are accepted") {
  for (const std::string name : {"bob", "Bob Smith", "alice@example.com", "alice-gh", "Jos\u00e9 Mu\u00f1oz",
                                 "\u0418\u0432\u0430\u043d", "\u5c71\u7530\u592a\u90ce", "dependabot[bot]"}) {
    INFO(name);
    CHECK(check_identity_spelling(name).has_value());
  }
}

TEST_CASE("unsafe_text: control characters are refused in single-line text; tab and line feed pass in multi-line") {
  CHECK_FALSE(unsafe_text("plain text, with punctuation: ok!", TextKind::single_line));
  const std::string nul("a\0b", 3);
  CHECK(*unsafe_text(nul, TextKind::single_line) == "contains U+0000 (a control character) at byte 1");
  CHECK(*unsafe_text(nul, TextKind::multi_line) == "contains U+0000 (a control character) at byte 1");
  CHECK(*unsafe_text("a\nb", TextKind::single_line) == "contains U+000A (a control character) at byte 1");
  CHECK_FALSE(unsafe_text("line one\n\tline two", TextKind::multi_line));
  CHECK(*unsafe_text("a\rb", TextKind::multi_line) == "contains U+000D (a control character) at byte 1");
  CHECK(*unsafe_text("a\x7f", TextKind::multi_line) == "contains U+007F (a control character) at byte 1");
  CHECK(*unsafe_text("a\u0085", TextKind::multi_line) == "contains U+0085 (a control character) at byte 1");
  CHECK(*unsafe_text("ok \u202e", TextKind::multi_line) ==
        "contains U+202E (a bidirectional control character) at byte 3");
  CHECK(*unsafe_text("\ufeffx", TextKind::single_line) == "contains U+FEFF (an invisible character) at byte 0");
  CHECK(*unsafe_text("a\xc0\xafz", TextKind::single_line) == "is not valid UTF-8 at byte 1");     // overlong '/'
  CHECK(*unsafe_text("a\xed\xa0\x80", TextKind::single_line) == "is not valid UTF-8 at byte 1");  // a surrogate
  CHECK_FALSE(unsafe_text("caf\u00e9 \u5c71 \U0001F680", TextKind::single_line));
}

}  // namespace
}  // namespace promoter::core
