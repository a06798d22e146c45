#pragma once
// Runs a fake server (FakeRailway, FakeFly, HttpReceiver) on an io_context thread of its own, so a test
// can drive a real promoterd process while the fake answers; every call to the fake runs on that thread.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <thread>

namespace promoter::testing {

template <class Fake>
class OnThread {
 public:
  // Constructs the fake with the io_context's executor followed by `args`, and starts it on a free port.
  template <class... Args>
  explicit OnThread(Args&&... args)
      : fake_(io_.get_executor(), std::forward<Args>(args)...), guard_(io_.get_executor()) {
    fake_.start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~OnThread() {
    call([this] { fake_.stop(); });
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  OnThread(const OnThread&) = delete;
  OnThread& operator=(const OnThread&) = delete;

  // Runs f() on the fake's thread and returns its result.
  template <class F>
  auto call(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto future = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return future.get();
  }
  template <class T>
  T await(boost::asio::awaitable<T> a) {
    return boost::asio::co_spawn(io_, std::move(a), boost::asio::use_future).get();
  }

  Fake& fake() { return fake_; }
  // The fake's executor: clients and steps under test may run on it too (through await()).
  boost::asio::any_io_executor executor() {
    return io_.get_executor();
  }  // only from call()/await(), or for calls the fake documents as thread-safe

 private:
  boost::asio::io_context io_;
  Fake fake_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace promoter::testing
