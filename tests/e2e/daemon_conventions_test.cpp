// End to end: how promoterd behaves as a service. SIGTERM drains and exits 0 (a promotion cut short
// resumes on restart, each step once); SIGHUP reloads tokens and refuses a broken config; systemd hears
// READY, WATCHDOG, RELOADING and STOPPING; every log line is one JSON object; the unit file verifies.
#include <csignal>
#include <cstdio>
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;
using nlohmann::json;

namespace {

using tokens::bob;
using tokens::ci;
using tokens::viewer;

const std::string sha1 = "1111111111111111111111111111111111111111";

ConfigBuilder config(const std::string& soak, const std::filesystem::path& dir, const std::string& step_delay) {
  return std::move(ConfigBuilder(soak).services({"worker", "api", "www"}).simulated(dir, step_delay).shared_tokens());
}

std::map<std::string, std::string> daemon_env(const std::string& name) {
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database("promoter_conv_" + name);
  return env;
}

std::vector<json> effects(const std::filesystem::path& dir) {
  std::vector<json> out;
  std::ifstream in(dir / "effects.jsonl");
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

void make_ready_for_promotion(const Daemon& d) {
  for (const char* status : {"BUILDING", "SUCCESS"})
    for (const char* s : {"worker", "api", "www"}) {
      auto r = d.post("/v1/staging-deployments",
                      {{"service", s},
                       {"sha", sha1},
                       {"deployment_id", std::string("dep-") + s},
                       {"status", status},
                       {"author", "alice-gh"}},
                      ci);
      REQUIRE_MESSAGE(r.status == 200, r.body);
    }
  REQUIRE(d.post("/v1/releases/" + sha1 + "/smoke-results", {{"suite", "e2e"}, {"passed", true}}, ci).status == 200);
  REQUIRE(d.post("/v1/releases/" + sha1 + "/approve", json::object(), bob).status == 200);
}

// The last log line whose msg is `msg`, parsed; null if none.
json last_line(const Daemon& d, const std::string& msg) {
  std::istringstream lines(d.log());
  std::string line;
  json found;
  while (std::getline(lines, line)) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("msg", "") == msg) found = j;
  }
  return found;
}

bool promoted(const Daemon& d) {
  auto r = d.get("/v1/releases/" + sha1, viewer);
  return r.status == 200 && r.json()["state"] == "promoted";
}

// A unix datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof(addr.sun_path));
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    std::filesystem::remove(path);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  }
  ~NotifySocket() {
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  // Every message received so far, in order.
  const std::vector<std::string>& messages() {
    char buffer[4096];
    for (;;) {
      const auto n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      messages_.emplace_back(buffer, static_cast<std::size_t>(n));
    }
    return messages_;
  }
  // Index of the first message at or after `from` that has the line `assignment`, or -1.
  int find(const std::string& assignment, std::size_t from = 0) {
    const auto& all = messages();
    for (std::size_t i = from; i < all.size(); ++i) {
      std::istringstream lines(all[i]);
      std::string line;
      while (std::getline(lines, line))
        if (line == assignment) return static_cast<int>(i);
    }
    return -1;
  }
  int count(const std::string& assignment) {
    int n = 0;
    for (int at = find(assignment); at >= 0; at = find(assignment, static_cast<std::size_t>(at) + 1)) ++n;
    return n;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<std::string> messages_;
};

}  // namespace

TEST_CASE("SIGTERM mid-promotion exits 0; after a restart the promotion finishes with each step once") {
  const auto dir = temp_dir("conv_drain");
  Daemon daemon(dir, config("1s", dir, "400ms").toml(), daemon_env("drain"));
  daemon.start();
  make_ready_for_promotion(daemon);
  // Part-way: some steps recorded, not all.
  REQUIRE(eventually([&] { return effects(dir).size() >= 2; }));
  CHECK(daemon.terminate() == 0);
  const auto before = effects(dir).size();
  CHECK(before < 5);
  const std::string first_run = daemon.log();
  CHECK(first_run.find("\"msg\":\"promoterd stopping: no new requests; running steps resume on restart\"") !=
        std::string::npos);
  CHECK(first_run.find("\"msg\":\"promoterd stopped\"") != std::string::npos);

  daemon.start();
  REQUIRE(eventually([&] { return promoted(daemon); }));
  std::map<std::string, int> counts;
  for (const auto& e : effects(dir)) ++counts[e["key"].get<std::string>()];
  CHECK(counts.size() == 5);
  for (const auto& [key, n] : counts) CHECK_MESSAGE(n == 1, key);
  CHECK(daemon.terminate() == 0);

  // Every line printed (both runs) is one JSON object; promotion lines carry the SHA and the promotion id.
  std::istringstream lines(daemon.log());
  std::string line;
  int lines_seen = 0, promotion_lines = 0;
  std::set<std::string> step_messages;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    ++lines_seen;
    const json j = json::parse(line, nullptr, false);
    REQUIRE_MESSAGE((j.is_object() && j.contains("ts") && j.contains("level") && j.contains("msg")), line);
    const std::string msg = j["msg"];
    const bool about_promotion = j.contains("promotion_id") || msg.starts_with("step ") ||
                                 msg.starts_with("promotion ") || msg.find("interrupted step") != std::string::npos;
    if (!about_promotion) continue;
    ++promotion_lines;
    CHECK_MESSAGE(j.contains("promotion_id"), line);
    CHECK_MESSAGE((j.contains("sha") && j["sha"] == sha1), line);
    if (msg.starts_with("step ")) step_messages.insert(msg);
  }
  CHECK(lines_seen > 10);
  CHECK(promotion_lines >= 10);  // 7 steps started and succeeded, created, started, ended, resumed
  CHECK(step_messages.count("step started") == 1);
  CHECK(step_messages.count("step succeeded") == 1);
}

TEST_CASE("SIGHUP reloads tokens from their files; a broken config is refused and the running tokens stay") {
  const auto dir = temp_dir("conv_reload");
  const auto token_file = dir / "carol.token";
  const TomlKeys carol{{"identity", "carol"}, {"role", "viewer"}, {"token_file", token_file.string()}};
  const std::string good = config("1h", dir, "0ms").entry("auth.tokens", carol).toml();
  const std::string token_a = "carol-token-aaaaaaaaaaaaaaaa", token_b = "carol-token-bbbbbbbbbbbbbbbb",
                    token_c = "carol-token-cccccccccccccccc";
  std::ofstream(token_file) << token_a << "\n";
  Daemon daemon(dir, good, daemon_env("reload"));
  daemon.start();
  CHECK(daemon.get("/v1/releases", token_a).status == 200);
  CHECK(daemon.get("/v1/releases", token_b).status == 401);

  // A rotated token: the new one works after SIGHUP, the old one is refused.
  std::ofstream(token_file) << token_b << "\n";
  daemon.send_signal(SIGHUP);
  REQUIRE(eventually([&] { return daemon.get("/v1/releases", token_b).status == 200; }));
  CHECK(daemon.get("/v1/releases", token_a).status == 401);
  CHECK(daemon.get("/v1/releases", viewer).status == 200);  // tokens from the environment stay
  CHECK(daemon.log().find("\"msg\":\"configuration reloaded\"") != std::string::npos);

  // A broken config is refused with file:line:col; the running tokens keep working, the new file is unread.
  TomlKeys carol_with_colour = carol;
  carol_with_colour.emplace_back("colour", "blue");
  std::ofstream(dir / "promoter.toml") << config("1h", dir, "0ms").entry("auth.tokens", carol_with_colour).toml();
  std::ofstream(token_file) << token_c << "\n";
  daemon.send_signal(SIGHUP);
  const std::string refused = "configuration reload refused; the running configuration stays";
  REQUIRE(eventually([&] { return !last_line(daemon, refused).is_null(); }));
  const std::string why = last_line(daemon, refused)["error"];
  CHECK_MESSAGE(
      std::regex_search(why, std::regex(R"(promoter\.toml:[0-9]+:[0-9]+: unknown key 'auth\.tokens\.colour')")), why);
  CHECK(daemon.get("/v1/releases", token_b).status == 200);
  CHECK(daemon.get("/v1/releases", token_c).status == 401);

  // A change that needs a restart is named, not silently ignored; the reloadable part still applies.
  std::ofstream(dir / "promoter.toml") << config("2h", dir, "0ms").entry("auth.tokens", carol).toml();
  daemon.send_signal(SIGHUP);
  REQUIRE(eventually([&] { return daemon.get("/v1/releases", token_c).status == 200; }));
  CHECK(daemon.get("/v1/releases", token_b).status == 401);
  const std::string needs_restart =
      "configuration reload: these sections changed but apply only on restart; restart to apply";
  REQUIRE(eventually([&] { return !last_line(daemon, needs_restart).is_null(); }));
  const json restart = last_line(daemon, needs_restart);
  CHECK(restart["level"] == "warn");
  CHECK(restart["sections"] == json::array({"policy"}));
  // Tokens never reach the log.
  for (const auto& t : {token_a, token_b, token_c}) CHECK(daemon.log().find(t) == std::string::npos);
  CHECK(daemon.terminate() == 0);
}

TEST_CASE("promoterd tells systemd READY, WATCHDOG, RELOADING and STOPPING over NOTIFY_SOCKET") {
  const auto dir = temp_dir("conv_notify");
  NotifySocket sock(dir / "notify.sock");
  auto env = daemon_env("notify");
  env["NOTIFY_SOCKET"] = (dir / "notify.sock").string();
  env["WATCHDOG_USEC"] = "200000";  // pings every 100ms
  Daemon daemon(dir, config("1h", dir, "0ms").toml(), env);
  daemon.start();
  REQUIRE(eventually([&] { return sock.find("READY=1") >= 0; }));
  const int ready = sock.find("READY=1");
  CHECK(sock.messages()[static_cast<std::size_t>(ready)].find("STATUS=ready: listening on 127.0.0.1:") !=
        std::string::npos);
  // Pings keep coming while the io thread runs.
  REQUIRE(eventually([&] { return sock.count("WATCHDOG=1") >= 3; }));

  daemon.send_signal(SIGHUP);
  REQUIRE(eventually([&] { return sock.find("RELOADING=1") >= 0; }));
  const int reloading = sock.find("RELOADING=1");
  CHECK(sock.messages()[static_cast<std::size_t>(reloading)].find("MONOTONIC_USEC=") != std::string::npos);
  REQUIRE(eventually([&] { return sock.find("READY=1", static_cast<std::size_t>(reloading)) > reloading; }));

  CHECK(daemon.terminate() == 0);
  const int stopping = sock.find("STOPPING=1");
  CHECK(stopping > reloading);
}

TEST_CASE("deploy/systemd/promoterd.service passes systemd-analyze verify") {
  const std::filesystem::path unit =
      std::filesystem::path(PROMOTER_SOURCE_DIR) / "deploy" / "systemd" / "promoterd.service";
  REQUIRE(std::filesystem::exists(unit));
  std::string out;
  if (run_program({"sh", "-c", "command -v systemd-analyze"}, {}, out) != 0) {
    MESSAGE("systemd-analyze is not installed: the unit file was not verified (apt-get install systemd)");
    return;
  }
  // verify checks that ExecStart's binary exists: check a copy that starts this build's promoterd instead
  // of /usr/local/bin/promoterd. Everything else is the unit as shipped.
  std::ifstream in(unit);
  std::stringstream text;
  text << in.rdbuf();
  const std::string copy = std::regex_replace(text.str(), std::regex("/usr/local/bin/promoterd"), PROMOTERD_BIN);
  REQUIRE(copy != text.str());
  const auto dir = temp_dir("conv_unit");
  std::ofstream(dir / "promoterd.service") << copy;
  const int code = run_program({"systemd-analyze", "verify", (dir / "promoterd.service").string()}, {}, out);
  CHECK_MESSAGE(code == 0, out);
  CHECK_MESSAGE(out.empty(), out);  // an unknown or misspelt key is only a warning, but a warning is a failure
}

TEST_CASE("a malformed database URL stops promoterd with a clear error that never shows its password") {
  // libpq quotes a URI it cannot parse in full, password included; promoterd must redact it everywhere.
  const std::string password = "S3cretPassw0rd-malformed";
  const std::string url = "postgres://u:" + password + "@[::1";
  auto dir = temp_dir("malformed_database_url");
  std::ofstream(dir / "promoter.toml") << config("1h", dir, "0ms").toml();
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = url;
  std::string out;
  const int code = run_program({PROMOTERD_BIN, "--config", (dir / "promoter.toml").string()}, env, out);
  // Left where tests/scripts/check_secrets looks, so the suite-wide secrets check covers this run too.
  std::ofstream(dir / "promoterd.log") << out;
  std::ofstream(dir / "given-secrets") << password << "\n" << url << "\n";
  CHECK(code == 1);
  CHECK_MESSAGE(out.find(password) == std::string::npos, out);
  CHECK_MESSAGE(out.find("\"msg\":\"cannot start\"") != std::string::npos, out);
  CHECK_MESSAGE(out.find("the database connection string is malformed") != std::string::npos, out);
  CHECK_MESSAGE(out.find("postgres://u:***@[::1") != std::string::npos, out);
  CHECK_MESSAGE(out.find("retrying") == std::string::npos, out);  // a configuration error, not an outage
}

TEST_CASE("SIGTERM while promoterd waits for the database at start-up stops it at once with exit 0") {
  // A port bound but never listened on: every connection attempt is refused, so promoterd keeps waiting.
  const int blocker = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(blocker >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(blocker, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(blocker, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const unsigned port = ntohs(addr.sin_port);

  auto dir = temp_dir("sigterm_waiting_for_database");
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fmt::format("host=127.0.0.1 port={} dbname=promoter user=promoter", port);
  Daemon d(dir, config("1h", dir, "0ms").toml(), env);
  d.spawn();
  REQUIRE_MESSAGE(eventually([&] { return d.log().find("database not reachable yet; retrying") != std::string::npos; }),
                  d.log());
  const int code = d.terminate();
  ::close(blocker);
  CHECK_MESSAGE(code == 0, d.log());
  const json stopped = last_line(d, "promoterd stopped");
  REQUIRE_MESSAGE(stopped.is_object(), d.log());
  CHECK(stopped["reason"] == "stop requested while waiting for the database");
  CHECK(stopped["signal"] == "SIGTERM");
  CHECK_MESSAGE(d.log().find("\"msg\":\"cannot start\"") == std::string::npos, d.log());
}
