#pragma once
// Tells the service manager (systemd, Type=notify) how promoterd is doing: ready, reloading, stopping,
// and a watchdog heartbeat. Without NOTIFY_SOCKET in the environment every call is a no-op.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <string_view>

namespace promoter::daemon {

class ServiceNotifier {
 public:
  explicit ServiceNotifier(boost::asio::io_context& io);

  void ready(std::string_view status);   // READY=1 with a STATUS= line
  void reloading();                      // RELOADING=1; follow with ready() or status()
  void stopping();                       // STOPPING=1; also ends the watchdog heartbeat
  void status(std::string_view status);  // STATUS= only

  // When the manager asked for a watchdog (WATCHDOG_USEC), pings WATCHDOG=1 at half its interval from a
  // timer on the io thread: a wedged io thread stops the pings and the manager restarts us. Io thread only.
  void start_watchdog();

 private:
  void arm();

  boost::asio::steady_timer timer_;
  std::chrono::microseconds interval_{0};
  bool stopped_ = false;
};

}  // namespace promoter::daemon
