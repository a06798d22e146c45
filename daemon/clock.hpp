#pragma once
// The one place the daemon reads the wall clock; tests substitute their own.
#include "core/time.hpp"

namespace promoter::daemon {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual core::Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  core::Timestamp now() const override {
    return std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now());
  }
};

}  // namespace promoter::daemon
