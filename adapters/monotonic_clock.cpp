#include "adapters/monotonic_clock.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace promoter::adapters {

namespace {

class SteadyClock final : public MonotonicClock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }

  boost::asio::awaitable<void> wait(boost::asio::any_io_executor executor, duration d) override {
    boost::asio::steady_timer timer(executor, d);
    co_await timer.async_wait(boost::asio::use_awaitable);
  }
};

}  // namespace

MonotonicClock& real_monotonic_clock() {
  static SteadyClock clock;
  return clock;
}

}  // namespace promoter::adapters
