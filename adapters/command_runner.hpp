#pragma once
// Runs a program (`pnpm db:migrate`) as a child in a process group of its own: an environment of exactly
// what the caller gives, stdin from /dev/null, stdout and stderr into one pipe, a timeout enforced on
// the whole group, and a capped, redacted tail of the output. Errors are values; nothing here throws,
// and nothing here logs the output or the environment.
#include <chrono>
#include <cstddef>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace promoter::adapters {

struct CommandSpec {
  std::vector<std::string> argv;                         // argv[0] is looked up in the PATH of `env` (not the daemon's)
  std::string workdir;                                   // chdir before exec; must exist
  std::vector<std::pair<std::string, std::string>> env;  // the child's WHOLE environment (nothing inherited)
  std::chrono::milliseconds timeout{600'000};  // then SIGTERM to the process group, SIGKILL after `kill_grace`
  std::chrono::milliseconds kill_grace{5'000};
  std::size_t output_cap = 64 * 1024;  // keep the LAST output_cap bytes of stdout+stderr interleaved
  std::vector<std::string> redact;     // non-empty strings replaced by "[redacted]" in captured output
};

struct CommandResult {
  int exit_code = -1;         // -1 when killed by a signal
  std::optional<int> signal;  // the terminating signal, if any
  bool timed_out = false;
  bool truncated = false;  // output lost its head to the cap
  std::string output;      // tail of stdout+stderr, redacted, valid UTF-8 (cut at a char boundary)
  std::chrono::milliseconds duration{0};
  std::string last_lines(std::size_t n) const;  // the last n non-empty lines, for error messages
};

// A started command in its own process group (setpgid), stdin /dev/null, stdout+stderr into one pipe.
class RunningCommand {
 public:
  RunningCommand(const RunningCommand&) = delete;
  RunningCommand& operator=(const RunningCommand&) = delete;

  pid_t pgid() const;
  std::string start_marker()
      const;  // the leader's start time from /proc/<pid>/stat (field 22), to tell it from a reused pid
  // Blocking: drains output (poll), enforces the timeout on the whole group, reaps; call once (a second
  // call returns the same result). When the leader exits, output is read for a short while longer, then
  // whatever is left of its group is SIGKILLed, so no straggler keeps the pipe, or anything else, forever.
  CommandResult wait();
  ~RunningCommand();  // if wait() was never called: SIGKILL the group and reap

 private:
  friend std::expected<std::unique_ptr<RunningCommand>, std::string> start_command(const CommandSpec&);
  RunningCommand(pid_t pid, int output_fd, std::chrono::steady_clock::time_point started, const CommandSpec& spec);

  pid_t pid_;
  int output_fd_;
  std::string start_marker_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds kill_grace_;
  std::size_t output_cap_;
  std::vector<std::string> redact_;
  std::optional<CommandResult> result_;
};

// Errors are values: "pnpm: command not found in PATH /usr/bin:/bin", "workdir /x: No such file or directory", ...
std::expected<std::unique_ptr<RunningCommand>, std::string> start_command(const CommandSpec&);

// start_command, then wait().
std::expected<CommandResult, std::string> run_command(const CommandSpec&);

// Reconciling after a crash of the daemon: is the group recorded earlier (pgid + start_marker) still running?
// True while its leader is the process that was started (same start time) and the leader, or another
// member of the group, has not exited. Once the leader has exited and been reaped the group counts as
// gone: leftovers of it cannot be told from a group that reuses the number.
bool process_group_alive(pid_t pgid, const std::string& start_marker);
// SIGKILLs that group if (and only if) its leader still matches the marker; true if it was signalled.
bool kill_process_group(pid_t pgid, const std::string& start_marker);

}  // namespace promoter::adapters
