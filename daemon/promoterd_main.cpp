// promoterd: tracks staging releases, enforces the change-management gates, runs production promotions.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/signal_set.hpp>
#include <cstdlib>
#include <fmt/format.h>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <atomic>
#include <mutex>

#ifndef PROMOTER_GIT_COMMIT
#define PROMOTER_GIT_COMMIT "unknown"
#endif

#include "adapters/system_clock.hpp"
#include "daemon/app.hpp"
#include "daemon/config/config.hpp"
#include "daemon/log.hpp"

namespace {

constexpr std::string_view usage =
    "usage: promoterd --config FILE [--check | --list-routes]\n"
    "  --config FILE  the TOML configuration (see conf/promoter.toml)\n"
    "  --check        validate the configuration and exit: 0 valid, 2 invalid\n"
    "  --list-routes  print the HTTP routes this configuration serves (METHOD pattern) and exit\n"
    "signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the configuration and tokens\n";

std::optional<std::string> env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace promoter;
  std::string config_path;
  bool check = false;
  bool list_routes = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "--check") {
      check = true;
    } else if (arg == "--list-routes") {
      list_routes = true;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    } else if (arg == "--version") {
      std::cout << "promoterd " << PROMOTER_VERSION << " (commit " << PROMOTER_GIT_COMMIT << ")\n";
      return 0;
    } else {
      std::cerr << "promoterd: unknown argument '" << arg << "'\n" << usage;
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << "promoterd: --config FILE is required\n" << usage;
    return 2;
  }
  auto config = daemon::load_config(config_path);
  if (!config) {
    std::cerr << config.error() << "\n";
    return 2;
  }
  // Warnings never stop the daemon: they name settings that are valid but likely not meant.
  for (const auto& warning : config->warnings) {
    if (check)
      std::cerr << warning << "\n";
    else
      daemon::log(daemon::LogLevel::warn, "configuration warning", {{"warning", warning}});
  }
  if (check) {
    std::cout << fmt::format("{}: ok ({} services, soak {}{})\n", config_path, config->services.size(),
                             core::format_duration(config->policy.soak),
                             config->policy.short_soak() ? ", SHORT SOAK MODE: demos and tests only" : "");
    return 0;
  }
  auto secrets = daemon::read_secrets(*config, env);
  if (!secrets) {
    std::cerr << secrets.error() << "\n";
    return 2;
  }

  adapters::SystemClock clock;
  // Blocked signals are queued for the set from here on: a SIGHUP or SIGTERM during start-up is handled
  // once the daemon runs, instead of killing it by the default action.
  boost::asio::io_context signals_io;
  boost::asio::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);
  if (list_routes) {
    // Builds the router exactly as the daemon does, without touching the database or the network.
    daemon::App app(*config, std::move(*secrets), clock);
    for (const auto& [method, pattern] : app.routes()) std::cout << method << " " << pattern << "\n";
    return 0;
  }
  // An App that loses the lead stops like a crashed daemon; a fresh one then stands by on the same
  // listening socket (kept open, so clients queue instead of being refused). See daemon/leadership.hpp.
  int inherited_socket = -1;
  // The App being prepared or run; the signal thread reaches it under current_mutex, so main() never
  // destroys an App while a signal is being delivered to it.
  std::mutex current_mutex;
  daemon::App* current = nullptr;
  std::atomic<int> terminate{0};  // the signal that asked to stop; 0: none
  auto set_current = [&](daemon::App* app) {
    std::lock_guard lock(current_mutex);
    current = app;
  };
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec,
                                                                             int signal) {
    if (ec) return;
    std::lock_guard lock(current_mutex);
    if (signal == SIGHUP) {
      if (current) current->reload(env);
      signals.async_wait(on_signal);
      return;
    }
    terminate = signal;
    if (current) current->stop();
  };
  signals.async_wait(on_signal);
  // Signals are waited for on a thread of their own so that stop() runs whatever the io thread is doing.
  std::thread signal_thread([&] { signals_io.run(); });
  auto finish = [&](int code) {
    signals.cancel();
    signals_io.stop();
    signal_thread.join();
    return code;
  };
  daemon::ProcessTotals totals;
  for (;;) {
    daemon::App app(*config, *secrets, clock, totals);
    set_current(&app);          // from here a SIGTERM stops it, also while prepare() waits for the database
    if (terminate) app.stop();  // the signal came while this App was being built
    if (auto ready = app.prepare(std::chrono::seconds(30), inherited_socket); !ready) {
      set_current(nullptr);
      // Only a stop that ended the wait itself is a clean stop; any other failure is reported as one.
      if (const int signal = terminate.load(); signal && ready.error().code == core::ErrorCode::aborted) {
        daemon::log(daemon::LogLevel::info, "promoterd stopped",
                    {{"reason", "stop requested while waiting for the database"},
                     {"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
        finish(0);
        return 0;
      }
      daemon::log(daemon::LogLevel::error, "cannot start",
                  {{"error", ready.error().message}, {"detail", ready.error().detail}});
      return finish(1);
    }
    app.run();
    set_current(nullptr);
    totals = app.totals();
    if (!app.deposed() || terminate) break;
    inherited_socket = app.take_listen_socket();
    if (inherited_socket < 0) {
      daemon::log(daemon::LogLevel::error, "cannot keep the listening socket to stand by; exiting");
      return finish(1);
    }
  }
  finish(0);
  daemon::log(daemon::LogLevel::info, "promoterd stopped");
  return 0;
}
