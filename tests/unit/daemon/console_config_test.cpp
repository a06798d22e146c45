// [console] and [server] public_url as promoterd reads them, with file:line:col errors. No file, no database.
#include <doctest/doctest.h>

#include <string>

#include "daemon/config/config.hpp"

namespace promoter::daemon {
namespace {

std::string config_with(const std::string& server, const std::string& console) {
  return R"(environment = "production"
[server]
listen = "127.0.0.1:0"
)" + server +
         R"(
[database]
url_env = "PROMOTER_DATABASE_URL"
[policy]
soak = "30m"
require_smoke = false
)" + (console.empty() ? "" : "[console]\n" + console + "\n") +
         "[[services]]\nname = \"api\"\nrestart_order = 1\n";
}

TEST_CASE("by default the console is on at /ui/, sessions idle out after 8h and end after 24h") {
  auto c = load_config_text(config_with("", ""), "promoter.toml");
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error()));
  CHECK(c->console.enabled);
  CHECK(c->console.path == "/ui/");
  CHECK(c->console.session_idle == std::chrono::hours(8));
  CHECK(c->console.session_absolute == std::chrono::hours(24));
  CHECK(c->public_url.empty());
}

TEST_CASE("[console] and public_url are read; a trailing slash of public_url is dropped") {
  auto c = load_config_text(config_with("public_url = \"https://promoter.example.com/\"",
                                        "enabled = false\npath = \"/console/\"\nsession_idle = \"30m\"\n"
                                        "session_absolute = \"12h\""),
                            "promoter.toml");
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error()));
  CHECK_FALSE(c->console.enabled);
  CHECK(c->console.path == "/console/");
  CHECK(c->console.session_idle == std::chrono::minutes(30));
  CHECK(c->console.session_absolute == std::chrono::hours(12));
  CHECK(c->public_url == "https://promoter.example.com");
}

TEST_CASE("bad [console] values and public_url are refused at their line and column") {
  struct Case {
    std::string server, console, expected;
  };
  const Case cases[] = {
      {"", "path = \"ui\"", "promoter.toml:11:8: console.path = \"ui\" must look like \"/ui/\""},
      {"", "path = \"/v1/ui/\"", "must look like \"/ui/\""},
      {"", "path = \"/UI/\"", "must look like \"/ui/\""},
      {"", "session_idle = \"10s\"", "console.session_idle = \"10s\" must be between 1m and 30 days"},
      {"", "session_idle = \"2h\"\nsession_absolute = \"1h\"", "is longer than console.session_absolute"},
      {"", "colour = \"blue\"", "unknown key 'console.colour'"},
      {"public_url = \"promoter.example.com\"", "", "server.public_url = \"promoter.example.com\" must be"},
      {"public_url = \"https://promoter.example.com/ui\"", "", "must be http[s]://HOST[:PORT] with no path"},
  };
  for (const auto& test : cases) {
    auto c = load_config_text(config_with(test.server, test.console), "promoter.toml");
    REQUIRE_FALSE(c.has_value());
    CHECK_MESSAGE(c.error().find(test.expected) != std::string::npos, c.error());
  }
}

}  // namespace
}  // namespace promoter::daemon
