#include "core/release.hpp"

#include "core/enum_names.hpp"

namespace promoter::core {

namespace {
constexpr EnumNames<ReleaseState, 10> names{{{
    {ReleaseState::deploying, "deploying"},
    {ReleaseState::soaking, "soaking"},
    {ReleaseState::ready, "ready"},
    {ReleaseState::promoting, "promoting"},
    {ReleaseState::promoted, "promoted"},
    {ReleaseState::promotion_failed, "promotion_failed"},
    {ReleaseState::promotion_aborted, "promotion_aborted"},
    {ReleaseState::rejected, "rejected"},
    {ReleaseState::superseded, "superseded"},
    {ReleaseState::staging_failed, "staging_failed"},
}}};
}  // namespace

std::string_view to_string(ReleaseState s) { return names.name(s, "deploying"); }

std::optional<ReleaseState> parse_release_state(std::string_view text) { return names.parse(text); }

bool is_terminal(ReleaseState s) {
  switch (s) {
    case ReleaseState::promoted:
    case ReleaseState::promotion_failed:
    case ReleaseState::promotion_aborted:
    case ReleaseState::rejected:
    case ReleaseState::superseded:
      return true;
    default:
      return false;
  }
}

bool is_gathering(ReleaseState s) {
  return s == ReleaseState::deploying || s == ReleaseState::soaking || s == ReleaseState::ready ||
         s == ReleaseState::staging_failed;
}

}  // namespace promoter::core
