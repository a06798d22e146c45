#pragma once
// The one poll-until-deadline loop of the adapters: ask a probe whether something is done, and between
// asks wait on an injected clock, until the probe answers or the deadline passes.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <type_traits>

#include "adapters/monotonic_clock.hpp"

namespace promoter::adapters {

// `probe()` returns awaitable<std::optional<T>>: a value ends the polling (done, or failed: T says which),
// nullopt asks again. After each nullopt: if the clock has reached `deadline`, poll_until returns nullopt;
// otherwise it co_awaits `pause(time left)` and probes again. So the first probe is at once, and a
// deadline passed while pausing still gets one last probe.
//
// `probe` and `pause` are taken by reference: keep them as named locals of the calling coroutine.
template <class Probe, class Pause>
auto poll_until(MonotonicClock& clock, MonotonicClock::time_point deadline, Probe& probe, Pause& pause)
    -> boost::asio::awaitable<typename std::invoke_result_t<Probe&>::value_type> {
  for (;;) {
    auto found = co_await probe();
    if (found) co_return std::move(found);
    const auto now = clock.now();
    if (now >= deadline) co_return std::move(found);
    co_await pause(deadline - now);
  }
}

// The usual pause: `interval` on `clock`, on `executor`.
template <class Probe>
auto poll_until(MonotonicClock& clock, boost::asio::any_io_executor executor, MonotonicClock::time_point deadline,
                MonotonicClock::duration interval, Probe& probe)
    -> boost::asio::awaitable<typename std::invoke_result_t<Probe&>::value_type> {
  auto pause = [&clock, &executor, interval](MonotonicClock::duration) { return clock.wait(executor, interval); };
  co_return co_await poll_until(clock, deadline, probe, pause);
}

}  // namespace promoter::adapters
