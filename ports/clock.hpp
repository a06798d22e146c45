#pragma once
// Wall-clock time as the daemon sees it: adapters::SystemClock reads the system clock, tests substitute their own.
#include "core/time.hpp"

namespace promoter::ports {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual core::Timestamp now() const = 0;
};

}  // namespace promoter::ports
