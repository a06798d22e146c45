#include "core/test_pass_rate.hpp"

#include <limits>

namespace promoter::core {

namespace {

// Wide enough for passed * 10000 and min_bp * (passed + failed) of any two long longs; __extension__ keeps
// -Wpedantic quiet about the GNU type.
__extension__ typedef __int128 wide;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `word` (lower case) at `pos` of `text`, in any case, not followed by a word character.
bool word_at(std::string_view text, std::size_t pos, std::string_view word) {
  if (text.size() - pos < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (lower(text[pos + i]) != word[i]) return false;
  return pos + word.size() == text.size() || !is_word(text[pos + word.size()]);
}

struct Found {
  std::size_t at = 0;              // where the number starts
  std::optional<long long> count;  // nullopt: it does not fit
};

// The first "<digits><spaces or tabs><word>" of `text`, the digits a whole number (not the tail of a longer
// one), or nullopt.
std::optional<Found> find_count(std::string_view text, std::string_view word) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!is_digit(text[i]) || (i > 0 && is_digit(text[i - 1]))) continue;
    std::size_t j = i;
    std::optional<long long> value = 0;
    while (j < text.size() && is_digit(text[j])) {
      const int d = text[j] - '0';
      if (value && *value > (std::numeric_limits<long long>::max() - d) / 10) value.reset();
      if (value) *value = *value * 10 + d;
      ++j;
    }
    std::size_t k = j;
    while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
    if (k > j && word_at(text, k, word)) return Found{i, value};
    i = j - 1;  // the loop's ++i moves past the number
  }
  return std::nullopt;
}

// A summary of test files, not of tests: jest's "Test Suites: 1 failed, 5 passed" and vitest's
// "Test Files  1 failed | 2 passed (3)" come before the line that counts the tests.
bool counts_files(std::string_view line) {
  const auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos) return false;
  line.remove_prefix(first);
  auto starts_with = [&](std::string_view prefix) {  // `prefix` in lower case; `line` in any case
    if (line.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
      if (lower(line[i]) != prefix[i]) return false;
    return true;
  };
  return starts_with("test suites") || starts_with("test files");
}

}  // namespace

std::optional<TestCounts> parse_test_counts(std::string_view text) {
  // The first line with "N passed" that counts tests; jest puts "M failed" before it, vitest after it.
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (counts_files(line)) continue;
    const auto passed = find_count(line, "passed");
    if (!passed) continue;
    if (!passed->count) return std::nullopt;
    TestCounts counts{*passed->count, 0};
    if (const auto failed = find_count(line, "failed")) {
      if (!failed->count) return std::nullopt;
      counts.failed = *failed->count;
    }
    return counts;
  }
  return std::nullopt;
}

bool meets_pass_rate(const TestCounts& counts, int min_bp) {
  if (counts.passed < 0 || counts.failed < 0) return false;
  const wide total = static_cast<wide>(counts.passed) + counts.failed;
  if (total == 0) return false;
  return static_cast<wide>(counts.passed) * 10000 >= static_cast<wide>(min_bp) * total;
}

}  // namespace promoter::core
