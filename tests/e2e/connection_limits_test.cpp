// The real promoterd at its connection limits: idle and slow sockets cannot take the API down. Each test
// client connects from its own loopback address (127.0.0.x), so the daemon sees distinct peers. Nothing
// here sleeps: every wait is for an event (a response, the server closing a socket).
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <cerrno>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <vector>

#include "tests/support/config_builder.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter::testing;

namespace {

// A raw TCP connection to 127.0.0.1:port from the loopback address `from`.
class RawClient {
 public:
  RawClient(const std::string& from, unsigned short port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
      throw std::runtime_error("cannot bind to " + from);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0)
      throw std::runtime_error("cannot connect from " + from);
    // A guard so a daemon that never closes fails the test instead of hanging it; not a measurement.
    timeval guard{60, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard);
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  void send(const std::string& text) {
    if (::send(fd_, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size()))
      throw std::runtime_error("send failed");
  }

  // Everything the server sends until it closes the connection; nullopt if it was still open at the guard.
  std::optional<std::string> read_to_close() {
    std::string data;
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        data.append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0 || errno == ECONNRESET) {
        return data;
      } else if (errno != EINTR) {
        return std::nullopt;
      }
    }
  }

 private:
  int fd_;
};

std::string get(const std::string& target) { return "GET " + target + " HTTP/1.1\r\nHost: promoterd\r\n\r\n"; }

// The value of a sample in a /metrics exposition, e.g. series = promoter_x_total{reason="per_peer"}; -1 if absent.
double sample(const std::string& exposition, const std::string& series) {
  const auto at = exposition.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + series.size() + 2));
}

double refused(const HttpReply& metrics, const std::string& reason) {
  return sample(metrics.body, fmt::format("promoter_http_connections_refused_total{{reason=\"{}\"}}", reason));
}

// The shared e2e config with `server_keys` added to its [server] table.
std::string config_with(const std::filesystem::path& dir, const TomlKeys& server_keys) {
  return ConfigBuilder("30m").table("server", server_keys).service("api").simulated(dir).shared_tokens().toml();
}

std::map<std::string, std::string> daemon_env(const std::string& database) {
  auto env = auth_tokens_env();
  env["PROMOTER_DATABASE_URL"] = fresh_database(database);
  return env;
}

}  // namespace

TEST_CASE("idle sockets at max_connections cannot take /healthz down; per-peer excess is refused and counted") {
  const auto dir = temp_dir("connection_limits");
  Daemon daemon(dir,
                config_with(dir, {{"max_connections", 8}, {"max_connections_per_peer", 4}, {"header_timeout", "60s"}}),
                daemon_env("promoter_connection_limits"));
  daemon.start();
  const auto port = daemon.port();

  // Two peers fill every general slot with sockets that never send a byte.
  std::vector<std::unique_ptr<RawClient>> idle;
  for (const std::string peer : {"127.0.0.2", "127.0.0.3"}) {
    for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<RawClient>(peer, port));
    // One more from the same peer is over its own limit: refused at once, whatever the request.
    RawClient excess(peer, port);
    const auto answer = excess.read_to_close();
    REQUIRE(answer.has_value());
    CAPTURE(*answer);
    CHECK(answer->starts_with("HTTP/1.1 503"));
    CHECK(answer->find("\"too_many_connections\"") != std::string::npos);
    CHECK(answer->find("Retry-After: 1") != std::string::npos);
  }

  // The general limit is reached: a third peer's API request gets 503 with Retry-After...
  {
    RawClient api("127.0.0.4", port);
    api.send(get("/v1/status"));
    const auto answer = api.read_to_close();
    REQUIRE(answer.has_value());
    CAPTURE(*answer);
    CHECK(answer->starts_with("HTTP/1.1 503"));
    CHECK(answer->find("\"unavailable\"") != std::string::npos);
    CHECK(answer->find("Retry-After: 1") != std::string::npos);
  }
  // ...while health checks and scrapes from a monitor still get through the reserve, every time.
  int healthy = 0;
  for (int i = 0; i < 50; ++i) healthy += http(port, "GET", "/healthz").status == 200 ? 1 : 0;
  CHECK(healthy == 50);
  CHECK(http(port, "GET", "/readyz").status == 200);
  const auto metrics = http(port, "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(refused(metrics, "per_peer") == 2);
  CHECK(refused(metrics, "max_connections") >= 1);
  CHECK(refused(metrics, "header_timeout") == 0);

  // Once the idle sockets go, the API answers again (401 here: no token).
  idle.clear();
  CHECK(eventually([&] { return http(port, "GET", "/v1/status").status == 401; }));
}

TEST_CASE("a client that never finishes its request header, or never speaks, is closed after header_timeout") {
  const auto dir = temp_dir("header_timeout");
  Daemon daemon(
      dir, config_with(dir, {{"max_connections", 8}, {"max_connections_per_peer", 4}, {"header_timeout", "300ms"}}),
      daemon_env("promoter_header_timeout"));
  daemon.start();
  const auto port = daemon.port();

  // Half a header, then nothing: the daemon closes the connection without answering.
  RawClient slow("127.0.0.2", port);
  slow.send("GET /v1/status HTTP/1.1\r\nHost: promoterd\r\nX-Slow: ");
  const auto slow_end = slow.read_to_close();
  REQUIRE(slow_end.has_value());
  CHECK(slow_end->empty());

  // A connection that never sends a byte.
  RawClient silent("127.0.0.3", port);
  const auto silent_end = silent.read_to_close();
  REQUIRE(silent_end.has_value());
  CHECK(silent_end->empty());

  // A keep-alive connection is served, then closed once idle for header_timeout.
  RawClient keep_alive("127.0.0.4", port);
  keep_alive.send(get("/healthz"));
  const auto served = keep_alive.read_to_close();
  REQUIRE(served.has_value());
  CHECK(served->starts_with("HTTP/1.1 200"));
  CHECK(served->find("\"ok\"") != std::string::npos);

  // The two that never sent a header count; a keep-alive connection closed between requests does not.
  const auto metrics = http(port, "GET", "/metrics");
  CHECK(refused(metrics, "header_timeout") == 2);
  CHECK(http(port, "GET", "/healthz").status == 200);
}

TEST_CASE("server limits in the config are checked: file:line:col and exit 2") {
  const auto dir = temp_dir("server_limits_config");
  const auto env = daemon_env("promoter_server_limits_config");
  struct Bad {
    TomlKeys keys;
    std::string message;
  };
  const std::vector<Bad> cases{
      {{{"max_connections", 0}}, "server.max_connections = 0 is out of range"},
      {{{"max_connections", 8}, {"max_connections_per_peer", 9}},
       "server.max_connections_per_peer = 9 is above server.max_connections = 8"},
      {{{"header_timeout", "10ms"}}, "server.header_timeout = \"10ms\" must be between 100ms and 5m"},
      {{{"header_timeout", 5}}, "server.header_timeout must be a string"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.message);
    const auto path = dir / "promoter.toml";
    std::ofstream(path) << config_with(dir, c.keys);
    std::string output;
    CHECK(run_program({PROMOTERD_BIN, "--config", path.string(), "--check"}, env, output) == 2);
    CAPTURE(output);
    CHECK(std::regex_search(output, std::regex("^" + path.string() + ":[34]:[0-9]+: ")));
    CHECK(output.find(c.message) != std::string::npos);
  }
}
