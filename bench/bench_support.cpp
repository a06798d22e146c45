#include "bench/bench_support.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace promoter::bench {

namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Promoterd::Promoterd(std::filesystem::path dir, std::string config_toml, std::map<std::string, std::string> env)
    : dir_(std::move(dir)),
      config_path_(dir_ / "promoter.toml"),
      log_path_(dir_ / "promoterd.log"),
      env_(std::move(env)) {
  std::ofstream(config_path_) << config_toml;
}

Promoterd::~Promoterd() {
  if (pid_ > 0) kill_hard();
}

std::string Promoterd::log() const { return read_file(log_path_); }

void Promoterd::spawn() {
  log_offset_ = std::filesystem::exists(log_path_) ? std::filesystem::file_size(log_path_) : 0;
  const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  spawned_at_ = Clock::now();
  pid_ = testing::spawn_process({PROMOTERD_BIN, "--config", config_path_.string()}, env_, fd);
  close(fd);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    const std::string text = log().substr(log_offset_);
    if (auto at = text.find("\"msg\":\"promoterd listening\""); at != std::string::npos) {
      const auto line_start = text.rfind('\n', at);
      const auto begin = line_start == std::string::npos ? 0 : line_start + 1;
      const auto line = nlohmann::json::parse(text.substr(begin, text.find('\n', at) - begin));
      const std::string address = line.at("address");
      port_ = static_cast<unsigned short>(std::stoi(address.substr(address.rfind(':') + 1)));
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("promoterd exited during start:\n" + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  throw std::runtime_error("promoterd did not start listening:\n" + log().substr(log_offset_));
}

Clock::time_point Promoterd::wait_ready(std::chrono::milliseconds every, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    try {
      if (get("/readyz").status == 200) return Clock::now();
    } catch (...) {
    }
    std::this_thread::sleep_for(every);
  }
  throw std::runtime_error("promoterd never became ready:\n" + log().substr(log_offset_));
}

void Promoterd::kill_hard() {
  if (pid_ <= 0) return;
  testing::signal_and_wait(pid_, SIGKILL);
  pid_ = -1;
}

int Promoterd::terminate() {
  if (pid_ <= 0) return -1;
  const int code = testing::signal_and_wait(pid_, SIGTERM);
  pid_ = -1;
  return code;
}

double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return std::nan("");
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
  return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
}

namespace {

long status_field(const std::string& text, const std::string& name) {
  auto at = text.find("\n" + name + ":");
  if (at == std::string::npos) return 0;
  return std::stol(text.substr(at + name.size() + 2));
}

}  // namespace

ProcSample sample_process(pid_t pid) {
  ProcSample s;
  const std::filesystem::path proc = fmt::format("/proc/{}", pid);
  const std::string status = "\n" + read_file(proc / "status");
  s.rss_kb = status_field(status, "VmRSS");
  s.hwm_kb = status_field(status, "VmHWM");
  // utime and stime are fields 14 and 15 of /proc/pid/stat, counted after the ")" that ends the name.
  const std::string stat = read_file(proc / "stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 15 && fields >> field; ++i)
    if (i == 14 || i == 15) s.cpu_ticks += std::stoll(field);
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(proc / "task", ec)) {
    const std::string t = "\n" + read_file(task.path() / "status");
    s.switches += status_field(t, "voluntary_ctxt_switches") + status_field(t, "nonvoluntary_ctxt_switches");
    ++s.threads;
  }
  return s;
}

long clock_ticks_per_second() { return sysconf(_SC_CLK_TCK); }

void row(const std::string& measure, const std::string& figure, const std::string& target, bool met) {
  std::cout << "ROW\t" << measure << "\t" << figure << "\t" << target << "\t" << (met ? "met" : "MISSED") << std::endl;
}

void info(const std::string& measure, const std::string& figure) {
  std::cout << "ROW\t" << measure << "\t" << figure << "\t-\t-" << std::endl;
}

std::string ms(double milliseconds) {
  if (std::isnan(milliseconds)) return "n/a";
  if (std::abs(milliseconds) < 10) return fmt::format("{:.2f} ms", milliseconds);
  if (std::abs(milliseconds) < 100) return fmt::format("{:.1f} ms", milliseconds);
  return fmt::format("{:.0f} ms", milliseconds);
}

int run(const std::vector<std::string>& argv, std::string& output, const std::map<std::string, std::string>& env) {
  char path[] = "/tmp/promoter-bench-run-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  const pid_t pid = testing::spawn_process(argv, env, fd);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fd);
  output = read_file(path);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string sha_of(std::uint64_t n, unsigned prefix) { return fmt::format("{:08x}{:032x}", prefix, n); }

}  // namespace promoter::bench
