#include "promotectl/cli_table.hpp"

#include <algorithm>

namespace promoter::promotectl {

namespace {

void pad(std::ostream& out, std::size_t used, std::size_t width) {
  for (std::size_t i = used; i < width; ++i) out.put(' ');
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\t') {
      out.push_back(' ');
    } else if (byte < 0x20 || byte == 0x7f) {
      out.push_back('?');
    } else if (byte == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      // U+0080..U+009F: the C1 controls, which some terminals honour like ESC sequences.
      out.push_back('?');
      ++i;
    } else {
      out.push_back(static_cast<char>(byte));
    }
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  return static_cast<std::size_t>(
      std::ranges::count_if(text, [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add_row(std::vector<std::string> cells) {
  for (auto& cell : cells) cell = printable(cell);
  cells.resize(std::max(cells.size(), headers_.size()));
  rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths(headers_.size());
  for (std::size_t c = 0; c < headers_.size(); ++c) widths[c] = display_width(headers_[c]);
  for (const auto& row : rows_) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], display_width(row[c]));
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    // Trailing blank cells would only add trailing spaces.
    std::size_t last = row.size();
    while (last > 0 && row[last - 1].empty()) --last;
    for (std::size_t c = 0; c < last; ++c) {
      out << row[c];
      if (c + 1 < last) {
        pad(out, display_width(row[c]), widths[c]);
        out << "  ";
      }
    }
    out << '\n';
  };
  print_row(headers_);
  for (const auto& row : rows_) print_row(row);
}

void print_fields(std::ostream& out, std::span<const Field> fields) {
  std::size_t width = 0;
  for (const auto& [key, value] : fields) width = std::max(width, display_width(key));
  for (const auto& [key, value] : fields) {
    out << key;
    pad(out, display_width(key), width);
    out << "  " << printable(value) << '\n';
  }
}

}  // namespace promoter::promotectl
