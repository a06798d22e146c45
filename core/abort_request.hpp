#pragma once
// An operator's request that a running promotion stop before its next step that could change production.
#include <string>

#include "core/time.hpp"

namespace promoter::core {

struct AbortRequest {
  std::string by;
  Timestamp at{};
  std::string reason;
};

}  // namespace promoter::core
