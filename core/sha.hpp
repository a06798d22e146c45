#pragma once
// A release is named by the full commit SHA; a strong type keeps it from mixing with other strings.
#include <compare>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace promoter::core {

class Sha {
 public:
  // Accepts exactly 40 hex digits, either case; stores lower case.
  static Result<Sha> parse(std::string_view);
  // A leading part of a SHA as operators type it (as git does): min_prefix to 40 hex digits, either case;
  // returns it in lower case.
  static constexpr std::size_t min_prefix = 4;
  static Result<std::string> parse_prefix(std::string_view);
  const std::string& str() const { return hex_; }
  std::string_view abbrev() const { return std::string_view(hex_).substr(0, 12); }
  auto operator<=>(const Sha&) const = default;

 private:
  explicit Sha(std::string hex) : hex_(std::move(hex)) {}
  std::string hex_;
};

}  // namespace promoter::core
