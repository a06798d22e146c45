// The web console's server side on a real promoterd: signing in trades an API token for a session cookie kept
// in PostgreSQL (it survives a restart); a write with that cookie needs the session's CSRF token and the
// console's own Origin, and passes the same role checks and lands in the same audit as the API; sign-out and a
// token removed on reload end the session for good. The page is served with its security headers, an ETag,
// gzip, and immutable hashed file names.
#include <csignal>
#include <doctest/doctest.h>
#include <fstream>
#include <pqxx/pqxx>
#include <regex>

#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

namespace {

const std::string sha1 = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0";
const std::string home = "http://127.0.0.1";  // the Origin of a page served to Host: 127.0.0.1

ConfigBuilder config(const std::filesystem::path& dir) {
  return std::move(ConfigBuilder("1h").services({"worker", "api", "www"}).simulated(dir).shared_tokens());
}

std::map<std::string, std::string> daemon_env(const std::string& name) {
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_console_" + name);
  return env;
}

struct Session {
  std::string cookie;  // "promoter_session=..."
  std::string csrf;
};

Session sign_in(const Daemon& d, const std::string& token) {
  const auto reply = http(d.port(), "POST", "/v1/session", json{{"token", token}}.dump(), Headers{{"Origin", home}});
  REQUIRE_MESSAGE(reply.status == 201, reply.body);
  const std::string set_cookie = reply.headers.at("set-cookie");
  return Session{set_cookie.substr(0, set_cookie.find(';')), reply.json()["csrf_token"]};
}

HttpReply with_session(const Daemon& d, const std::string& method, const std::string& target, const Session& s,
                       Headers extra = {}, const std::string& body = "") {
  extra.emplace_back("Cookie", "theme=dark; " + s.cookie);
  return http(d.port(), method, target, body, extra);
}

}  // namespace

TEST_CASE("a console session: cookie attributes, CSRF and Origin on writes, role checks, audit, restart, sign-out") {
  const auto dir = temp_dir("console_session");
  Daemon daemon(dir, config(dir).toml(), daemon_env("session"));
  daemon.start();
  stage_release(daemon, sha1);

  // Sign-in: an unknown token, and one sent from another site's page, are refused.
  CHECK(http(daemon.port(), "POST", "/v1/session", json{{"token", "nope"}}.dump(), Headers{}).status == 401);
  const auto forged_login = http(daemon.port(), "POST", "/v1/session", json{{"token", tokens::bob}}.dump(),
                                 Headers{{"Origin", "https://evil.example"}});
  CHECK(forged_login.status == 403);
  CHECK(forged_login.json()["error"]["code"] == "cross_origin");

  const auto reply = http(daemon.port(), "POST", "/v1/session", json{{"token", tokens::bob}}.dump(), Headers{});
  REQUIRE_MESSAGE(reply.status == 201, reply.body);
  const std::string set_cookie = reply.headers.at("set-cookie");
  CHECK(set_cookie.starts_with("promoter_session="));
  for (const char* attribute : {"; HttpOnly", "; SameSite=Strict", "; Path=/", "; Max-Age="})
    CHECK_MESSAGE(set_cookie.find(attribute) != std::string::npos, set_cookie);
  CHECK_MESSAGE(set_cookie.find("Secure") == std::string::npos, "plain http: no Secure; " << set_cookie);
  CHECK(reply.json()["identity"] == "bob");
  CHECK(reply.json()["role"] == "operator");
  CHECK(daemon.log().find(tokens::bob) == std::string::npos);
  const Session bob{set_cookie.substr(0, set_cookie.find(';')), reply.json()["csrf_token"]};
  CHECK(bob.csrf.size() >= 43);

  // Reads need nothing but the cookie; GET /v1/session gives the page its CSRF token.
  CHECK(with_session(daemon, "GET", "/v1/status", bob).status == 200);
  const auto whoami = with_session(daemon, "GET", "/v1/session", bob);
  REQUIRE(whoami.status == 200);
  CHECK(whoami.json()["identity"] == "bob");
  CHECK(whoami.json()["csrf_token"] == bob.csrf);
  CHECK(daemon.get("/v1/session", tokens::ci).json()["csrf_token"].is_null());

  // Each release lists the operators who may still approve it, and why the others may not.
  auto standing = [&](const std::string& who) {
    const json release = daemon.get("/v1/releases/" + sha1, tokens::viewer).json();
    for (const auto& a : release["approvers"])
      if (a["identity"] == who) return a;
    return json(nullptr);
  };
  CHECK(standing("alice")["may_approve"] == false);
  CHECK(standing("alice")["reason"] == "wrote this commit");
  CHECK(standing("bob")["may_approve"] == true);
  CHECK(standing("dashboard").is_null());  // a viewer: not an operator
  CHECK(standing("ci-bot").is_null());

  // Writes: without the CSRF token, with a wrong one, from another origin, or from no stated origin: refused,
  // and nothing is recorded.
  const std::string approve = "/v1/releases/" + sha1 + "/approve";
  const std::string reason = json{{"reason", "looks good"}}.dump();
  auto refused = [&](Headers headers, const std::string& code) {
    const auto r = with_session(daemon, "POST", approve, bob, std::move(headers), reason);
    CHECK_MESSAGE(r.status == 403, r.body);
    CHECK(r.json()["error"]["code"] == code);
  };
  refused({{"Origin", home}}, "csrf_failed");
  refused({{"Origin", home}, {"X-CSRF-Token", bob.csrf + "x"}}, "csrf_failed");
  refused({{"Origin", "https://evil.example"}, {"X-CSRF-Token", bob.csrf}}, "cross_origin");
  refused({{"Referer", "https://evil.example/ui/"}, {"X-CSRF-Token", bob.csrf}}, "cross_origin");
  refused({{"X-CSRF-Token", bob.csrf}}, "cross_origin");
  CHECK(daemon.get("/v1/releases/" + sha1, tokens::viewer).json()["approvals"].empty());

  // The console's own write: the same handler, the same audit entry as the API, under bob's name.
  const auto approved =
      with_session(daemon, "POST", approve, bob, {{"Origin", home}, {"X-CSRF-Token", bob.csrf}}, reason);
  REQUIRE_MESSAGE(approved.status == 200, approved.body);
  CHECK(daemon.get("/v1/releases/" + sha1, tokens::viewer).json()["approvals"][0]["by"] == "bob");
  CHECK(standing("bob")["reason"] == "approved already");
  const auto audit = daemon.get("/v1/audit?sha=" + sha1, tokens::viewer).json()["entries"];
  CHECK(std::any_of(audit.begin(), audit.end(), [](const json& e) { return e["actor"] == "bob"; }));

  // A viewer's session meets the same role check as a viewer's token; a Referer of our own origin will do.
  const Session viewer = sign_in(daemon, tokens::viewer);
  const auto forbidden = with_session(daemon, "POST", approve, viewer,
                                      {{"Referer", home + "/ui/"}, {"X-CSRF-Token", viewer.csrf}}, reason);
  CHECK_MESSAGE(forbidden.status == 403, forbidden.body);
  CHECK(forbidden.json()["error"]["code"] == "forbidden");

  // Sessions live in PostgreSQL: a crash and restart signs nobody out.
  daemon.restart();
  CHECK(with_session(daemon, "GET", "/v1/status", bob).status == 200);

  // Sign-out needs the CSRF token too (no other site may sign a person out), forgets the cookie, and ends
  // the session for good.
  CHECK(with_session(daemon, "DELETE", "/v1/session", bob, {{"Origin", home}}).status == 403);
  const auto out = with_session(daemon, "DELETE", "/v1/session", bob, {{"Origin", home}, {"X-CSRF-Token", bob.csrf}});
  CHECK(out.status == 204);
  CHECK(out.headers.at("set-cookie").find("Max-Age=0") != std::string::npos);
  const auto after = with_session(daemon, "GET", "/v1/status", bob);
  CHECK(after.status == 401);
  CHECK(after.json()["error"]["message"] == "console session expired or ended; sign in again");
  CHECK(with_session(daemon, "GET", "/v1/status", viewer).status == 200);  // other sessions live on
  // A bearer token still wins over a stale cookie.
  CHECK(http(daemon.port(), "GET", "/v1/status", "",
             Headers{{"Cookie", bob.cookie}, {"Authorization", "Bearer " + tokens::viewer}})
            .status == 200);
}

TEST_CASE("a session unused past its idle limit, or older than its absolute limit, is refused and stays ended") {
  const auto dir = temp_dir("console_expiry");
  auto env = daemon_env("expiry");
  const std::string conninfo = env.at("PROMOTER_DATABASE_URL");
  Daemon daemon(dir, config(dir).toml(), env);
  daemon.start();
  const Session idle = sign_in(daemon, tokens::viewer);
  const Session old = sign_in(daemon, tokens::bob);
  const Session fresh = sign_in(daemon, tokens::alice);
  for (const auto* s : {&idle, &old, &fresh}) CHECK(with_session(daemon, "GET", "/v1/status", *s).status == 200);

  // Time passes in the database, where the sessions are: idle 8h (the default limit) for one, signed in 24h
  // ago (used a minute ago) for another.
  {
    pqxx::connection c(conninfo);
    pqxx::work w(c);
    w.exec(
        "UPDATE console_sessions SET last_seen_at = last_seen_at - interval '8 hours 1 minute', "
        "created_at = created_at - interval '8 hours 1 minute' WHERE identity = 'dashboard'");
    w.exec("UPDATE console_sessions SET created_at = created_at - interval '24 hours 1 minute' WHERE identity = 'bob'");
    w.commit();
  }
  for (const auto* s : {&idle, &old}) {
    const auto refused = with_session(daemon, "GET", "/v1/status", *s);
    CHECK(refused.status == 401);
    CHECK(refused.json()["error"]["message"] == "console session expired or ended; sign in again");
    CHECK(refused.headers.at("set-cookie").find("Max-Age=0") != std::string::npos);
  }
  CHECK(with_session(daemon, "GET", "/v1/status", fresh).status == 200);
  // Expired is ended: putting the clock back (here, the rows) does not revive them.
  {
    pqxx::connection c(conninfo);
    pqxx::work w(c);
    w.exec("UPDATE console_sessions SET last_seen_at = now(), created_at = now()");
    w.commit();
  }
  CHECK(with_session(daemon, "GET", "/v1/status", idle).status == 401);
  CHECK(with_session(daemon, "GET", "/v1/status", old).status == 401);
}

TEST_CASE("a reload that removes a session's token ends the session for good") {
  const auto dir = temp_dir("console_reload");
  const auto token_file = dir / "carol.token";
  const TomlKeys carol{{"identity", "carol"}, {"role", "viewer"}, {"token_file", token_file.string()}};
  const std::string token_a = "carol-token-aaaaaaaaaaaaaaaa", token_b = "carol-token-bbbbbbbbbbbbbbbb";
  std::ofstream(token_file) << token_a << "\n";
  Daemon daemon(dir, config(dir).entry("auth.tokens", carol).toml(), daemon_env("reload"));
  daemon.start();
  const Session carol_session = sign_in(daemon, token_a);
  const Session bob_session = sign_in(daemon, tokens::bob);
  CHECK(with_session(daemon, "GET", "/v1/status", carol_session).status == 200);

  std::ofstream(token_file) << token_b << "\n";
  daemon.send_signal(SIGHUP);
  REQUIRE(eventually([&] { return daemon.get("/v1/status", token_b).status == 200; }));
  const auto ended = with_session(daemon, "GET", "/v1/status", carol_session);
  CHECK(ended.status == 401);
  CHECK(ended.headers.at("set-cookie").find("Max-Age=0") != std::string::npos);
  CHECK(with_session(daemon, "GET", "/v1/status", bob_session).status == 200);

  // Revoked in the database, not merely unrecognised: the old token back does not revive the session.
  std::ofstream(token_file) << token_a << "\n";
  daemon.send_signal(SIGHUP);
  REQUIRE(eventually([&] { return daemon.get("/v1/status", token_a).status == 200; }));
  CHECK(with_session(daemon, "GET", "/v1/status", carol_session).status == 401);
}

TEST_CASE("the console page: security headers, ETag, gzip, hashed immutable files, no inline script") {
  const auto dir = temp_dir("console_page");
  Daemon daemon(dir, config(dir).toml(), daemon_env("page"));
  daemon.start();

  const auto page = http(daemon.port(), "GET", "/ui/", "", Headers{});
  REQUIRE(page.status == 200);
  CHECK(page.headers.at("content-type") == "text/html; charset=utf-8");
  const std::string csp = page.headers.at("content-security-policy");
  for (const char* directive : {"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"})
    CHECK_MESSAGE(csp.find(directive) != std::string::npos, csp);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(page.headers.at("x-content-type-options") == "nosniff");
  CHECK(page.headers.at("referrer-policy") == "same-origin");
  CHECK(page.headers.at("x-frame-options") == "DENY");
  CHECK(page.headers.at("cache-control") == "no-cache");
  // Every script is a file of the console's own: none inline (the CSP would block it anyway).
  CHECK_FALSE(std::regex_search(page.body, std::regex("<script(?![^>]*\\ssrc=)[^>]*>")));
  CHECK(page.body.find("http://") == std::string::npos);
  CHECK(page.body.find("https://") == std::string::npos);

  // Revalidation: the same ETag answers 304 with no body.
  const std::string etag = page.headers.at("etag");
  const auto again = http(daemon.port(), "GET", "/ui/", "", Headers{{"If-None-Match", etag}});
  CHECK(again.status == 304);
  CHECK(again.body.empty());

  // gzip for a client that takes it, under its own ETag; not for one that refuses it.
  const auto zipped = http(daemon.port(), "GET", "/ui/", "", Headers{{"Accept-Encoding", "br, gzip;q=0.8"}});
  REQUIRE(zipped.status == 200);
  CHECK(zipped.headers.at("content-encoding") == "gzip");
  CHECK(zipped.headers.at("vary") == "Accept-Encoding");
  REQUIRE(zipped.body.size() > 2);
  CHECK(static_cast<unsigned char>(zipped.body[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(zipped.body[1]) == 0x8b);
  CHECK(zipped.headers.at("etag") != etag);
  CHECK(http(daemon.port(), "GET", "/ui/", "", Headers{{"Accept-Encoding", "gzip;q=0"}})
            .headers.count("content-encoding") == 0);

  // The script the page names: a hashed name, cached for good.
  std::smatch script;
  REQUIRE(std::regex_search(page.body, script, std::regex("src=\"(console-[0-9a-f]{12}\\.js)\"")));
  const auto js = http(daemon.port(), "GET", "/ui/" + script[1].str(), "", Headers{});
  REQUIRE(js.status == 200);
  CHECK(js.headers.at("content-type") == "text/javascript; charset=utf-8");
  CHECK(js.headers.at("cache-control").find("immutable") != std::string::npos);
  CHECK(js.body.find("X-CSRF-Token") != std::string::npos);
  std::smatch style;
  REQUIRE(std::regex_search(page.body, style, std::regex("href=\"(console-[0-9a-f]{12}\\.css)\"")));
  CHECK(http(daemon.port(), "GET", "/ui/" + style[1].str(), "", Headers{}).headers.at("content-type") ==
        "text/css; charset=utf-8");

  const auto missing = http(daemon.port(), "GET", "/ui/console.js", "", Headers{});
  CHECK(missing.status == 404);
  CHECK(missing.headers.count("content-security-policy") == 1);
  const auto bare = http(daemon.port(), "GET", "/ui", "", Headers{});
  CHECK(bare.status == 308);
  CHECK(bare.headers.at("location") == "/ui/");
  // API answers are not sniffed either.
  CHECK(daemon.get("/v1/status", tokens::viewer).headers.at("x-content-type-options") == "nosniff");
}

TEST_CASE("[console] enabled = false serves neither the page nor sessions") {
  const auto dir = temp_dir("console_off");
  Daemon daemon(dir, config(dir).set("console", "enabled", false).toml(), daemon_env("off"));
  daemon.start();
  CHECK(http(daemon.port(), "GET", "/ui/", "", Headers{}).status == 404);
  CHECK(http(daemon.port(), "POST", "/v1/session", json{{"token", tokens::bob}}.dump(), Headers{}).status == 404);
  // A cookie is no credential then.
  CHECK(http(daemon.port(), "GET", "/v1/status", "", Headers{{"Cookie", "promoter_session=abc"}}).status == 401);
}
