// fake_fly: FakeFly as a standalone server for the demo.
//
//   fake_fly --port N [--token T] [--app NAME:MACHINES:IMAGE ...] [--start-delay-ms N]
//            [--checks-delay-ms N] [--oneoff-run-time-ms N] [--region R] [--value-marker STR] [--state FILE]
//
// Prints `listening 127.0.0.1:PORT` as its first line, then one `machine APP ID IMAGE` line per
// machine it made. The token defaults to $FAKE_FLY_TOKEN, else "fake-fly-token"; clients send
// `Authorization: Bearer <token>` (or `FlyV1 <token>`) to http://127.0.0.1:PORT/v1. Each --app
// makes that many started machines in process group "app" with one health check "http". Exits on
// SIGTERM or SIGINT. With --value-marker, every secret value is stored as "<value>-<STR>" and the machines it
// makes carry config.env FAKE_CONFIG = "fake-config-value-<STR>", so a test can grep for STR. --state FILE keeps
// the app secrets across restarts.
//
// Admin routes (no auth, not recorded):
//   POST   /_fake/apps/{app}/secrets         {"name", "value"}  set (created_at kept, updated_at now)
//   DELETE /_fake/apps/{app}/secrets/{name}                     unset (404: none)

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "tests/fakes/fake_fly.hpp"
#include "tests/fakes/fake_main_support.hpp"

namespace asio = boost::asio;
using promoter::fakes::FakeFly;
using promoter::fakes::FakeFlyOptions;
using promoter::fakes::FakeMachineSpec;

namespace {

struct AppSpec {
  std::string name;
  int machines = 1;
  std::string image;
};

struct Config {
  unsigned short port = 0;
  std::optional<std::string> state_file;
  FakeFlyOptions fake;
  std::vector<AppSpec> apps;
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "fake_fly: " << problem << "\n"
            << "usage: fake_fly --port N [--token T] [--app NAME:MACHINES:IMAGE ...] [--start-delay-ms N]\n"
            << "         [--checks-delay-ms N] [--oneoff-run-time-ms N] [--region R] [--value-marker STR]\n"
            << "         [--state FILE]\n";
  std::exit(2);
}

long long number(const std::string& flag, const std::string& text, long long min, long long max) {
  return promoter::fakes::flag_number(flag, text, min, max, [](const std::string& problem) { usage(problem); });
}

AppSpec parse_app(const std::string& value) {
  // NAME:MACHINES:IMAGE — the image may itself hold colons (registry.fly.io/app:tag).
  const auto first = value.find(':');
  const auto second = first == std::string::npos ? std::string::npos : value.find(':', first + 1);
  if (first == std::string::npos || second == std::string::npos || first == 0 || second + 1 >= value.size()) {
    usage("--app wants NAME:MACHINES:IMAGE, not \"" + value + "\"");
  }
  AppSpec app;
  app.name = value.substr(0, first);
  app.machines = static_cast<int>(number("--app machine count", value.substr(first + 1, second - first - 1), 0, 100));
  app.image = value.substr(second + 1);
  return app;
}

Config parse_args(int argc, char** argv) {
  Config config;
  config.fake.admin_routes = true;
  if (const char* token = std::getenv("FAKE_FLY_TOKEN"); token != nullptr && *token != '\0') {
    config.fake.token = token;
  }
  config.fake.start_delay = std::chrono::milliseconds(1000);
  config.fake.checks_delay = std::chrono::milliseconds(2000);
  config.fake.oneoff_run_time = std::chrono::milliseconds(2000);
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") usage("help");
    if (i + 1 >= argc) usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--port") {
      config.port = static_cast<unsigned short>(number(flag, value, 0, 65535));
      have_port = true;
    } else if (flag == "--token") {
      config.fake.token = value;
    } else if (flag == "--app") {
      config.apps.push_back(parse_app(value));
    } else if (flag == "--start-delay-ms") {
      config.fake.start_delay = std::chrono::milliseconds(number(flag, value, 0, 600000));
    } else if (flag == "--checks-delay-ms") {
      config.fake.checks_delay = std::chrono::milliseconds(number(flag, value, 0, 600000));
    } else if (flag == "--oneoff-run-time-ms") {
      config.fake.oneoff_run_time = std::chrono::milliseconds(number(flag, value, 0, 600000));
    } else if (flag == "--region") {
      config.fake.default_region = value;
    } else if (flag == "--value-marker") {
      config.fake.value_marker = value;
    } else if (flag == "--state") {
      config.state_file = value;
    } else {
      usage("unknown flag " + flag);
    }
  }
  if (!have_port) usage("--port is required (0 picks a free port)");
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  const Config config = parse_args(argc, argv);
  asio::io_context ioc;
  FakeFly fake(ioc.get_executor(), config.fake);

  if (config.state_file && !promoter::fakes::load_state_file("fake_fly", fake, *config.state_file)) return 1;
  if (config.state_file) {
    fake.on_change(
        [&fake, path = *config.state_file] { promoter::fakes::save_state_file("fake_fly", fake.state_json(), path); });
  }

  std::vector<std::string> made;
  for (const auto& app : config.apps) {
    fake.add_app(app.name);
    for (int i = 0; i < app.machines; ++i) {
      FakeMachineSpec spec;
      spec.app = app.name;
      spec.name = app.name + "-" + std::to_string(i + 1);
      spec.image = app.image;
      spec.checks = {"http"};
      made.push_back("machine " + app.name + " " + fake.add_machine(spec) + " " + app.image);
    }
  }

  try {
    fake.start(config.port);
  } catch (const std::exception& e) {
    std::cerr << "fake_fly: cannot listen on 127.0.0.1:" << config.port << ": " << e.what() << "\n";
    return 1;
  }
  std::cout << "listening 127.0.0.1:" << fake.port() << std::endl;
  for (const auto& line : made) std::cout << line << "\n";
  std::cout.flush();

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    fake.stop();
    ioc.stop();
  });
  ioc.run();
  return 0;
}
