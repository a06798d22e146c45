// Reading "N passed, M failed" from a check's output, and the exact integer comparison with the minimum.
#include <doctest/doctest.h>

#include <limits>
#include <optional>
#include <string>

#include "core/test_pass_rate.hpp"

namespace promoter::core {
namespace {

constexpr long long max_ll = std::numeric_limits<long long>::max();

TEST_CASE("parse_test_counts reads the first 'N passed' and the 'M failed' of its line") {
  struct Case {
    std::string text;
    std::optional<TestCounts> expected;
  };
  const Case cases[] = {
      {"Tests: 412 passed, 3 failed, 415 total", TestCounts{412, 3}},             // jest, all passing first
      {"Tests:       3 failed, 412 passed, 415 total", TestCounts{412, 3}},       // jest puts failed first
      {"412 passed | 3 failed", TestCounts{412, 3}},                              // vitest-ish
      {"✓ 412 passed", TestCounts{412, 0}},                                       // no failed: 0
      {"Tests: 412 PASSED, 3 Failed", TestCounts{412, 3}},                        // any case
      {"412\tpassed,\t3  failed", TestCounts{412, 3}},                            // tabs and runs of spaces
      {"build ok\nTests: 1412 passed, 0 failed\nTime: 3s", TestCounts{1412, 0}},  // a later line
      {"Tests: 412 passed\n3 failed", TestCounts{412, 0}},                        // failed on another line
      {"3 failed\r\nTests: 412 passed", TestCounts{412, 0}},                      // ... before it too
      {"0 passed, 0 failed", TestCounts{0, 0}},                                   //
      {"10 passed, 2 failed\n20 passed, 9 failed", TestCounts{10, 2}},            // the first one
      {"9223372036854775807 passed, 9223372036854775807 failed", TestCounts{max_ll, max_ll}},
      {"", std::nullopt},
      {"all tests passed", std::nullopt},
      {"passed: 412", std::nullopt},
      {"412passed", std::nullopt},    // a number and a word, not one token
      {"412 passedx", std::nullopt},  // not the word passed
      {"3 failed", std::nullopt},
      {"9223372036854775808 passed", std::nullopt},                 // does not fit: never wrapped
      {"99999999999999999999999 passed, 1 failed", std::nullopt},   //
      {"412 passed, 99999999999999999999999 failed", std::nullopt}  // a failed count that does not fit
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto got = parse_test_counts(c.text);
    REQUIRE(got.has_value() == c.expected.has_value());
    if (got) {
      CHECK(got->passed == c.expected->passed);
      CHECK(got->failed == c.expected->failed);
    }
  }
}

TEST_CASE("meets_pass_rate compares exactly in integers: 949/1000 misses 95%, 950/1000 meets it, no tests never") {
  struct Case {
    TestCounts counts;
    int min_bp;
    bool meets;
  };
  const Case cases[] = {
      {{949, 51}, 9500, false},
      {{950, 50}, 9500, true},
      {{9499, 501}, 9500, false},
      {{9500, 500}, 9500, true},
      {{1000, 0}, 9500, true},
      {{0, 0}, 9500, false},  // no tests ran: nothing passed
      {{0, 0}, 0, false},     // ... whatever the minimum
      {{0, 5}, 0, true},
      {{1, 0}, 10000, true},
      {{9999, 1}, 10000, false},
      {{max_ll, 0}, 10000, true},  // no overflow at the extremes
      {{max_ll, max_ll}, 5000, true},
      {{max_ll, max_ll}, 5001, false},
      {{max_ll - 1, max_ll}, 5000, false},
      {{5, -1}, 5000, false},  // nonsense counts never pass
  };
  for (const auto& c : cases) {
    CAPTURE(c.counts.passed);
    CAPTURE(c.counts.failed);
    CAPTURE(c.min_bp);
    CHECK(meets_pass_rate(c.counts, c.min_bp) == c.meets);
  }
}

}  // namespace
}  // namespace promoter::core

TEST_CASE("the pass count is read from the line that counts tests, not test files") {
  using promoter::core::parse_test_counts;
  using promoter::core::TestCounts;
  // vitest: the files line comes first.
  CHECK(parse_test_counts(" Test Files  1 failed | 2 passed (3)\n      Tests  3 failed | 412 passed (415)\n") ==
        TestCounts{412, 3});
  // jest: so does the suites line.
  CHECK(parse_test_counts("Test Suites: 1 failed, 5 passed, 6 total\nTests:       3 failed, 412 passed, 415 total\n") ==
        TestCounts{412, 3});
  // Only a files line: no count of tests at all.
  CHECK_FALSE(parse_test_counts("Test Files  2 passed (2)\n").has_value());
}
