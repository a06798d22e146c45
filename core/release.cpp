#include "core/release.hpp"

#include <array>
#include <utility>

namespace promoter::core {

namespace {
constexpr std::array<std::pair<ReleaseState, std::string_view>, 9> names{{
    {ReleaseState::deploying, "deploying"},
    {ReleaseState::soaking, "soaking"},
    {ReleaseState::ready, "ready"},
    {ReleaseState::promoting, "promoting"},
    {ReleaseState::promoted, "promoted"},
    {ReleaseState::promotion_failed, "promotion_failed"},
    {ReleaseState::rejected, "rejected"},
    {ReleaseState::superseded, "superseded"},
    {ReleaseState::staging_failed, "staging_failed"},
}};
}  // namespace

std::string_view to_string(ReleaseState s) {
  for (auto [state, name] : names)
    if (state == s) return name;
  return "deploying";
}

std::optional<ReleaseState> parse_release_state(std::string_view text) {
  for (auto [state, name] : names)
    if (name == text) return state;
  return std::nullopt;
}

bool is_terminal(ReleaseState s) {
  switch (s) {
    case ReleaseState::promoted:
    case ReleaseState::promotion_failed:
    case ReleaseState::rejected:
    case ReleaseState::superseded: return true;
    default: return false;
  }
}

}  // namespace promoter::core
