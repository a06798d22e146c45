// Release SHAs: exactly 40 hex digits, stored lower case.
#include <doctest/doctest.h>

#include <cctype>
#include <string>

#include "core/sha.hpp"

namespace promoter::core {
namespace {

TEST_CASE("Sha::parse keeps a 40-hex SHA and abbreviates it to 12 digits") {
  const std::string text = "0123456789abcdef0123456789abcdef01234567";
  auto sha = Sha::parse(text);
  REQUIRE(sha.has_value());
  CHECK(sha->str() == text);
  CHECK(sha->abbrev() == "0123456789ab");
}

TEST_CASE("Sha::parse folds upper case so the same commit compares equal however it was written") {
  auto upper = Sha::parse("0123456789ABCDEF0123456789ABCDEF01234567");
  auto lower = Sha::parse("0123456789abcdef0123456789abcdef01234567");
  REQUIRE(upper.has_value());
  REQUIRE(lower.has_value());
  CHECK(upper->str() == "0123456789abcdef0123456789abcdef01234567");
  CHECK(*upper == *lower);
}

TEST_CASE("Sha ordering follows the hex text") {
  auto a = Sha::parse(std::string(40, 'a'));
  auto b = Sha::parse(std::string(39, 'a') + "b");
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(*a < *b);
  CHECK(*a != *b);
}

TEST_CASE("Sha::parse rejects a wrong length and says how many characters it got") {
  for (std::size_t n : {0u, 7u, 12u, 39u, 41u, 64u}) {
    CAPTURE(n);
    auto sha = Sha::parse(std::string(n, 'a'));
    REQUIRE_FALSE(sha.has_value());
    CHECK(sha.error().code == ErrorCode::invalid_argument);
    CHECK(sha.error().message == "a release SHA has 40 hex digits; got " + std::to_string(n) + " characters");
  }
}

TEST_CASE("Sha::parse rejects non-hex characters") {
  for (char c : {'g', 'G', 'z', ' ', '-', 'x', '\0'}) {
    std::string text(40, '0');
    text[17] = c;
    CAPTURE(static_cast<int>(c));
    auto sha = Sha::parse(text);
    REQUIRE_FALSE(sha.has_value());
    CHECK(sha.error().code == ErrorCode::invalid_argument);
    CHECK(sha.error().message == "a release SHA has only hex digits (0-9, a-f)");
  }
}

TEST_CASE("Sha::parse_prefix takes 4 to 40 hex digits, as git does, and folds them to lower case") {
  for (std::string text : {"abcd", "ABCD12", "0123456789abcdef0123456789abcdef01234567"}) {
    CAPTURE(text);
    auto prefix = Sha::parse_prefix(text);
    REQUIRE(prefix.has_value());
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(*prefix == text);
  }
}

TEST_CASE("Sha::parse_prefix refuses too short, too long and non-hex text and says which") {
  for (std::size_t n : {0u, 1u, 3u, 41u}) {
    CAPTURE(n);
    auto prefix = Sha::parse_prefix(std::string(n, 'a'));
    REQUIRE_FALSE(prefix.has_value());
    CHECK(prefix.error().code == ErrorCode::invalid_argument);
    CHECK(prefix.error().message == "a SHA prefix has 4 to 40 hex digits; got " + std::to_string(n) + " characters");
  }
  for (std::string_view text : {"abcg", "ab%d", "abc_", "abcd'--"}) {
    CAPTURE(text);
    auto prefix = Sha::parse_prefix(text);
    REQUIRE_FALSE(prefix.has_value());
    CHECK(prefix.error().message == "a SHA prefix has only hex digits (0-9, a-f)");
  }
}

}  // namespace
}  // namespace promoter::core
