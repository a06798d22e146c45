#pragma once
// The one place the daemon reads the wall clock; tests substitute their own ports::Clock.
#include <chrono>

#include "ports/clock.hpp"

namespace promoter::adapters {

class SystemClock final : public ports::Clock {
 public:
  core::Timestamp now() const override {
    return std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now());
  }
};

}  // namespace promoter::adapters
