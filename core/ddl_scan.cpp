#include "core/ddl_scan.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace promoter::core {

namespace {

// The lines of `text`, without their "\n" or "\r\n".
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
bool is_word(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return upper(x) == upper(y); });
}

// `*` and `?` within one segment. Greedy with one backtrack point (the last `*`): O(pattern × text), never
// exponential, because a later `*` can always absorb what an earlier one would have.
bool segment_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string_view> segments_of(std::string_view path) {
  std::vector<std::string_view> segments;
  while (true) {
    const auto slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}

// A fence as CommonMark has it: three or more backticks or tildes, closed by at least as many of the same.
struct Fence {
  char mark = '`';
  std::size_t length = 0;
};

std::optional<Fence> fence_opening(std::string_view trimmed_line) {
  if (!trimmed_line.starts_with("```") && !trimmed_line.starts_with("~~~")) return std::nullopt;
  const char mark = trimmed_line.front();
  return Fence{mark, std::min(trimmed_line.find_first_not_of(mark), trimmed_line.size())};
}

bool closes(const Fence& fence, std::string_view trimmed_line) {
  return trimmed_line.size() >= fence.length && trimmed_line.find_first_not_of(fence.mark) == std::string_view::npos;
}

constexpr std::array<std::string_view, 5> ddl_keywords{"CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME"};

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  const auto pats = segments_of(pattern);
  const auto segs = segments_of(path);
  // The same greedy walk as segment_match, one level up: `**` is the star, any other pattern segment
  // matches exactly one path segment.
  std::size_t p = 0, s = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (s < segs.size()) {
    if (p < pats.size() && pats[p] == "**") {
      star = p++;
      resume = s;
    } else if (p < pats.size() && segment_match(pats[p], segs[s])) {
      ++p;
      ++s;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      s = ++resume;
    } else {
      return false;
    }
  }
  while (p < pats.size() && pats[p] == "**") ++p;
  return p == pats.size();
}

std::vector<std::string> ddl_in_patch(std::string_view patch) {
  std::vector<std::string> found;
  for (std::string_view line : lines_of(patch)) {
    if (!line.starts_with('+') || line.starts_with("+++")) continue;
    line.remove_prefix(1);
    line = line.substr(0, line.find("--"));  // a comment to the end of the line (quotes not considered)
    std::size_t i = 0;
    while (i < line.size()) {
      if (!is_word(line[i])) {
        ++i;
        continue;
      }
      const std::size_t start = i;
      while (i < line.size() && is_word(line[i])) ++i;
      const std::string_view word = line.substr(start, i - start);
      for (std::string_view keyword : ddl_keywords)
        if (iequals(word, keyword) && std::find(found.begin(), found.end(), keyword) == found.end())
          found.emplace_back(keyword);
    }
  }
  return found;
}

bool has_rollback_section(std::string_view body, std::string_view heading) {
  const std::string_view wanted = trim(heading);
  bool in_section = false;  // after the heading, before the next heading
  std::optional<Fence> fence;
  bool fence_in_section = false;
  bool fence_has_text = false;
  for (std::string_view line : lines_of(body)) {
    const std::string_view text = trim(line);
    if (fence) {
      // Inside a code block nothing is a heading: "# revert" in a shell block is code.
      if (closes(*fence, text)) {
        if (fence_in_section && fence_has_text) return true;
        fence.reset();
      } else if (!text.empty()) {
        fence_has_text = true;
      }
      continue;
    }
    if (auto opening = fence_opening(text)) {
      fence = opening;
      fence_in_section = in_section;
      fence_has_text = false;
      continue;
    }
    if (text.starts_with('#')) in_section = !wanted.empty() && iequals(text, wanted);
  }
  return false;  // no such block; or one left open, which Markdown runs to the end and nobody meant
}

DdlFinding scan_pull(const EvidencePolicy& policy, const std::vector<PullFilePatch>& files, std::string_view body) {
  DdlFinding finding;
  for (const auto& file : files) {
    const bool migration = std::any_of(policy.migration_globs.begin(), policy.migration_globs.end(),
                                       [&](const std::string& glob) { return glob_match(glob, file.filename); });
    if (!migration) continue;
    // GitHub omits the patch of binary and very large files: it might add DDL, so it counts.
    if (!file.patch || !ddl_in_patch(*file.patch).empty()) finding.ddl_files.push_back(file.filename);
  }
  finding.rollback_section = has_rollback_section(body, policy.rollback_heading);
  return finding;
}

}  // namespace promoter::core
