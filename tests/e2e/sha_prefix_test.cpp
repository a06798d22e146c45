// End to end: an abbreviated SHA, as git takes one. GET /v1/releases?sha_prefix= on the real promoterd
// (and what it refuses), and the real promotectl resolving a prefix through it.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <vector>

#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;
using nlohmann::json;

namespace {

using tokens::bob;
using tokens::ci;
using tokens::viewer;

const std::string older = "abcd111111111111111111111111111111111111";
const std::string newer = "abcd222222222222222222222222222222222222";
const std::string other = "ef01234567890123456789012345678901234567";

struct Env {
  Env()
      : dir(temp_dir("sha_prefix")),
        daemon(dir, ConfigBuilder("1h").service("api").simulated(dir).shared_tokens().toml(), daemon_env()) {
    daemon.start();
    for (const auto& sha : {older, newer, other}) {
      auto r = daemon.post("/v1/staging-deployments",
                           {{"service", "api"},
                            {"sha", sha},
                            {"deployment_id", "dep-" + sha.substr(0, 8)},
                            {"status", "SUCCESS"},
                            {"author", "alice-gh"}},
                           ci);
      REQUIRE_MESSAGE(r.status == 200, r.body);
    }
  }
  static std::map<std::string, std::string> daemon_env() {
    auto env = auth_tokens_env();
    env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_e2e_sha_prefix");
    return env;
  }
  std::vector<std::string> shas(const std::string& query) const {
    auto r = daemon.get("/v1/releases?" + query, viewer);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    const json body = r.json();
    CHECK(body["next_before"].is_null());
    std::vector<std::string> out;
    for (const auto& release : body["releases"]) out.push_back(release["sha"]);
    return out;
  }
  int promotectl(std::vector<std::string> args, std::string& out, const std::string& token = viewer) const {
    args.insert(args.begin(), PROMOTECTL_BIN);
    return run_program(
        args, {{"PROMOTER_URL", fmt::format("http://127.0.0.1:{}", daemon.port())}, {"PROMOTER_TOKEN", token}}, out);
  }

  std::filesystem::path dir;
  Daemon daemon;
};

}  // namespace

TEST_CASE("GET /v1/releases?sha_prefix= lists the releases whose SHA starts so, newest first, in either case") {
  Env env;
  CHECK(env.shas("sha_prefix=abcd") == std::vector<std::string>{newer, older});
  CHECK(env.shas("sha_prefix=ABCD1") == std::vector<std::string>{older});
  CHECK(env.shas("sha_prefix=" + other) == std::vector<std::string>{other});
  CHECK(env.shas("sha_prefix=beef").empty());
  CHECK(env.shas("sha_prefix=abcd&limit=1") == std::vector<std::string>{newer});
}

TEST_CASE("GET /v1/releases refuses a hostile sha_prefix with a 400 JSON error and lists nothing") {
  Env env;
  struct Case {
    std::string query;
    std::string message;
  };
  const std::vector<Case> cases{
      {"sha_prefix=abc", "query parameter 'sha_prefix': a SHA prefix has 4 to 40 hex digits; got 3 characters"},
      {"sha_prefix=", "query parameter 'sha_prefix': a SHA prefix has 4 to 40 hex digits; got 0 characters"},
      {"sha_prefix=" + std::string(41, 'a'), "a SHA prefix has 4 to 40 hex digits; got 41 characters"},
      {"sha_prefix=" + std::string(200, 'a'), "a SHA prefix has 4 to 40 hex digits; got 200 characters"},
      {"sha_prefix=abcg", "query parameter 'sha_prefix': a SHA prefix has only hex digits (0-9, a-f)"},
      {"sha_prefix=abcd%25", "a SHA prefix has only hex digits"},  // LIKE's wildcard
      {"sha_prefix=ab_d", "a SHA prefix has only hex digits"},     // LIKE's other wildcard
      {"sha_prefix=abcd%27%20OR%20%271%27%3D%271", "a SHA prefix has only hex digits"},
      {"sha_prefix=abcd%00", "a SHA prefix has only hex digits"},
      {"sha_prefix=abcd&state=soaking", "query parameter 'sha_prefix' does not combine with 'state' or 'before'"},
      {"sha_prefix=abcd&before=5", "query parameter 'sha_prefix' does not combine with 'state' or 'before'"},
      {"sha_prefix=abcd&limit=0", "query parameter 'limit' must be a whole number from 1 to 1000"},
  };
  for (const auto& c : cases) {
    const std::string shown = c.query.substr(0, 80);
    CAPTURE(shown);
    auto r = env.daemon.get("/v1/releases?" + c.query, viewer);
    CHECK(r.status == 400);
    CHECK(r.headers["content-type"].starts_with("application/json"));
    const json body = r.json();
    CHECK(body["error"]["code"] == "invalid_argument");
    CHECK_MESSAGE(body["error"]["message"].get<std::string>().find(c.message) != std::string::npos, r.body);
    CHECK(!body.contains("releases"));
  }
}

TEST_CASE("promotectl resolves a unique SHA prefix on promoterd, and refuses an ambiguous, unknown or short one") {
  Env env;
  std::string out;

  SUBCASE("unique: the command runs on the full SHA") {
    CHECK(env.promotectl({"show", "abcd2"}, out) == 0);
    CHECK_MESSAGE(out.find(newer) != std::string::npos, out);
    out.clear();
    CHECK(env.promotectl({"approve", "EF0123456789", "--reason", "ok"}, out, bob) == 0);
    CHECK_MESSAGE(out.find("Approved " + other + ".") != std::string::npos, out);
    auto approvals = env.daemon.get("/v1/releases/" + other, viewer).json()["approvals"];
    REQUIRE(approvals.size() == 1);
    CHECK(approvals[0]["by"] == "bob");
  }
  SUBCASE("ambiguous: exit 2, both candidates listed, nothing changed") {
    CHECK(env.promotectl({"approve", "abcd", "--reason", "ok"}, out, bob) == 2);
    CHECK_MESSAGE(out.find("SHA prefix 'abcd' is ambiguous; it matches 2 releases") != std::string::npos, out);
    CHECK(out.find(older.substr(0, 12)) != std::string::npos);
    CHECK(out.find(newer.substr(0, 12)) != std::string::npos);
    CHECK(out.find(other.substr(0, 12)) == std::string::npos);
    for (const auto& sha : {older, newer})
      CHECK(env.daemon.get("/v1/releases/" + sha, viewer).json()["approvals"].empty());
  }
  SUBCASE("unknown: exit 1, no release matches") {
    CHECK(env.promotectl({"show", "beef"}, out) == 1);
    CHECK_MESSAGE(out.find("no release matches SHA prefix 'beef'") != std::string::npos, out);
  }
  SUBCASE("too short: a usage error before any request") {
    CHECK(env.promotectl({"show", "abc"}, out) == 2);
    CHECK_MESSAGE(out.find("a SHA prefix has 4 to 40 hex digits; got 3 characters") != std::string::npos, out);
  }
}
