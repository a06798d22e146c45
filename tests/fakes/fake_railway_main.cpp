// fake_railway: FakeRailway as a standalone server for the demo.
//
//   fake_railway --port N [--state FILE] [--token T] [--token-kind account|project]
//                [--deploy-reads N] [--deploy-final-status STATUS] [--value-marker STR]
//                [--simulate-merges SECONDS --project ID --environment ID
//                 --services api:svc-api,worker:svc-worker,www:svc-www
//                 [--environment-name staging] [--webhook-url URL] [--webhook-shape current|legacy]
//                 [--crash-every N] [--seed N]]
//
// Prints `listening 127.0.0.1:PORT` as its first line. The token defaults to $FAKE_RAILWAY_TOKEN,
// else "fake-railway-token". With --simulate-merges, every SECONDS a new random commit is deployed
// to the given services (BUILDING -> DEPLOYING -> SUCCESS, webhooks sent to --webhook-url).
// Every variable value is stored as "<value>-<STR>" with --value-marker, so a test can grep for STR.
//
// Admin routes (no auth, not counted):
//   POST   /_fake/variables    {"environment_id", "service_id": string|null, "name", "value", "sealed"?}  upsert
//   DELETE /_fake/variables    {"environment_id", "service_id": string|null, "name"}   remove (404: none)
//   GET    /_fake/value-reads  {"value_reads": N}  requests of the root variables(...) query, which answers values

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fakes/fake_railway.hpp"
#include "tests/fakes/fake_main_support.hpp"

namespace asio = boost::asio;
using promoter::fakes::FakeDeploymentSpec;
using promoter::fakes::FakeRailway;
using promoter::fakes::FakeRailwayOptions;
using promoter::fakes::WebhookShape;

namespace {

struct Service {
  std::string name;
  std::string id;
};

struct Config {
  unsigned short port = 0;
  std::optional<std::string> state_file;
  FakeRailwayOptions fake;
  std::optional<int> simulate_seconds;
  std::optional<std::string> webhook_url;
  WebhookShape webhook_shape = WebhookShape::current;
  std::string project_id;
  std::string environment_id;
  std::string environment_name = "staging";
  std::vector<Service> services;
  int crash_every = 0;
  std::uint64_t seed = std::random_device{}();
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "fake_railway: " << problem << "\n"
            << "usage: fake_railway --port N [--state FILE] [--token T] [--token-kind account|project]\n"
            << "         [--deploy-reads N] [--deploy-final-status STATUS] [--value-marker STR]\n"
            << "         [--simulate-merges SECONDS --project ID --environment ID --services name:id,...\n"
            << "          [--environment-name NAME] [--webhook-url URL] [--webhook-shape current|legacy]\n"
            << "          [--crash-every N] [--seed N]]\n";
  std::exit(2);
}

long long number(const std::string& flag, const std::string& text, long long min, long long max) {
  return promoter::fakes::flag_number(flag, text, min, max, [](const std::string& problem) { usage(problem); });
}

Config parse_args(int argc, char** argv) {
  Config config;
  config.fake.admin_routes = true;
  if (const char* token = std::getenv("FAKE_RAILWAY_TOKEN"); token != nullptr && *token != '\0') {
    config.fake.token = token;
  }
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") usage("help");
    if (i + 1 >= argc) usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--port") {
      config.port = static_cast<unsigned short>(number(flag, value, 0, 65535));
      have_port = true;
    } else if (flag == "--state") {
      config.state_file = value;
    } else if (flag == "--token") {
      config.fake.token = value;
    } else if (flag == "--token-kind") {
      if (value != "account" && value != "project") usage("--token-kind is account or project");
      config.fake.token_kind = value == "project" ? promoter::adapters::RailwayTokenKind::project
                                                  : promoter::adapters::RailwayTokenKind::account;
    } else if (flag == "--deploy-reads") {
      config.fake.deploy_reads_to_finish = static_cast<int>(number(flag, value, 0, 1000));
    } else if (flag == "--deploy-final-status") {
      config.fake.deploy_final_status = value;
    } else if (flag == "--value-marker") {
      config.fake.value_marker = value;
    } else if (flag == "--simulate-merges") {
      config.simulate_seconds = static_cast<int>(number(flag, value, 1, 86400));
    } else if (flag == "--webhook-url") {
      config.webhook_url = value;
    } else if (flag == "--webhook-shape") {
      if (value != "current" && value != "legacy") usage("--webhook-shape is current or legacy");
      config.webhook_shape = value == "legacy" ? WebhookShape::legacy : WebhookShape::current;
    } else if (flag == "--project") {
      config.project_id = value;
    } else if (flag == "--environment") {
      config.environment_id = value;
    } else if (flag == "--environment-name") {
      config.environment_name = value;
    } else if (flag == "--services") {
      std::stringstream list(value);
      std::string item;
      while (std::getline(list, item, ',')) {
        const auto colon = item.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
          usage("--services wants name:id pairs separated by commas, not \"" + item + "\"");
        }
        config.services.push_back({item.substr(0, colon), item.substr(colon + 1)});
      }
    } else if (flag == "--crash-every") {
      config.crash_every = static_cast<int>(number(flag, value, 0, 1000000));
    } else if (flag == "--seed") {
      config.seed = static_cast<std::uint64_t>(number(flag, value, 0, std::numeric_limits<long long>::max()));
    } else {
      usage("unknown flag " + flag);
    }
  }
  if (!have_port) usage("--port is required (0 picks a free port)");
  if (config.simulate_seconds &&
      (config.project_id.empty() || config.environment_id.empty() || config.services.empty())) {
    usage("--simulate-merges needs --project, --environment and --services");
  }
  if (!config.project_id.empty()) config.fake.default_project_id = config.project_id;
  return config;
}

asio::awaitable<void> wait(std::chrono::milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::string random_sha(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string sha;
  for (int i = 0; i < 40; ++i) sha += kHex[rng() % 16];
  return sha;
}

asio::awaitable<void> simulate_merges(FakeRailway& fake, const Config& config) {
  std::mt19937_64 rng(config.seed);
  const std::vector<std::string> authors = {"alice", "bob", "carol", "dave"};
  const auto period = std::chrono::seconds(*config.simulate_seconds);
  const auto step = std::clamp<std::chrono::milliseconds>(period / 4, std::chrono::milliseconds(100),
                                                          std::chrono::milliseconds(2000));
  for (int merge = 1;; ++merge) {
    // The first merge comes soon, so a demo has something to show at once.
    co_await wait(merge == 1 ? std::min<std::chrono::seconds>(period, std::chrono::seconds(3)) : period);
    const auto sha = random_sha(rng);
    const auto author = authors[rng() % authors.size()];
    std::vector<std::string> ids;
    for (const auto& service : config.services) {
      FakeDeploymentSpec spec;
      spec.project_id = config.project_id;
      spec.environment_id = config.environment_id;
      spec.service_id = service.id;
      spec.status = "BUILDING";
      spec.commit_hash = sha;
      spec.commit_author = author;
      spec.commit_message = "Merge pull request #" + std::to_string(1000 + merge) + " from " + author + "/change";
      ids.push_back(fake.add_deployment(spec));
    }
    std::cout << "merge " << merge << " " << sha << " by " << author << ": BUILDING" << std::endl;
    co_await wait(step);
    for (const auto& id : ids) fake.set_status(id, "DEPLOYING");
    co_await wait(step);
    for (const auto& id : ids) fake.set_status(id, "SUCCESS");
    std::cout << "merge " << merge << " " << sha << ": SUCCESS" << std::endl;
    if (config.crash_every > 0 && merge % config.crash_every == 0) {
      co_await wait(step);
      fake.set_status(ids.front(), "CRASHED");
      std::cout << "merge " << merge << " " << sha << ": " << config.services.front().name << " CRASHED" << std::endl;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Config config = parse_args(argc, argv);
  asio::io_context ioc;
  FakeRailway fake(ioc.get_executor(), config.fake);

  if (config.state_file && !promoter::fakes::load_state_file("fake_railway", fake, *config.state_file)) return 1;
  if (config.state_file)
    fake.on_change([&fake, path = *config.state_file] {
      promoter::fakes::save_state_file("fake_railway", fake.state_json(), path);
    });
  for (const auto& service : config.services) fake.name_service(service.id, service.name);
  if (!config.environment_id.empty()) fake.name_environment(config.environment_id, config.environment_name);
  if (config.webhook_url) fake.set_webhook(config.webhook_url, config.webhook_shape);

  try {
    fake.start(config.port);
  } catch (const std::exception& e) {
    std::cerr << "fake_railway: cannot listen on 127.0.0.1:" << config.port << ": " << e.what() << "\n";
    return 1;
  }
  std::cout << "listening 127.0.0.1:" << fake.port() << std::endl;

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    fake.stop();
    ioc.stop();
  });
  if (config.simulate_seconds) asio::co_spawn(ioc, simulate_merges(fake, config), asio::detached);
  ioc.run();
  return 0;
}
