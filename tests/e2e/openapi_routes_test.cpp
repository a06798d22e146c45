// daemon/openapi.yaml documents exactly the routes promoterd serves: the routes come from the real
// router (promoterd --list-routes, built as the daemon builds it), the spec's from its `paths:` block.
// Linting the spec is the openapi_lint test (Redocly, tests/openapi).
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;

namespace {

// Every route-adding feature on: Railway staging with its webhook.
std::string full_config() {
  return ConfigBuilder("30m")
      .service("api", {{"staging", TomlValue::inline_table({{"provider", "railway"},
                                                            {"project_id", "project"},
                                                            {"environment_id", "staging"},
                                                            {"service_id", "api"}})}})
      .table("railway", {{"token_env", "T_RAILWAY"}, {"webhook_secret_env", "T_RAILWAY_WEBHOOK"}})
      .table("github", {{"owner", "acme"},
                        {"repo", "monorepo"},
                        {"token_env", "T_GITHUB"},
                        {"webhook_secret_env", "T_GITHUB_WEBHOOK"}})
      .shared_tokens()
      .toml();
}

std::set<std::string> server_routes() {
  const auto dir = temp_dir("openapi_routes");
  std::ofstream(dir / "promoter.toml") << full_config();
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = "";  // never used: --list-routes touches no database
  env["T_RAILWAY"] = "railway-token";
  env["T_RAILWAY_WEBHOOK"] = "webhook-secret-of-at-least-24-chars";
  env["T_GITHUB"] = "github-token";
  env["T_GITHUB_WEBHOOK"] = "github-webhook-secret-of-24-chars";
  std::string out;
  const int code =
      run_program({PROMOTERD_BIN, "--config", (dir / "promoter.toml").string(), "--list-routes"}, env, out);
  REQUIRE_MESSAGE(code == 0, out);
  std::set<std::string> routes;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    REQUIRE_MESSAGE(std::regex_match(line, std::regex("[A-Z]+ /\\S*")), ("unexpected --list-routes line: " + line));
    routes.insert(line);
  }
  return routes;
}

// "METHOD /path" for each operation under `paths:`: path keys indented 2, their methods indented 4.
std::set<std::string> spec_routes(const std::filesystem::path& spec) {
  std::ifstream in(spec);
  REQUIRE(in);
  const std::regex path_key(R"re(^  ["']?(/[^"':]*)["']?:\s*$)re");
  const std::regex method_key(R"(^    (get|put|post|delete|patch|head|options|trace):\s*$)");
  std::set<std::string> routes;
  bool in_paths = false;
  std::string path;
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] != ' ' && line[0] != '#') {
      in_paths = line.starts_with("paths:");
      path.clear();
      continue;
    }
    if (!in_paths) continue;
    if (std::regex_match(line, m, path_key)) {
      path = m[1];
    } else if (!path.empty() && std::regex_match(line, m, method_key)) {
      std::string method = m[1];
      for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      routes.insert(method + " " + path);
    }
  }
  return routes;
}

std::string listing(const std::set<std::string>& routes) {
  return routes.empty() ? "(none)" : fmt::format("\n  {}", fmt::join(routes, "\n  "));
}

}  // namespace

TEST_CASE("every route promoterd serves is in daemon/openapi.yaml, and every documented route is served") {
  const auto served = server_routes();
  const auto documented = spec_routes(std::filesystem::path(PROMOTER_SOURCE_DIR) / "daemon" / "openapi.yaml");
  // Both readers found something real: the health routes and the Railway webhook at least.
  for (const auto* route : {"GET /healthz", "GET /v1/releases/{sha}", "POST /webhooks/railway/{secret}"}) {
    CHECK_MESSAGE(served.count(route) == 1, route);
    CHECK_MESSAGE(documented.count(route) == 1, route);
  }
  std::set<std::string> undocumented, unserved;
  for (const auto& r : served)
    if (!documented.count(r)) undocumented.insert(r);
  for (const auto& r : documented)
    if (!served.count(r)) unserved.insert(r);
  CHECK_MESSAGE(undocumented.empty(),
                ("served by promoterd but missing from daemon/openapi.yaml:" + listing(undocumented)));
  CHECK_MESSAGE(unserved.empty(), ("in daemon/openapi.yaml but not served by promoterd:" + listing(unserved)));
}

TEST_CASE("promoterd --list-routes needs no database and prints METHOD pattern lines") {
  const auto routes = server_routes();
  CHECK(routes.size() >= 10);
  CHECK(routes.count("GET /metrics") == 1);
}
