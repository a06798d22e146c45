#pragma once
// What the harnesses do when an invariant fails: say which, then abort, so libFuzzer records the
// input as a crash (a plain `return` would let the fuzzer carry on past a bug).
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
