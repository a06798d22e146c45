#include "tests/support/test_support.hpp"

#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace promoter::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http_ns = boost::beast::http;

std::string auth_tokens_toml() {
  return R"(
[[auth.tokens]]
identity = "alice"
role = "operator"
token_env = "T_ALICE"
git_authors = ["alice-gh"]
[[auth.tokens]]
identity = "bob"
role = "operator"
token_env = "T_BOB"
[[auth.tokens]]
identity = "ci-bot"
role = "ci"
token_env = "T_CI"
[[auth.tokens]]
identity = "dashboard"
role = "viewer"
token_env = "T_VIEWER"
)";
}

std::map<std::string, std::string> auth_tokens_env() {
  return {{"T_ALICE", tokens::alice}, {"T_BOB", tokens::bob}, {"T_CI", tokens::ci}, {"T_VIEWER", tokens::viewer}};
}

std::string fresh_database(const std::string& name) {
  pqxx::connection admin("dbname=postgres");
  pqxx::nontransaction n(admin);
  n.exec("DROP DATABASE IF EXISTS " + n.quote_name(name) + " WITH (FORCE)");
  n.exec("CREATE DATABASE " + n.quote_name(name));
  return "dbname=" + name;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "promoter-tests" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

nlohmann::json HttpReply::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(fmt::format("response is not JSON (status {}): {}", status, body));
  return j;
}

HttpReply http(unsigned short port, const std::string& method, const std::string& target, const std::string& body,
               const std::string& token) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return http(port, method, target, body, headers);
}

HttpReply http(unsigned short port, const std::string& method, const std::string& target, const std::string& body,
               const std::vector<std::pair<std::string, std::string>>& headers) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http_ns::request<http_ns::string_body> req{http_ns::string_to_verb(method), target, 11};
  req.set(http_ns::field::host, "127.0.0.1");
  if (!body.empty()) req.set(http_ns::field::content_type, "application/json");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  http_ns::write(stream, req);
  beast::flat_buffer buffer;
  http_ns::response<http_ns::string_body> res;
  http_ns::read(stream, buffer, res);
  HttpReply reply{res.result_int(), res.body(), {}};
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(f.value());
  }
  beast::error_code ec;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  return reply;
}

void stage_release(const Daemon& daemon, const std::string& sha, const std::vector<std::string>& services,
                   const std::string& author) {
  for (const auto& service : services) {
    const nlohmann::json body{{"service", service},
                              {"sha", sha},
                              {"deployment_id", "dep-" + service},
                              {"status", "SUCCESS"},
                              {"author", author}};
    const auto reply = daemon.post("/v1/staging-deployments", body, tokens::ci);
    if (reply.status != 200)
      throw std::runtime_error(
          fmt::format("staging deployment of {} answered {}: {}", service, reply.status, reply.body));
  }
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

namespace {

std::vector<std::string> merged_env(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> all;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) all[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : all) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

pid_t spawn_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env, int out_fd) {
  auto env_strings = merged_env(env);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  return pid;
}

int signal_and_wait(pid_t pid, int signal) {
  ::kill(pid, signal);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_program(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                std::string& output) {
  char path[] = "/tmp/promoter-run-XXXXXX";
  const int fd = mkstemp(path);
  const pid_t pid = spawn_process(argv, env, fd);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fd);
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  output = s.str();
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Daemon::Daemon(std::filesystem::path dir, std::string config_toml, std::map<std::string, std::string> env)
    : dir_(std::move(dir)),
      config_path_(dir_ / "promoter.toml"),
      log_path_(dir_ / "promoterd.log"),
      env_(std::move(env)) {
  std::ofstream(config_path_) << config_toml;
}

Daemon::~Daemon() {
  if (pid_ > 0) kill_hard();
}

std::string Daemon::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {

// The secret values among a daemon's environment: tokens, webhook secrets, and database URLs with the
// password they carry. tests/check_secrets greps promoterd.log for each after the suite.
std::vector<std::string> secrets_in(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  for (const auto& [name, value] : env) {
    if (value.size() < 8) continue;  // too short to be a credential we issued; would match by chance
    const bool secret_name = name.starts_with("T_") || name.find("TOKEN") != std::string::npos ||
                             name.find("SECRET") != std::string::npos || name.find("WEBHOOK") != std::string::npos;
    if (secret_name) out.push_back(value);
    // postgresql://user:password@host/db: the password alone must not show either.
    if (name.find("DATABASE_URL") != std::string::npos) {
      const auto scheme = value.find("://");
      const auto at = value.find('@');
      const auto colon = scheme == std::string::npos ? std::string::npos : value.find(':', scheme + 3);
      if (at != std::string::npos && colon != std::string::npos && colon < at) {
        out.push_back(value);
        if (at - colon - 1 >= 8) out.push_back(value.substr(colon + 1, at - colon - 1));
      }
      if (auto pw = value.find("password="); pw != std::string::npos) out.push_back(value);
    }
  }
  return out;
}

}  // namespace

void Daemon::start() {
  spawn();
  wait_ready();
}

void Daemon::spawn() {
  {
    std::ofstream given(dir_ / "given-secrets");
    for (const auto& s : secrets_in(env_)) given << s << '\n';
  }
  log_offset_ = std::filesystem::exists(log_path_) ? std::filesystem::file_size(log_path_) : 0;
  const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_ = spawn_process({PROMOTERD_BIN, "--config", config_path_.string()}, env_, fd);
  close(fd);
}

void Daemon::wait_ready() {
  // The daemon logs its bound address once listening; the port is whatever the OS gave it.
  const bool listening = eventually([&] {
    const std::string text = log().substr(log_offset_);
    auto at = text.find("\"msg\":\"promoterd listening\"");
    if (at == std::string::npos) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("promoterd exited during start:\n" + text);
      }
      return false;
    }
    const auto line_start = text.rfind('\n', at);
    const auto line = nlohmann::json::parse(
        text.substr(line_start == std::string::npos ? 0 : line_start + 1,
                    text.find('\n', at) - (line_start == std::string::npos ? 0 : line_start + 1)));
    const std::string address = line.at("address");
    port_ = static_cast<unsigned short>(std::stoi(address.substr(address.rfind(':') + 1)));
    return true;
  });
  if (!listening) throw std::runtime_error("promoterd did not start listening:\n" + log().substr(log_offset_));
  if (!eventually([&] {
        try {
          return http(port_, "GET", "/readyz").status == 200;
        } catch (...) {
          return false;
        }
      }))
    throw std::runtime_error("promoterd never became ready:\n" + log().substr(log_offset_));
}

void Daemon::kill_hard() {
  if (pid_ <= 0) return;
  signal_and_wait(pid_, SIGKILL);
  pid_ = -1;
}

void Daemon::send_signal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

int Daemon::terminate() {
  if (pid_ <= 0) return -1;
  const int code = signal_and_wait(pid_, SIGTERM);
  pid_ = -1;
  return code;
}

}  // namespace promoter::testing
