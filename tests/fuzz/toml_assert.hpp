#pragma once
// Force-included in every fuzz translation unit (toml++ is compiled in, assertions on).
//
// toml++ 3.3's parser calls some of its own functions on a character their precondition assertion
// excludes, and past the assertion the callee reports the proper parse error:
//  - parse_table_header() hands parse_key() a character that cannot start a key ("[#", "[[=", "[\0");
//    parse_key() says "expected bare key starting character or string delimiter" (fixed upstream in
//    marzer/tomlplusplus#301);
//  - parse_array() hands parse_value() a value terminator ("k=[}"); parse_value() says "could not
//    determine value type".
// The shipped daemon never asserts: Debian's library is built by g++ with NDEBUG, and g++ 12 has no
// __builtin_assume, so these errors are what promoterd reports (with file:line:col). This tolerates
// exactly these preconditions; every other toml++ assertion still aborts the fuzzer, and ASan/UBSan
// still watch what follows.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace promoter_fuzz {

inline void toml_assert(bool holds, const char* expression, const char* file, int line) {
  if (holds) return;
  for (const char* known : {"is_bare_key_character(*cp) || is_string_delimiter(*cp)", "!is_value_terminator(*cp)"})
    if (std::strcmp(expression, known) == 0) return;
  std::fprintf(stderr, "%s:%d: toml++ assertion failed: %s\n", file, line, expression);
  std::abort();
}

}  // namespace promoter_fuzz

#define TOML_ASSERT(expression) \
  ::promoter_fuzz::toml_assert(static_cast<bool>(expression), #expression, __FILE__, __LINE__)
