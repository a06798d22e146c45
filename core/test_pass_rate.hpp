#pragma once
// The `pnpm test` pass rate, read from a check's output: "412 passed, 3 failed".
#include <optional>
#include <string_view>

namespace promoter::core {

struct TestCounts {
  long long passed = 0;
  long long failed = 0;
  auto operator<=>(const TestCounts&) const = default;
};

// The first "N passed" in the text, with "M failed" of the same line (0 when absent); nullopt without a
// "N passed". Counts that do not fit are nullopt, never wrapped.
std::optional<TestCounts> parse_test_counts(std::string_view text);
// passed / (passed + failed) >= min_bp / 10000, exactly (integers, no floating point). No tests: false.
bool meets_pass_rate(const TestCounts&, int min_bp);

}  // namespace promoter::core
