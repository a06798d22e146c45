#pragma once
// Plain-text output for promotectl: aligned tables and "key  value" blocks a person can scan.
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promoter::promotectl {

// Columns are padded to their widest cell and set two spaces apart; the last column is not padded,
// so long free text (reasons, details) does not push trailing blanks.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  // A row shorter than the header is padded with blank cells.
  void add_row(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

using Field = std::pair<std::string, std::string>;

// One "key  value" line per field, values aligned.
void print_fields(std::ostream& out, std::span<const Field> fields);

// Text from the server may carry newlines or terminal escape sequences; neither may break a table or
// reach the terminal, so control characters become '?' (a tab becomes a space).
std::string printable(std::string_view text);

// Columns in a terminal, counting a UTF-8 sequence as one (good enough for names and reasons).
std::size_t display_width(std::string_view text);

}  // namespace promoter::promotectl
