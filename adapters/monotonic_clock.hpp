#pragma once
// The monotonic clock the adapters' poll loops read and wait on, injected so a test can drive time.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>

namespace promoter::adapters {

class MonotonicClock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~MonotonicClock() = default;
  virtual time_point now() const = 0;
  // Resumes the caller once `d` has passed on this clock (the real clock: a steady_timer on `executor`).
  virtual boost::asio::awaitable<void> wait(boost::asio::any_io_executor executor, duration d) = 0;
};

// std::chrono::steady_clock and steady_timers: the clock every adapter uses unless given another.
MonotonicClock& real_monotonic_clock();

}  // namespace promoter::adapters
