#include "daemon/config/toml_safety.hpp"

#include <cstddef>
#include <cstdint>
#include <fmt/format.h>

namespace promoter::daemon {

namespace {

// toml++ 3.3 (Debian 12) reaches __builtin_unreachable(), undefined behaviour, when it asks whether a
// character in U+00A1..U+0499, U+2C5E..U+3057 (but U+3000) or U+FB26..U+FEFE is whitespace (marzer/tomlplusplus#190 and
// #295, fixed upstream by #305; found by tests/fuzz/fuzz_config). It asks outside strings and comments, where such a
// character is an error anyway, and after a backslash in a """string""". unsafe_for_toml finds both
// before toml++ reads the text.
bool trips_toml_whitespace_check(char32_t c) {
  if (c < 0xA0 || c > 0xFEFF || c == 0xA0 || c == 0x3000 || c == 0xFEFF) return false;
  const auto block = (c - 0xA0) / 0x3FA;  // toml++'s generated table: blocks 0, 11 and 63 have no case
  return block == 0 || block == 11 || block == 63;
}

// The code point starting at text[i]; 0 for malformed UTF-8, which toml++ refuses on its own.
char32_t code_point_at(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return lead;
  const std::size_t n = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  char32_t c = lead & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  return c;
}

std::string refusal(std::string_view text, std::string_view path, std::size_t i, std::string_view why) {
  std::size_t line = 1, column = 1;  // columns count characters, as toml++'s do
  for (std::size_t k = 0; k < i; ++k) {
    if (text[k] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[k]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return fmt::format("{}:{}:{}: the character U+{:04X} {}", path, line, column,
                     static_cast<std::uint32_t>(code_point_at(text, i)), why);
}

}  // namespace

std::optional<std::string> unsafe_for_toml(std::string_view text, std::string_view path) {
  enum class In { code, comment, basic, literal, multiline_basic, multiline_literal } in = In::code;
  auto trips = [&](std::size_t i) {
    return static_cast<unsigned char>(text[i]) >= 0x80 && trips_toml_whitespace_check(code_point_at(text, i));
  };
  // toml++ reads a bare value (number, date, boolean) up to a value terminator, looking at every
  // character, quotes included; so a quote opens a string only where a token starts.
  std::string nesting;  // '[' per open array, '{' per open inline table
  bool value = false;   // the next token is a value, else a key
  bool bare = false;    // inside a bare key or value
  auto terminates = [&](char c) {
    if (value) return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ']' || c == '}' || c == ',' || c == '#';
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const char ch = text[i];
    switch (in) {
      case In::code:
        if (bare && !terminates(ch)) {
          if (trips(i)) return refusal(text, path, i, "is not allowed outside strings and comments");
          break;
        }
        bare = false;
        if (ch == '#') {
          in = In::comment;
        } else if (ch == '\n') {
          if (nesting.empty()) value = false;
        } else if (ch == '=') {
          value = true;
        } else if (ch == '[' || ch == '{') {
          if (value) nesting.push_back(ch);  // else '[' opens a table header: keys follow
          if (value && ch == '{') value = false;
        } else if (ch == ']' || ch == '}') {
          if (!nesting.empty()) nesting.pop_back();
          value = true;
        } else if (ch == ',') {
          value = !nesting.empty() && nesting.back() == '[';
        } else if (text.substr(i, 3) == "\"\"\"" || text.substr(i, 3) == "\'\'\'") {
          in = ch == '"' ? In::multiline_basic : In::multiline_literal;
          i += 2;
        } else if (ch == '"' || ch == '\'') {
          in = ch == '"' ? In::basic : In::literal;
        } else if (trips(i)) {
          return refusal(text, path, i, "is not allowed outside strings and comments");
        } else if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '.') {
          bare = true;
        }
        break;
      case In::comment:
        if (ch == '\n') {
          in = In::code;
          if (nesting.empty()) value = false;
        }
        break;
      case In::basic:
        if (ch == '\\')
          ++i;  // skips the escaped character
        else if (ch == '"' || ch == '\n')
          in = In::code;
        break;
      case In::literal:
        if (ch == '\'' || ch == '\n') in = In::code;
        break;
      case In::multiline_basic:
      case In::multiline_literal: {
        const std::string_view closing = in == In::multiline_basic ? "\"\"\"" : "\'\'\'";
        if (text.substr(i, 3) == closing) {
          i += 2;
          // Up to two more quotes belong to the string: """a""""" is a"".
          for (int extra = 0; extra < 2 && i + 1 < text.size() && text[i + 1] == closing[0]; ++extra) ++i;
          in = In::code;
        } else if (in == In::multiline_basic && ch == '\\') {
          // toml++ tests whether the escaped character is whitespace and, after a line-ending backslash,
          // each character up to the next that is not.
          std::size_t j = i + 1;
          while (j < text.size() && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\n')) ++j;
          if (j < text.size() && trips(j))
            return refusal(text, path, j,
                           "cannot follow a backslash in a multi-line string (toml++ 3.3 misreads it); put an ASCII "
                           "character first");
          ++i;  // skips the escaped character
        }
        break;
      }
    }
    ++i;
  }
  return std::nullopt;
}

}  // namespace promoter::daemon
