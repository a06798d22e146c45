// [policy] on_verify_failure and rollback_order as promoterd reads them, with file:line:col errors for what a
// rollback could not follow. load_config_text on text: no file, no database.
#include <doctest/doctest.h>

#include <string>

#include "core/rollback.hpp"
#include "daemon/config/config.hpp"

namespace promoter::daemon {
namespace {

// The smallest configuration promoterd accepts with three services, then `policy` lines in [policy].
std::string config_with(const std::string& policy) {
  std::string services;
  int order = 1;
  for (const char* name : {"worker", "api", "www"})
    services += "[[services]]\nname = \"" + std::string(name) + "\"\nrestart_order = " + std::to_string(order++) + "\n";
  return R"(environment = "production"
[server]
listen = "127.0.0.1:0"
[database]
url_env = "PROMOTER_DATABASE_URL"
[policy]
soak = "30m"
require_smoke = false
)" + policy +
         "\n" + services;
}

TEST_CASE("without the keys, verify failures stop and rollbacks go in reverse restart order") {
  auto c = load_config_text(config_with(""), "promoter.toml");
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error()));
  CHECK_FALSE(c->policy.rollback_on_verify_failure);
  CHECK(core::rollback_order(c->policy) == std::vector<std::string>{"www", "api", "worker"});
}

TEST_CASE("on_verify_failure and rollback_order are read") {
  auto c =
      load_config_text(config_with("on_verify_failure = \"rollback\"\nrollback_order = [\"api\", \"www\", \"worker\"]"),
                       "promoter.toml");
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error()));
  CHECK(c->policy.rollback_on_verify_failure);
  CHECK(core::rollback_order(c->policy) == std::vector<std::string>{"api", "www", "worker"});
  auto stop = load_config_text(config_with("on_verify_failure = \"stop\""), "promoter.toml");
  REQUIRE(stop.has_value());
  CHECK_FALSE(stop->policy.rollback_on_verify_failure);
}

TEST_CASE("a rollback policy it could not follow is a file:line:col error") {
  struct Case {
    std::string policy;
    std::string error;
  };
  const Case cases[] = {
      {"on_verify_failure = \"undo\"", "promoter.toml:9:21: policy.on_verify_failure = \"undo\": use \"stop\""},
      {"rollback_order = [\"api\", \"db\", \"www\"]", "names 'db', which is not a configured service"},
      {"rollback_order = [\"api\", \"api\", \"www\"]", "names 'api' twice"},
      {"rollback_order = [\"api\", \"www\"]", "must name every service once"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.policy);
    auto r = load_config_text(config_with(c.policy), "promoter.toml");
    REQUIRE_FALSE(r.has_value());
    CHECK_MESSAGE(r.error().find(c.error) != std::string::npos, r.error());
  }
}

}  // namespace
}  // namespace promoter::daemon
