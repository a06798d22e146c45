#pragma once
// Runs blocking work (libpqxx, file I/O) on the blocking pool and resumes the caller on its own executor.
//
// g++ 12 destroys some temporaries twice when they are built inside a co_await expression: aggregates
// built with braces and closures with non-trivial captures (tests/unit/... cannot catch it; ASan does).
// So in coroutines, build such values (events, lambdas with string captures, awaitables from them) in a
// statement of their own and co_await a named value, as run_blocking does here.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>

namespace promoter::ports {

// A coroutine that calls f: the by-value parameter lives in the coroutine frame.
template <class R, class F>
boost::asio::awaitable<R> call_on(F f) {
  co_return f();
}

template <class Executor, class F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_blocking(Executor pool, F f) {
  using R = std::invoke_result_t<F&>;
  auto work = call_on<R>(std::move(f));
  co_return co_await boost::asio::co_spawn(pool, std::move(work), boost::asio::use_awaitable);
}

}  // namespace promoter::ports
