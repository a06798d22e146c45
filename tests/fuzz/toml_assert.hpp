#pragma once
// Force-included in every fuzz translation unit (toml++ is compiled in, assertions on).
//
// toml++ 3.3's parse_table_header() hands parse_key() a character that cannot start a key ("[#",
// "[[=", "[\0"), so parse_key()'s precondition assertion fires; past it, parse_key() reports the proper
// parse error ("expected bare key starting character or string delimiter"). Fixed upstream in
// marzer/tomlplusplus#301. The shipped daemon never asserts: Debian's library is built with NDEBUG by
// g++, which has no __builtin_assume, so that error is what promoterd reports (with file:line:col).
// This tolerates exactly that precondition; every other toml++ assertion still aborts the fuzzer.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace promoter_fuzz {

inline void toml_assert(bool holds, const char* expression, const char* file, int line) {
  if (holds || std::strcmp(expression, "is_bare_key_character(*cp) || is_string_delimiter(*cp)") == 0) return;
  std::fprintf(stderr, "%s:%d: toml++ assertion failed: %s\n", file, line, expression);
  std::abort();
}

}  // namespace promoter_fuzz

#define TOML_ASSERT(expression) \
  ::promoter_fuzz::toml_assert(static_cast<bool>(expression), #expression, __FILE__, __LINE__)
