// poll_until driven by a fake monotonic clock: when it probes, how long it waits between probes, and when
// it gives up. Time moves only when the fake clock is waited on (or a probe moves it), so nothing here
// depends on how fast the machine is.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "adapters/poll_until.hpp"
#include "core/error.hpp"
#include "tests/support/run_on.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using promoter::adapters::MonotonicClock;
using promoter::adapters::poll_until;

namespace {

// Starts at an arbitrary point; a wait moves it forward by exactly the time waited and yields once to the
// executor, as a timer would.
class FakeClock final : public MonotonicClock {
 public:
  time_point now() const override { return now_; }
  asio::awaitable<void> wait(asio::any_io_executor executor, duration d) override {
    waits.push_back(d);
    now_ += d;
    co_await asio::post(executor, asio::use_awaitable);
  }
  void advance(duration d) { now_ += d; }
  // Time since the start, in milliseconds.
  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now_ - start);
  }

  const time_point start = time_point(std::chrono::hours(1000));
  std::vector<duration> waits;

 private:
  time_point now_ = start;
};

struct Poller {
  FakeClock clock;
  asio::io_context ioc;
  std::vector<std::chrono::milliseconds> probed_at;  // the clock at each probe, since the start

  // Polls a probe that answers `answer` at its `done_on`th call (never if 0), `interval` apart, for `timeout`.
  std::optional<int> poll(std::chrono::milliseconds timeout, std::chrono::milliseconds interval, int done_on,
                          int answer = 7, std::chrono::milliseconds probe_takes = 0ms) {
    auto work = [&]() -> asio::awaitable<std::optional<int>> {
      auto probe = [&]() -> asio::awaitable<std::optional<int>> {
        probed_at.push_back(clock.elapsed());
        clock.advance(probe_takes);
        if (done_on > 0 && static_cast<int>(probed_at.size()) == done_on) co_return answer;
        co_return std::nullopt;
      };
      const auto deadline = clock.now() + timeout;
      co_return co_await poll_until(clock, ioc.get_executor(), deadline, interval, probe);
    };
    return promoter::testing::run_on(ioc, work());
  }
};

}  // namespace

TEST_CASE("poll_until probes at once, then once per interval, and returns the first answer") {
  Poller p;
  const auto answer = p.poll(1s, 100ms, 3);
  REQUIRE(answer);
  CHECK(*answer == 7);
  CHECK(p.probed_at == std::vector<std::chrono::milliseconds>{0ms, 100ms, 200ms});
  CHECK(p.clock.waits == std::vector<MonotonicClock::duration>{100ms, 100ms});
}

TEST_CASE("poll_until returns an answer on the first probe without waiting") {
  Poller p;
  const auto answer = p.poll(1s, 100ms, 1, 3);
  REQUIRE(answer);
  CHECK(*answer == 3);
  CHECK(p.probed_at.size() == 1);
  CHECK(p.clock.waits.empty());
}

TEST_CASE("poll_until gives up once a probe finds the deadline passed, after a last probe past it") {
  Poller p;
  // Deadline at 250 ms: probes at 0, 100, 200 are before it; the wait after 200 passes it, and the probe at
  // 300 is the last look.
  const auto answer = p.poll(250ms, 100ms, 0);
  CHECK_FALSE(answer);
  CHECK(p.probed_at == std::vector<std::chrono::milliseconds>{0ms, 100ms, 200ms, 300ms});
  CHECK(p.clock.waits.size() == 3);
}

TEST_CASE("poll_until gives up at a probe that lands exactly on the deadline, without waiting again") {
  Poller p;
  const auto answer = p.poll(200ms, 100ms, 0);
  CHECK_FALSE(answer);
  CHECK(p.probed_at == std::vector<std::chrono::milliseconds>{0ms, 100ms, 200ms});
  CHECK(p.clock.waits.size() == 2);
}

TEST_CASE("poll_until still answers when the answer comes at the last probe past the deadline") {
  Poller p;
  const auto answer = p.poll(250ms, 100ms, 4);
  REQUIRE(answer);
  CHECK(p.probed_at.back() == 300ms);
}

TEST_CASE("poll_until with a zero timeout probes exactly once") {
  Poller p;
  CHECK_FALSE(p.poll(0ms, 100ms, 0));
  CHECK(p.probed_at.size() == 1);
  CHECK(p.clock.waits.empty());
}

TEST_CASE("poll_until counts the time a slow probe takes against the deadline") {
  Poller p;
  // Each probe takes 150 ms: after the first (at 150) the deadline of 200 is still ahead, after the second
  // (at 400) it has passed.
  CHECK_FALSE(p.poll(200ms, 100ms, 0, 7, 150ms));
  CHECK(p.probed_at == std::vector<std::chrono::milliseconds>{0ms, 250ms});
  CHECK(p.clock.waits.size() == 1);
}

TEST_CASE("poll_until stops at a failure the probe reports, as at any other answer") {
  FakeClock clock;
  asio::io_context ioc;
  int probes = 0;
  auto work = [&]() -> asio::awaitable<std::optional<promoter::core::Result<int>>> {
    auto probe = [&]() -> asio::awaitable<std::optional<promoter::core::Result<int>>> {
      if (++probes < 2) co_return std::nullopt;
      co_return promoter::core::Result<int>(
          promoter::core::fail(promoter::core::ErrorCode::failed_precondition, "it crashed"));
    };
    const auto deadline = clock.now() + 10s;
    co_return co_await poll_until(clock, ioc.get_executor(), deadline, 1s, probe);
  };
  const auto answer = promoter::testing::run_on(ioc, work());
  REQUIRE(answer);
  REQUIRE_FALSE(*answer);
  CHECK(answer->error().message == "it crashed");
  CHECK(probes == 2);
  CHECK(clock.waits == std::vector<MonotonicClock::duration>{1s});
}

TEST_CASE("poll_until gives a custom pause the time left before the deadline") {
  FakeClock clock;
  asio::io_context ioc;
  std::vector<MonotonicClock::duration> lefts;
  auto work = [&]() -> asio::awaitable<std::optional<int>> {
    auto probe = [&]() -> asio::awaitable<std::optional<int>> { co_return std::nullopt; };
    // Waits half the time left each time (a long poll bounded by the deadline, say), at least 100 ms.
    auto pause = [&](MonotonicClock::duration left) -> asio::awaitable<void> {
      lefts.push_back(left);
      co_await clock.wait(ioc.get_executor(), std::max<MonotonicClock::duration>(left / 2, 100ms));
    };
    const auto deadline = clock.now() + 1s;
    co_return co_await poll_until(clock, deadline, probe, pause);
  };
  CHECK_FALSE(promoter::testing::run_on(ioc, work()));
  // Pauses of 500, 250, 125, then 100 (at 875 ms with 125 left, and at 975 with 25 left); the probe at
  // 1075 is the last.
  CHECK(lefts == std::vector<MonotonicClock::duration>{1000ms, 500ms, 250ms, 125ms, 25ms});
  CHECK(clock.elapsed() == 1075ms);
}
