#pragma once
// For tests that drive a fake and a client on one io_context in the test's own thread.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>
#include <exception>
#include <optional>

namespace promoter::testing {

// Runs `work` to completion on `ioc` (in this thread) and returns its value, rethrowing its exception.
template <class T>
T run_on(boost::asio::io_context& ioc, boost::asio::awaitable<T> work) {
  std::optional<T> out;
  std::exception_ptr failure;
  bool done = false;
  ioc.restart();
  boost::asio::co_spawn(ioc, std::move(work), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) out.emplace(std::move(value));
    done = true;
  });
  while (!done && ioc.run_one() > 0) {
  }
  REQUIRE_MESSAGE(done, "the io_context ran out of work before the coroutine finished");
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

}  // namespace promoter::testing
