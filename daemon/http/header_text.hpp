#pragma once
// Pieces of HTTP header values as RFC 9110 spells them: ASCII case-insensitive names and tokens, optional white
// space (space and tab) around items, comma- or semicolon-separated lists. One copy for the server, the token
// check and the console, which all read headers.
#include <string>
#include <string_view>
#include <vector>

namespace promoter::daemon {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// Without the spaces and tabs around it.
inline std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The items of a list ("a, b;q=0, c" by ','; a Cookie header by ';'), each trimmed; empty items are left out.
inline std::vector<std::string_view> header_list(std::string_view header, char separator) {
  std::vector<std::string_view> items;
  while (!header.empty()) {
    const auto at = header.find(separator);
    const auto item = trim_ows(header.substr(0, at));
    if (!item.empty()) items.push_back(item);
    if (at == std::string_view::npos) break;
    header.remove_prefix(at + 1);
  }
  return items;
}

}  // namespace promoter::daemon
