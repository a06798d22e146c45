#pragma once
// Shared by the bench programs: a promoterd process whose pid and start instant are known (for /proc
// sampling and start-to-ready timing), percentiles, /proc readings, and the one output format
// scripts/bench collects into its table:
//   ROW<TAB>measure<TAB>figure<TAB>target<TAB>verdict
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "tests/support/test_support.hpp"

namespace promoter::bench {

using Clock = std::chrono::steady_clock;

// A promoterd on a config written by the bench; it listens on a port the OS picks.
class Promoterd {
 public:
  Promoterd(std::filesystem::path dir, std::string config_toml, std::map<std::string, std::string> env);
  ~Promoterd();
  Promoterd(const Promoterd&) = delete;
  Promoterd& operator=(const Promoterd&) = delete;

  // Forks promoterd and waits until it logs its port; `spawned_at()` is the instant just before fork.
  void spawn();
  // Polls /readyz every `every` until 200; returns the instant it answered 200.
  Clock::time_point wait_ready(std::chrono::milliseconds every = std::chrono::milliseconds(5),
                               std::chrono::seconds timeout = std::chrono::seconds(120));
  void start() {
    spawn();
    wait_ready();
  }
  int terminate();  // SIGTERM, waits; the exit code
  void kill_hard();

  pid_t pid() const { return pid_; }
  unsigned short port() const { return port_; }
  Clock::time_point spawned_at() const { return spawned_at_; }
  std::string log() const;
  testing::HttpReply get(const std::string& target, const std::string& token = "") const {
    return testing::http(port_, "GET", target, "", token);
  }
  testing::HttpReply post(const std::string& target, const std::string& body, const std::string& token = "") const {
    return testing::http(port_, "POST", target, body, token);
  }

 private:
  std::filesystem::path dir_, config_path_, log_path_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  std::size_t log_offset_ = 0;
  Clock::time_point spawned_at_{};
};

// Percentile p (0..100) of the samples, nearest-rank; NaN when empty. Sorts a copy.
double percentile(std::vector<double> samples, double p);

// /proc readings of a process, summed over all its threads where that applies.
struct ProcSample {
  long rss_kb = 0;          // VmRSS
  long hwm_kb = 0;          // VmHWM (peak RSS)
  long long cpu_ticks = 0;  // utime + stime, clock ticks
  long long switches = 0;   // voluntary + nonvoluntary context switches of every thread
  int threads = 0;
};
ProcSample sample_process(pid_t pid);
long clock_ticks_per_second();

// One table row for scripts/bench (also readable on its own).
void row(const std::string& measure, const std::string& figure, const std::string& target, bool met);
// A row with no target (context figures such as the floor or pgbench's rate).
void info(const std::string& measure, const std::string& figure);

// "1.23 ms" style formatting.
std::string ms(double milliseconds);

// Runs `argv`, returns its exit code and combined output; throws if it cannot start.
int run(const std::vector<std::string>& argv, std::string& output, const std::map<std::string, std::string>& env = {});

// The conninfo of a fresh database on the pg_virtualenv cluster.
inline std::string fresh_database(const std::string& name) { return testing::fresh_database(name); }

// A commit SHA for a bench-generated release: 40 hex digits from a number.
std::string sha_of(std::uint64_t n, unsigned prefix = 0);

}  // namespace promoter::bench
