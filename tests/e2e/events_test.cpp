// GET /v1/events on a real promoterd: a change to a release, a promotion's steps and the audit arrive as
// Server-Sent Events in id order; a client resumes with Last-Event-ID and gets what it missed, or `reset`
// when the id is not one the log can continue from; idle streams hear heartbeats; one address holds a bounded
// number of streams; the console's cookie works as well as a token.
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <sstream>

#include "tests/support/config_builder.hpp"
#include "tests/support/sse_client.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;
using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;
using namespace std::chrono_literals;

namespace {

const std::string sha1 = "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1";
constexpr auto wait = 20s;

ConfigBuilder config(const std::filesystem::path& dir) {
  return std::move(ConfigBuilder("0s")
                       .services({"worker", "api", "www"})
                       .simulated(dir, "50ms")
                       .shared_tokens()
                       .set("server", "max_event_streams_per_peer", 3)
                       .set("server", "event_heartbeat", "200ms"));
}

std::map<std::string, std::string> daemon_env(const std::string& name) {
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_events_" + name);
  return env;
}

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

auto about(const std::string& kind, const std::string& sha = sha1) {
  return [kind, sha](const SseEvent& e) { return e.event == kind && json::parse(e.data)["sha"] == sha; };
}

}  // namespace

TEST_CASE("changes stream live in id order; a resume replays what was missed; a bad id resets") {
  const auto dir = temp_dir("events_stream");
  Daemon daemon(dir, config(dir).toml(), daemon_env("stream"));
  daemon.start();

  CHECK(SseClient(daemon.port(), "/v1/events", {}).status() == 401);
  SseClient live(daemon.port(), "/v1/events", bearer(tokens::viewer));
  REQUIRE(live.status() == 200);
  CHECK(live.headers().at("content-type") == "text/event-stream; charset=utf-8");
  CHECK(live.headers().at("cache-control") == "no-cache");

  stage_release(daemon, sha1);
  const auto staged = live.next_matching(about("release"), wait);
  REQUIRE(staged);
  const json first = json::parse(staged->data);
  CHECK(first["kind"] == "release");
  CHECK(first["id"].get<std::int64_t>() == std::stoll(staged->id));
  const std::int64_t seen = first["id"];

  // Smoke passes and bob approves: the promotion runs; its steps and the audit stream too, ids increasing.
  REQUIRE(
      daemon.post("/v1/releases/" + sha1 + "/smoke-results", {{"suite", "e2e"}, {"passed", true}}, tokens::ci).status ==
      200);
  REQUIRE(daemon.post("/v1/releases/" + sha1 + "/approve", {{"reason", "ok"}}, tokens::bob).status == 200);
  std::set<std::string> kinds;
  std::int64_t last = seen;
  bool ordered = true;
  const auto produced = live.next_matching(
      [&](const SseEvent& e) {
        const auto id = std::stoll(e.id);
        ordered = ordered && id > last;
        last = id;
        kinds.insert(e.event);
        return e.event == "production";
      },
      wait);
  REQUIRE(produced);
  CHECK(ordered);
  for (const char* kind : {"release", "promotion", "step", "audit"}) CHECK_MESSAGE(kinds.count(kind) == 1, kind);
  CHECK(json::parse(produced->data)["sha"] == sha1);
  CHECK_FALSE(json::parse(produced->data)["promotion_id"].is_null());

  // Resume from the first event: everything after it, in order, before anything new.
  SseClient resumed(daemon.port(), "/v1/events",
                    {{"Authorization", "Bearer " + tokens::viewer}, {"Last-Event-ID", std::to_string(seen)}});
  REQUIRE(resumed.status() == 200);
  std::int64_t previous = seen;
  bool contiguous_order = true;
  const auto replayed_to = resumed.next_matching(
      [&](const SseEvent& e) {
        const auto id = std::stoll(e.id);
        contiguous_order = contiguous_order && id > previous;
        previous = id;
        return id >= last;
      },
      wait);
  REQUIRE(replayed_to);
  CHECK(contiguous_order);
  CHECK(std::stoll(replayed_to->id) == last);

  // An id the log never wrote, or one from before the log began: reload everything.
  SseClient future(daemon.port(), "/v1/events",
                   {{"Authorization", "Bearer " + tokens::viewer}, {"Last-Event-ID", "999999999"}});
  const auto reset = future.next(wait);
  REQUIRE(reset);
  CHECK(reset->event == "reset");
  SseClient malformed(daemon.port(), "/v1/events",
                      {{"Authorization", "Bearer " + tokens::viewer}, {"Last-Event-ID", "12abc"}});
  CHECK(malformed.status() == 400);
  CHECK(json::parse(malformed.body())["error"]["code"] == "invalid_argument");
}

TEST_CASE("idle streams hear heartbeats; one address holds at most its cap; a closed stream frees its place") {
  const auto dir = temp_dir("events_caps");
  Daemon daemon(dir, config(dir).toml(), daemon_env("caps"));
  daemon.start();

  auto a = std::make_unique<SseClient>(daemon.port(), "/v1/events", bearer(tokens::viewer));
  SseClient b(daemon.port(), "/v1/events", bearer(tokens::viewer));
  SseClient c(daemon.port(), "/v1/events", bearer(tokens::ci));
  REQUIRE(a->status() == 200);
  REQUIRE(b.status() == 200);
  REQUIRE(c.status() == 200);
  SseClient d(daemon.port(), "/v1/events", bearer(tokens::viewer));
  CHECK(d.status() == 429);
  CHECK(json::parse(d.body())["error"]["code"] == "too_many_subscribers");
  CHECK(d.headers().count("retry-after") == 1);

  // With nothing happening, comments keep the stream (and any proxy on the way) alive.
  REQUIRE(eventually([&] {
    b.next(50ms);
    return b.comments() >= 3;
  }));

  // A client that went away is noticed at the next heartbeat; its place is free again.
  a.reset();
  REQUIRE(eventually([&] { return SseClient(daemon.port(), "/v1/events", bearer(tokens::viewer)).status() == 200; }));
}

TEST_CASE("a console session streams events with its cookie") {
  const auto dir = temp_dir("events_cookie");
  Daemon daemon(dir, config(dir).toml(), daemon_env("cookie"));
  daemon.start();
  const auto signed_in = http(daemon.port(), "POST", "/v1/session", json{{"token", tokens::viewer}}.dump(), Headers{});
  REQUIRE(signed_in.status == 201);
  const std::string cookie = signed_in.headers.at("set-cookie").substr(0, signed_in.headers.at("set-cookie").find(';'));
  SseClient stream(daemon.port(), "/v1/events", {{"Cookie", cookie}});
  REQUIRE(stream.status() == 200);
  stage_release(daemon, sha1);
  CHECK(stream.next_matching(about("release"), wait));
  // Stopping promoterd ends the stream rather than waiting for its client.
  CHECK(daemon.terminate() == 0);
  CHECK_FALSE(stream.next_matching([](const SseEvent&) { return false; }, wait));
  CHECK(stream.closed());
}

TEST_CASE("promotectl watch prints the stream, replays from --since, and stops after --limit") {
  const auto dir = temp_dir("events_watch");
  Daemon daemon(dir, config(dir).toml(), daemon_env("watch"));
  daemon.start();
  stage_release(daemon, sha1);
  const std::map<std::string, std::string> env{{"PROMOTER_URL", "http://127.0.0.1:" + std::to_string(daemon.port())},
                                               {"PROMOTER_TOKEN", tokens::viewer}};

  std::string out;
  REQUIRE_MESSAGE(run_program({PROMOTECTL_BIN, "watch", "--since", "0", "--limit", "3"}, env, out) == 0, out);
  std::istringstream lines(out);
  int printed = 0;
  for (std::string line; std::getline(lines, line); ++printed) {
    CHECK_MESSAGE(std::regex_search(line, std::regex("^2026-[0-9-]+ [0-9:]+Z  (release|audit) +" + sha1.substr(0, 12))),
                  line);
    if (printed == 0) CHECK_MESSAGE(line.find("  release    ") != std::string::npos, line);
  }
  CHECK(printed == 3);

  REQUIRE(run_program({PROMOTECTL_BIN, "--output", "json", "watch", "--since", "1", "--limit", "2"}, env, out) == 0);
  std::istringstream ndjson(out);
  std::vector<json> events;
  for (std::string line; std::getline(ndjson, line);) events.push_back(json::parse(line));
  REQUIRE(events.size() == 2);
  CHECK(events[0]["id"].get<int>() > 1);
  CHECK(events[1]["id"].get<int>() > events[0]["id"].get<int>());
  CHECK(events[0]["sha"] == sha1);

  CHECK(run_program({PROMOTECTL_BIN, "watch", "--since", "x"}, env, out) == 2);
  CHECK(run_program({PROMOTECTL_BIN, "watch", "--limit", "1"},
                    {{"PROMOTER_URL", env.at("PROMOTER_URL")}, {"PROMOTER_TOKEN", "not-a-token"}}, out) == 1);
  CHECK_MESSAGE(out.find("HTTP 401") != std::string::npos, out);
}
