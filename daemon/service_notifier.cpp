#include "daemon/service_notifier.hpp"

#include <ctime>
#include <fmt/format.h>
#include <systemd/sd-daemon.h>

#include "daemon/log.hpp"

namespace promoter::daemon {

namespace {

void send(const std::string& message) {
  // unset_environment = 0: later calls (reload, stopping, watchdog) need NOTIFY_SOCKET too. Children do not
  // inherit it: the migration runner passes only an allow-list of variables.
  if (const int r = sd_notify(0, message.c_str()); r < 0)
    log(LogLevel::warn, "cannot notify the service manager", {{"error", fmt::format("sd_notify: errno {}", -r)}});
}

// STATUS= is one line; a newline would start another assignment.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

}  // namespace

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io) : timer_(io) {}

void ServiceNotifier::ready(std::string_view status) { send("READY=1\nSTATUS=" + one_line(status)); }

void ServiceNotifier::reloading() {
  // MONOTONIC_USEC lets a Type=notify-reload manager (systemd 253+) match this to its reload request.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1'000;
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading the configuration", usec));
}

void ServiceNotifier::stopping() {
  stopped_ = true;
  timer_.cancel();
  send("STOPPING=1\nSTATUS=stopping: no new requests; running steps resume on restart");
}

void ServiceNotifier::status(std::string_view status) { send("STATUS=" + one_line(status)); }

void ServiceNotifier::start_watchdog() {
  uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or ours.
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
  interval_ = std::chrono::microseconds(usec / 2);
  log(LogLevel::info, "systemd watchdog enabled",
      {{"interval_seconds", std::chrono::duration<double>(std::chrono::microseconds(usec)).count()}});
  send("WATCHDOG=1");
  arm();
}

void ServiceNotifier::arm() {
  if (stopped_) return;
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    send("WATCHDOG=1");
    arm();
  });
}

}  // namespace promoter::daemon
