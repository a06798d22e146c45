#include "adapters/command_runner.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <csignal>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fcntl.h>
#include <fmt/format.h>
#include <fstream>
#include <poll.h>
#include <spawn.h>
#include <string_view>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

namespace promoter::adapters {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// When the leader has exited, output is still read this long before the rest of its group is killed.
constexpr milliseconds kDrainAfterExit{200};
// After that SIGKILL, output is read this much longer for the end of file: a process that left the
// group (setsid) may hold the pipe forever, and is not waited for.
constexpr milliseconds kDrainAfterKill{1'000};
// Without a pidfd (kernels before 5.3) the leader is checked this often.
constexpr milliseconds kExitCheckTick{20};
constexpr std::string_view kRedacted = "[redacted]";

std::string errno_text(int e) { return std::system_category().message(e); }

// A file descriptor closed on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// The fields of /proc/<pid>/stat this module needs.
struct ProcStat {
  char state = '?';
  pid_t pgrp = 0;
  std::string start_time;  // field 22, clock ticks since boot
};

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so fields count from the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state)
  std::string_view rest = std::string_view(line).substr(close + 1);
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto end = std::min(rest.find(' '), rest.size());
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  if (fields.size() < 20 || fields[0].empty()) return std::nullopt;
  ProcStat s;
  s.state = fields[0][0];
  if (std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), s.pgrp).ec != std::errc{}) {
    return std::nullopt;
  }
  s.start_time = std::string(fields[19]);
  return s;
}

bool exited(char state) { return state == 'Z' || state == 'X' || state == 'x'; }

// Is any process of group `pgid` (the leader aside) still running?
bool live_member_besides_leader(pid_t pgid) {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc", ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    pid_t pid = 0;
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc{} || pid == pgid) continue;
    auto s = read_proc_stat(pid);
    if (s && s->pgrp == pgid && !exited(s->state)) return true;
  }
  return false;
}

// Streams output through redaction into a tail of at most `cap` bytes. Secrets never reach the tail,
// so cutting its head cannot leave part of one behind; a secret split across reads is still found.
class OutputTail {
 public:
  OutputTail(std::size_t cap, const std::vector<std::string>& redact) : cap_(cap) {
    for (const auto& s : redact) {
      if (s.empty()) continue;
      secrets_.push_back(s);
      longest_ = std::max(longest_, s.size());
    }
  }

  void feed(std::string_view bytes) {
    pending_.append(bytes);
    flush(false);
  }

  // The redacted tail as valid UTF-8, at most `cap` bytes, starting at a character boundary.
  std::string finish() {
    flush(true);
    std::string_view kept = tail_;
    if (kept.size() > cap_) {
      kept.remove_prefix(kept.size() - cap_);
      truncated_ = true;
    }
    // A cut inside a character leaves continuation bytes at the head: drop them rather than show U+FFFD.
    if (truncated_) {
      for (int i = 0; i < 3 && !kept.empty() && (static_cast<unsigned char>(kept.front()) & 0xC0) == 0x80; ++i) {
        kept.remove_prefix(1);
      }
    }
    std::string out = valid_utf8(kept);
    if (out.size() > cap_) {  // replacement characters are longer than the bytes they replace
      std::size_t from = out.size() - cap_;
      while (from < out.size() && (static_cast<unsigned char>(out[from]) & 0xC0) == 0x80) ++from;
      out.erase(0, from);
      truncated_ = true;
    }
    return out;
  }

  bool truncated() const { return truncated_; }

 private:
  // Replaces secrets leftmost first (the longest at a position). Until `all`, positions where a secret
  // could still extend into the next read are held back.
  void flush(bool all) {
    std::string out;
    std::size_t pos = 0;
    const std::size_t limit =
        all || secrets_.empty() ? pending_.size() : (pending_.size() >= longest_ ? pending_.size() - longest_ + 1 : 0);
    while (pos < limit) {
      std::size_t best = std::string::npos, best_len = 0;
      for (const auto& s : secrets_) {
        const auto at = pending_.find(s, pos);
        if (at < best || (at == best && at != std::string::npos && s.size() > best_len)) {
          best = at;
          best_len = s.size();
        }
      }
      if (best == std::string::npos || best >= limit) break;
      out.append(pending_, pos, best - pos);
      out.append(kRedacted);
      pos = best + best_len;
    }
    const std::size_t emit_until = std::max(pos, limit);
    if (emit_until > pos) out.append(pending_, pos, emit_until - pos);
    pending_.erase(0, emit_until);
    keep(out);
  }

  void keep(std::string_view redacted) {
    tail_.append(redacted);
    // Trim now and then rather than on every read: the tail stays under 2 * cap + one read.
    if (tail_.size() > 2 * cap_ + 4096) {
      tail_.erase(0, tail_.size() - cap_);
      truncated_ = true;
    }
  }

  static std::string valid_utf8(std::string_view in) {
    static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    while (i < in.size()) {
      const auto c = static_cast<unsigned char>(in[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
        ++i;
        continue;
      }
      std::size_t len = 0;
      std::uint32_t cp = 0, min = 0;
      if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1F, min = 0x80;
      } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F, min = 0x800;
      } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07, min = 0x10000;
      }
      bool ok = len != 0 && i + len <= in.size();
      for (std::size_t k = 1; ok && k < len; ++k) {
        const auto cc = static_cast<unsigned char>(in[i + k]);
        ok = (cc & 0xC0) == 0x80;
        cp = (cp << 6) | (cc & 0x3F);
      }
      ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
      if (ok) {
        out.append(in.substr(i, len));
        i += len;
      } else {
        out.append(kReplacement);
        ++i;
      }
    }
    return out;
  }

  std::size_t cap_;
  std::vector<std::string> secrets_;
  std::size_t longest_ = 0;
  std::string pending_;  // read, not yet redacted
  std::string tail_;     // redacted
  bool truncated_ = false;
};

// argv[0] made into the path to execute: looked up in the PATH of the child's environment (relative
// entries and names are taken from the workdir, where the child will be).
std::expected<std::string, std::string> resolve_program(const CommandSpec& spec, const std::string& workdir) {
  const std::string& name = spec.argv.front();
  auto from_workdir = [&](const std::string& p) { return p.starts_with('/') ? p : workdir + "/" + p; };
  if (name.find('/') != std::string::npos) {
    const auto path = from_workdir(name);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::unexpected(fmt::format("{}: {}", name, errno_text(errno)));
    if (!S_ISREG(st.st_mode)) return std::unexpected(fmt::format("{}: not a regular file", name));
    if (::access(path.c_str(), X_OK) != 0) return std::unexpected(fmt::format("{}: {}", name, errno_text(errno)));
    return path;
  }
  const std::string* path_var = nullptr;
  for (const auto& [key, value] : spec.env) {
    if (key == "PATH") path_var = &value;
  }
  if (!path_var) {
    return std::unexpected(fmt::format("{}: command not found: the environment given to it has no PATH", name));
  }
  std::string_view dirs = *path_var;
  while (true) {
    const auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    const auto candidate = from_workdir(dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::unexpected(fmt::format("{}: command not found in PATH {}", name, *path_var));
}

// The workdir as an absolute path, checked to be a directory the child can enter.
std::expected<std::string, std::string> check_workdir(const std::string& workdir) {
  if (workdir.empty()) return std::unexpected(std::string("workdir is empty: name the directory to run in"));
  std::error_code ec;
  auto absolute = std::filesystem::absolute(workdir, ec);
  if (ec) return std::unexpected(fmt::format("workdir {}: {}", workdir, ec.message()));
  struct stat st {};
  if (::stat(absolute.c_str(), &st) != 0)
    return std::unexpected(fmt::format("workdir {}: {}", workdir, errno_text(errno)));
  if (!S_ISDIR(st.st_mode)) return std::unexpected(fmt::format("workdir {}: {}", workdir, errno_text(ENOTDIR)));
  if (::access(absolute.c_str(), X_OK) != 0) {
    return std::unexpected(fmt::format("workdir {}: {}", workdir, errno_text(errno)));
  }
  return absolute.lexically_normal().string();
}

// Names only: values may be secrets.
std::expected<std::vector<std::string>, std::string> environment_strings(const CommandSpec& spec) {
  std::vector<std::string> out;
  out.reserve(spec.env.size());
  for (std::size_t i = 0; i < spec.env.size(); ++i) {
    const auto& [key, value] = spec.env[i];
    if (key.empty() || key.find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
      return std::unexpected(fmt::format("environment variable name \"{}\" is empty or holds '=' or NUL", key));
    }
    if (value.find('\0') != std::string::npos) {
      return std::unexpected(fmt::format("environment variable {} holds a NUL byte", key));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (spec.env[j].first == key) return std::unexpected(fmt::format("environment variable {} is given twice", key));
    }
    out.push_back(key + "=" + value);
  }
  return out;
}

// A pipe whose ends are both above 2, so the child's dup2 onto 1 and 2 always makes a fresh,
// inheritable descriptor; both ends close on exec in the parent.
std::expected<std::pair<Fd, Fd>, std::string> output_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::unexpected("cannot create a pipe: " + errno_text(errno));
  Fd ends[2] = {Fd(fds[0]), Fd(fds[1])};
  for (auto& end : ends) {
    if (end.get() > 2) continue;
    const int moved = ::fcntl(end.get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return std::unexpected("cannot create a pipe: " + errno_text(errno));
    end.reset(moved);
  }
  if (::fcntl(ends[0].get(), F_SETFL, O_NONBLOCK) != 0) {
    return std::unexpected("cannot create a pipe: " + errno_text(errno));
  }
  return std::pair<Fd, Fd>(std::move(ends[0]), std::move(ends[1]));
}

// posix_spawn's file actions and attributes, destroyed on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// Has the leader exited? WNOWAIT leaves it a zombie: its pid, the group's id, cannot be reused until
// it is reaped, so signalling the group stays safe. nullopt: it is not our child any more (reaped
// elsewhere, e.g. with SIGCHLD ignored).
std::optional<bool> leader_exited(pid_t pid) {
  while (true) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0) return info.si_pid == pid;
    if (errno != EINTR) return std::nullopt;
  }
}

std::optional<int> reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::nullopt;
  }
  return status;
}

// A descriptor (close-on-exec) that polls readable when the process exits; -1 on kernels before 5.3,
// and the caller then checks on a tick. Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C".
int pidfd_open(pid_t pid) {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -1 : static_cast<int>(fd);
}

// t + d, saturating: a timeout of milliseconds::max() means "never", not an overflow.
Clock::time_point after(Clock::time_point t, milliseconds d) {
  if (d <= milliseconds::zero()) return t;
  const auto room = std::chrono::duration_cast<milliseconds>(Clock::time_point::max() - t);
  return d >= room ? Clock::time_point::max() : t + d;
}

struct Supervision {
  pid_t pid;
  int output_fd;
  Clock::time_point started;
  milliseconds timeout;
  milliseconds kill_grace;
  std::size_t output_cap;
  const std::vector<std::string>& redact;
};

CommandResult supervise(const Supervision& s) {
  CommandResult result;
  OutputTail tail(s.output_cap, s.redact);
  Fd pidfd(pidfd_open(s.pid));

  const auto deadline = after(s.started, s.timeout);
  std::optional<Clock::time_point> term_sent, kill_sent, exited_at, group_killed;
  bool eof = false, lost_child = false;
  std::vector<char> buffer(64 * 1024);

  while (true) {
    const auto now = Clock::now();
    if (!exited_at) {
      const auto exited = leader_exited(s.pid);
      if (!exited) lost_child = true;
      if (!exited || *exited) exited_at = now;
    }
    if (!exited_at && !term_sent && now >= deadline) {
      result.timed_out = true;
      ::kill(-s.pid, SIGTERM);
      term_sent = now;
    }
    if (!exited_at && term_sent && !kill_sent && now >= after(*term_sent, s.kill_grace)) {
      ::kill(-s.pid, SIGKILL);
      kill_sent = now;
    }
    if (exited_at && !group_killed && (eof || now >= *exited_at + kDrainAfterExit)) {
      // What is left of the group dies with its leader (not when the pid may already be someone else's).
      if (!lost_child) ::kill(-s.pid, SIGKILL);
      group_killed = now;
    }
    if (group_killed && (eof || now >= *group_killed + kDrainAfterKill)) break;

    // Sleep until output, the leader's exit, or the next deadline of the stage we are in.
    auto next = Clock::time_point::max();
    if (!exited_at) {
      if (!term_sent) {
        next = deadline;
      } else if (!kill_sent) {
        next = after(*term_sent, s.kill_grace);
      }
      if (pidfd.get() < 0) next = std::min(next, now + kExitCheckTick);
    } else if (!group_killed) {
      next = *exited_at + kDrainAfterExit;
    } else {
      next = *group_killed + kDrainAfterKill;
    }
    int wait_ms = -1;
    if (next != Clock::time_point::max()) {
      const auto left = std::chrono::ceil<milliseconds>(next - now).count();
      wait_ms = static_cast<int>(std::clamp<decltype(left)>(left, 0, INT_MAX));
    }
    pollfd fds[2];
    nfds_t count = 0;
    if (!eof) fds[count++] = pollfd{s.output_fd, POLLIN, 0};
    if (!exited_at && pidfd.get() >= 0) fds[count++] = pollfd{pidfd.get(), POLLIN, 0};
    const int ready = ::poll(fds, count, wait_ms);
    if (ready < 0 && errno != EINTR) {
      eof = true;  // cannot wait on the pipe any more: stop reading, keep enforcing the deadlines
      pidfd.reset();
    }
    // A bounded number of reads per round: a command flooding its output still meets its deadlines.
    for (int reads = 0; ready > 0 && !eof && fds[0].revents != 0 && reads < 16; ++reads) {
      const auto n = ::read(s.output_fd, buffer.data(), buffer.size());
      if (n > 0) {
        tail.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) eof = true;
      break;
    }
  }

  result.output = tail.finish();
  result.truncated = tail.truncated();
  const auto status = lost_child ? std::nullopt : reap(s.pid);
  result.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - s.started);
  if (!status) {
    result.output += "\n[promoter: the exit status is unknown: the process was reaped elsewhere]\n";
  } else if (WIFEXITED(*status)) {
    result.exit_code = WEXITSTATUS(*status);
  } else if (WIFSIGNALED(*status)) {
    result.signal = WTERMSIG(*status);
  }
  return result;
}

// The last resort when something threw after the child started: it must not outlive us unreaped.
void kill_and_reap(pid_t pid) {
  const auto exited = leader_exited(pid);
  if (!exited) return;
  ::kill(-pid, SIGKILL);
  reap(pid);
}

struct Spawned {
  pid_t pid = -1;
  Fd output;
  Clock::time_point started;
};

// Checks everything that can be checked before, then posix_spawn: a clear error rather than a child
// that fails in exec.
std::expected<Spawned, std::string> spawn(const CommandSpec& spec) {
  if (spec.argv.empty() || spec.argv.front().empty()) {
    return std::unexpected(std::string("no command given: argv is empty"));
  }
  for (const auto& arg : spec.argv) {
    if (arg.find('\0') != std::string::npos) {
      return std::unexpected(fmt::format("{}: an argument holds a NUL byte", spec.argv.front()));
    }
  }
  auto workdir = check_workdir(spec.workdir);
  if (!workdir) return std::unexpected(workdir.error());
  auto program = resolve_program(spec, *workdir);
  if (!program) return std::unexpected(program.error());
  auto env = environment_strings(spec);
  if (!env) return std::unexpected(env.error());
  auto pipe = output_pipe();
  if (!pipe) return std::unexpected(pipe.error());
  auto& [read_end, write_end] = *pipe;

  std::vector<std::string> argv = spec.argv;
  std::vector<char*> argv_ptrs, env_ptrs;
  for (auto& a : argv) argv_ptrs.push_back(a.data());
  argv_ptrs.push_back(nullptr);
  for (auto& e : *env) env_ptrs.push_back(e.data());
  env_ptrs.push_back(nullptr);

  SpawnSetup setup;
  sigset_t no_signals, all_signals;
  sigemptyset(&no_signals);
  sigfillset(&all_signals);
  sigdelset(&all_signals, SIGKILL);
  sigdelset(&all_signals, SIGSTOP);
  int rc = 0;
  auto check = [&rc](int r) {
    if (rc == 0) rc = r;
  };
  check(posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0));
  check(posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), 1));
  check(posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), 2));
  check(posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3));
  check(posix_spawn_file_actions_addchdir_np(&setup.actions, workdir->c_str()));
  // Its own process group, and no signal blocked or ignored because the daemon's threads block or ignore it.
  check(posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
  check(posix_spawnattr_setpgroup(&setup.attr, 0));
  check(posix_spawnattr_setsigmask(&setup.attr, &no_signals));
  check(posix_spawnattr_setsigdefault(&setup.attr, &all_signals));
  if (rc != 0)
    return std::unexpected(fmt::format("{}: cannot prepare to start: {}", spec.argv.front(), errno_text(rc)));

  Spawned child;
  child.started = Clock::now();
  rc = ::posix_spawn(&child.pid, program->c_str(), &setup.actions, &setup.attr, argv_ptrs.data(), env_ptrs.data());
  if (rc != 0) {
    return std::unexpected(fmt::format("{}: cannot start {}: {}", spec.argv.front(), *program, errno_text(rc)));
  }
  child.output = std::move(read_end);
  return child;
}

}  // namespace

std::string CommandResult::last_lines(std::size_t n) const {
  std::vector<std::string_view> lines;
  std::string_view rest = output;
  while (!rest.empty()) {
    const auto nl = std::min(rest.find('\n'), rest.size());
    auto line = rest.substr(0, nl);
    rest.remove_prefix(std::min(nl + 1, rest.size()));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) lines.push_back(line);
  }
  std::string out;
  for (std::size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    if (!out.empty()) out += '\n';
    out += lines[i];
  }
  return out;
}

RunningCommand::RunningCommand(pid_t pid, int output_fd, std::chrono::steady_clock::time_point started,
                               const CommandSpec& spec)
    : pid_(pid),
      output_fd_(output_fd),
      started_(started),
      timeout_(spec.timeout),
      kill_grace_(spec.kill_grace),
      output_cap_(spec.output_cap),
      redact_(spec.redact) {
  if (auto s = read_proc_stat(pid)) start_marker_ = s->start_time;
}

pid_t RunningCommand::pgid() const { return pid_; }

std::string RunningCommand::start_marker() const { return start_marker_; }

CommandResult RunningCommand::wait() {
  if (result_) return *result_;
  try {
    result_ = supervise(Supervision{pid_, output_fd_, started_, timeout_, kill_grace_, output_cap_, redact_});
  } catch (const std::exception& e) {
    kill_and_reap(pid_);
    CommandResult failed;
    failed.output = fmt::format("[promoter: supervising the command failed: {}]\n", e.what());
    failed.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started_);
    result_ = std::move(failed);
  } catch (...) {
    kill_and_reap(pid_);
    result_ = CommandResult{};
  }
  if (output_fd_ >= 0) ::close(std::exchange(output_fd_, -1));
  return *result_;
}

RunningCommand::~RunningCommand() {
  if (!result_) kill_and_reap(pid_);
  if (output_fd_ >= 0) ::close(output_fd_);
}

std::expected<std::unique_ptr<RunningCommand>, std::string> start_command(const CommandSpec& spec) {
  pid_t pid = -1;
  try {
    auto child = spawn(spec);
    if (!child) return std::unexpected(child.error());
    pid = child->pid;
    auto running = std::unique_ptr<RunningCommand>(new RunningCommand(pid, child->output.get(), child->started, spec));
    child->output.release();
    return running;
  } catch (const std::exception& e) {
    if (pid > 0) kill_and_reap(pid);
    return std::unexpected(
        fmt::format("{}: cannot start: {}", spec.argv.empty() ? "command" : spec.argv.front(), e.what()));
  } catch (...) {
    if (pid > 0) kill_and_reap(pid);
    return std::unexpected(std::string("cannot start the command: unknown error"));
  }
}

std::expected<CommandResult, std::string> run_command(const CommandSpec& spec) {
  auto running = start_command(spec);
  if (!running) return std::unexpected(running.error());
  return (*running)->wait();
}

bool process_group_alive(pid_t pgid, const std::string& start_marker) {
  try {
    if (pgid <= 1 || start_marker.empty()) return false;
    const auto leader = read_proc_stat(pgid);
    if (!leader || leader->start_time != start_marker) return false;
    return !exited(leader->state) || live_member_besides_leader(pgid);
  } catch (...) {
    return false;
  }
}

bool kill_process_group(pid_t pgid, const std::string& start_marker) {
  try {
    if (pgid <= 1 || start_marker.empty() || pgid == ::getpgrp()) return false;
    const auto leader = read_proc_stat(pgid);
    if (!leader || leader->start_time != start_marker) return false;
    return ::kill(-pgid, SIGKILL) == 0;
  } catch (...) {
    return false;
  }
}

}  // namespace promoter::adapters
