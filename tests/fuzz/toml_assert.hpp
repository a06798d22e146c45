#pragma once
// Force-included in every fuzz translation unit, where toml++ is compiled in (header-only).
//
// The fuzz harness turns toml++'s assertions off, as in the library the daemon links: Debian's
// libtomlplusplus is built by g++ with NDEBUG, where TOML_ASSERT is a no-op and TOML_ASSERT_ASSUME is too
// (g++ 12 has no __builtin_assume). toml++ 3.3's parser breaks some of its own preconditions on malformed
// text, and past each the callee reports the proper parse error, which is what promoterd answers:
//  - "[#", "[[=", "[\0": parse_key() on a character that cannot start a key (marzer/tomlplusplus#301);
//  - "k=[}": parse_value() on a value terminator;
//  - "sv= 1979-05-27T'''07:32": parse_time() on a character that is not a digit.
// (Defining NDEBUG instead would make clang turn those preconditions into __builtin_assume, i.e.
// undefined behaviour.) ASan and UBSan still watch everything toml++ does, including its
// __builtin_unreachable() calls. The inputs are kept as tests/fuzz/corpus/fuzz_config/regression-*.
#define TOML_ASSERT(expression) static_assert(true)
