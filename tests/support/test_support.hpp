#pragma once
// Shared by the integration and end-to-end tests: throwaway databases on the pg_virtualenv cluster,
// a synchronous HTTP client, and a real promoterd process to start, kill and restart.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include <nlohmann/json.hpp>

namespace promoter::testing {

// The API identities the end-to-end configs share: their [[auth.tokens]] TOML, the tokens, and the
// environment that hands the tokens to promoterd.
namespace tokens {
inline const std::string alice = "alice-operator-token-0001";    // operator, commits as alice-gh
inline const std::string bob = "bob-operator-token-00000002";    // operator
inline const std::string ci = "ci-bot-token-000000000000003";    // ci
inline const std::string viewer = "viewer-token-0000000000004";  // viewer
}  // namespace tokens
// The shared tokens' [[auth.tokens]] TOML on its own (the benches add it to their configs; tests build theirs
// with ConfigBuilder::shared_tokens, tests/support/config_builder.hpp).
std::string auth_tokens_toml();
std::map<std::string, std::string> auth_tokens_env();

// Creates (or re-creates) database `name` on the cluster the PG* variables point at; returns its conninfo.
std::string fresh_database(const std::string& name);

// A directory of its own under the build's temp area, emptied first.
std::filesystem::path temp_dir(const std::string& name);

struct HttpReply {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json json() const;
};

// One request over a fresh connection to 127.0.0.1:port. Throws on connection failure.
HttpReply http(unsigned short port, const std::string& method, const std::string& target, const std::string& body = "",
               const std::string& token = "");

// The same with headers of the caller's choosing (Cookie, Origin, Accept-Encoding...); a "Host" among them
// replaces the default 127.0.0.1.
HttpReply http(unsigned short port, const std::string& method, const std::string& target, const std::string& body,
               const std::vector<std::pair<std::string, std::string>>& headers);

// Polls `done` until it holds or `timeout` passes: waits on an observable condition, not a guessed delay.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A promoterd process on a config written by the test; it listens on a port the OS picks.
class Daemon {
 public:
  Daemon(std::filesystem::path dir, std::string config_toml, std::map<std::string, std::string> env);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  void start();                        // spawn(), then wait_ready()
  void spawn();                        // starts the process, waiting for nothing
  void wait_ready();                   // waits until it listens and /readyz answers 200
  void kill_hard();                    // SIGKILL, as a crash
  int terminate();                     // SIGTERM; returns the exit code
  void send_signal(int signal) const;  // e.g. SIGHUP, without waiting for anything
  void restart() {
    kill_hard();
    start();
  }
  bool running() const { return pid_ > 0; }

  unsigned short port() const { return port_; }
  std::string log() const;  // everything the daemon printed so far (all runs)
  HttpReply get(const std::string& target, const std::string& token) const {
    return http(port_, "GET", target, "", token);
  }
  HttpReply post(const std::string& target, const nlohmann::json& body, const std::string& token) const {
    return http(port_, "POST", target, body.dump(), token);
  }

 private:
  std::filesystem::path dir_;
  std::filesystem::path config_path_;
  std::filesystem::path log_path_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::size_t log_offset_ = 0;  // where the current run's output starts
};

// Reports `sha` live on staging for each service (SUCCESS, as the ci token), authored by `author`: a release
// that starts soaking. Throws std::runtime_error (failing the test) with the answer when one is not 200.
void stage_release(const Daemon&, const std::string& sha,
                   const std::vector<std::string>& services = {"worker", "api", "www"},
                   const std::string& author = "alice-gh");

// Starts argv[0] (looked up in PATH) with this process's environment plus `env`, stdout and stderr into out_fd.
pid_t spawn_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, int out_fd);

// Sends `signal` to a child and reaps it; its exit code, or 128 + the signal that ended it.
int signal_and_wait(pid_t pid, int signal);

// Runs a program to completion, capturing stdout+stderr; returns the exit code.
int run_program(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                std::string& output);

}  // namespace promoter::testing
