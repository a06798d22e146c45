#include "core/flag_scan.hpp"

#include <algorithm>
#include <optional>

#include "core/ddl_scan.hpp"

namespace promoter::core {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_key_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' ||
         c == ':' || c == '-';
}
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

void skip_spaces(std::string_view& s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
}

// Consumes `word` (compared without case) from the front of `s`.
bool eat(std::string_view& s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (lower(s[i]) != word[i]) return false;
  s.remove_prefix(word.size());
  return true;
}

// The key a "Flag: key" line names; nullopt for any other line.
std::optional<std::string_view> key_on(std::string_view line) {
  if (line.ends_with('\r')) line.remove_suffix(1);
  skip_spaces(line);
  if (line.starts_with('-') || line.starts_with('*')) {
    line.remove_prefix(1);
    skip_spaces(line);
  }
  if (eat(line, "feature")) {
    if (line.empty() || !is_space(line.front())) return std::nullopt;
    skip_spaces(line);
  }
  if (!eat(line, "flag")) return std::nullopt;
  skip_spaces(line);
  if (!eat(line, ":")) return std::nullopt;
  skip_spaces(line);
  const bool quoted = line.starts_with('`');
  if (quoted) line.remove_prefix(1);
  const auto end = static_cast<std::size_t>(std::find_if_not(line.begin(), line.end(), is_key_char) - line.begin());
  if (end == 0) return std::nullopt;
  const std::string_view key = line.substr(0, end);
  std::string_view rest = line.substr(end);
  if (quoted) {
    if (!rest.starts_with('`')) return std::nullopt;
    rest.remove_prefix(1);
  }
  // "Flag: billing_v2 (the new checkout)" names billing_v2; "Flag: billing_v2!" names nothing.
  if (!rest.empty() && !is_space(rest.front())) return std::nullopt;
  return key;
}

}  // namespace

std::vector<std::string> flag_keys_in(std::string_view body) {
  std::vector<std::string> keys;
  while (!body.empty()) {
    const auto nl = body.find('\n');
    if (auto key = key_on(body.substr(0, nl)); key && std::find(keys.begin(), keys.end(), *key) == keys.end())
      keys.emplace_back(*key);
    if (nl == std::string_view::npos) break;
    body.remove_prefix(nl + 1);
  }
  return keys;
}

FlagFinding scan_flags(const FlagPolicy& policy, const std::vector<PullFilePatch>& files, std::string_view body) {
  FlagFinding finding;
  for (const auto& file : files)
    if (std::any_of(policy.guarded_globs.begin(), policy.guarded_globs.end(),
                    [&](const std::string& glob) { return glob_match(glob, file.filename); }))
      finding.guarded_files.push_back(file.filename);
  if (!finding.guarded_files.empty()) finding.keys = flag_keys_in(body);
  return finding;
}

}  // namespace promoter::core
