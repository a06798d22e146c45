// fake_github: FakeGitHub as a standalone server for the demo.
//
//   fake_github --port N [--state FILE] [--token T] [--owner O] [--repo R] [--org ORG]
//               [--rate-limit N] [--webhook-url URL] [--webhook-secret-env NAME]
//
// Prints `listening 127.0.0.1:PORT` as its first line. The token defaults to $FAKE_GITHUB_TOKEN, else
// "fake-github-token". --webhook-secret-env names the environment variable holding the webhook secret (the
// secret itself never goes on a command line); without it deliveries are unsigned. With --state, the
// repository state is loaded from FILE at start and saved there after every change.
//
// The GitHub API (tests/fakes/fake_github.hpp) answers under http://127.0.0.1:PORT/. The demo drives the fake
// through admin routes beside it: no auth, not counted against the rate limit, JSON bodies mapping onto the
// C++ API; each answers 200 with the JSON shown, 404 for an unknown route, 400 {"message"} for a bad body.
//
//   POST /_fake/commits              {"sha"?, "message"?}            push_commit: appends to main -> {"sha"}
//                                    {"sha"?, "parent": SHA}         branch_commit: a side commit -> {"sha"}
//   POST /_fake/pulls                {"number"?, "author": {"login","id"}, "title"?, "body"?, "base_ref"?,
//                                     "head_ref"?, "head_sha"?, "merge_commit_sha"?, "commits": [SHA...],
//                                     "files": [{"filename","status"?,"patch"?,"additions"?,"deletions"?}]}
//                                    add_pull (head_sha defaults to the last of commits) -> {"number"}
//   POST /_fake/pulls/{n}/merge      {"merge_commit_sha"}            merge_pull (an unknown SHA is pushed to main)
//   POST /_fake/pulls/{n}/body       {"body"}                        edit_pull_body
//   POST /_fake/pulls/{n}/reviews    {"user": {"login","id"}, "state"?: "APPROVED", "body"?, "commit_id"?,
//                                     "submitted_at"?}               add_review -> {"id"}
//   POST /_fake/pulls/{n}/reviews/{id}/dismiss                       dismiss_review
//   POST /_fake/check-runs           {"sha", "name", "status"?: "completed", "conclusion"?: "success"|null,
//                                     "summary"?, "text"?, "title"?, "app"?}       set_check_run
//   POST /_fake/statuses             {"sha", "context", "state"?: "success", "description"?, "target_url"?}
//                                                                    set_status
//   POST /_fake/team-members         {"team", "login", "id"}         add_team_member
//   POST /_fake/secondary-rate-limit {"n"?: 1, "retry_after"?: 60, "status"?: 403}
//   POST /_fake/fail                 {"n"?: 1, "status"?: 502}
//   GET  /_fake/tags                 {"v1.2.3": SHA, ...} (refs/tags the API created)
//   GET  /_fake/state                the persisted state (as --state writes it)
//   GET  /_fake/requests             [{"method","target","status","conditional"}] the API requests so far

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "tests/fakes/fake_github.hpp"
#include "tests/fakes/fake_main_support.hpp"

namespace asio = boost::asio;
using promoter::fakes::FakeGitHub;
using promoter::fakes::FakeGitHubOptions;

namespace {

struct Config {
  unsigned short port = 0;
  std::optional<std::string> state_file;
  std::optional<std::string> webhook_url;
  FakeGitHubOptions fake;
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "fake_github: " << problem << "\n"
            << "usage: fake_github --port N [--state FILE] [--token T] [--owner O] [--repo R] [--org ORG]\n"
            << "         [--rate-limit N] [--webhook-url URL] [--webhook-secret-env NAME]\n";
  std::exit(2);
}

long long number(const std::string& flag, const std::string& text, long long min, long long max) {
  return promoter::fakes::flag_number(flag, text, min, max, [](const std::string& problem) { usage(problem); });
}

Config parse_args(int argc, char** argv) {
  Config config;
  config.fake.admin_routes = true;
  if (const char* token = std::getenv("FAKE_GITHUB_TOKEN"); token != nullptr && *token != '\0') {
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
    } else if (flag == "--owner") {
      config.fake.owner = value;
    } else if (flag == "--repo") {
      config.fake.repo = value;
    } else if (flag == "--org") {
      config.fake.org = value;
    } else if (flag == "--rate-limit") {
      config.fake.rate_limit = static_cast<int>(number(flag, value, 1, 1000000));
    } else if (flag == "--webhook-url") {
      config.webhook_url = value;
    } else if (flag == "--webhook-secret-env") {
      const char* secret = std::getenv(value.c_str());
      if (secret == nullptr || *secret == '\0') usage("--webhook-secret-env " + value + ": that variable is not set");
      config.fake.webhook_secret = secret;
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
  FakeGitHub fake(ioc.get_executor(), config.fake);

  if (config.state_file && !promoter::fakes::load_state_file("fake_github", fake, *config.state_file)) return 1;
  if (config.state_file)
    fake.on_change([&fake, path = *config.state_file] {
      promoter::fakes::save_state_file("fake_github", fake.state_json(), path);
    });
  if (config.webhook_url) fake.set_webhook(config.webhook_url);

  try {
    fake.start(config.port);
  } catch (const std::exception& e) {
    std::cerr << "fake_github: cannot listen on 127.0.0.1:" << config.port << ": " << e.what() << "\n";
    return 1;
  }
  std::cout << "listening 127.0.0.1:" << fake.port() << std::endl;

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    fake.stop();
    ioc.stop();
  });
  ioc.run();
  return 0;
}
