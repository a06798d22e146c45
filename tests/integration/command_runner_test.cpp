// The subprocess runner the migration step uses: exit codes, the capped and redacted output, exactly
// the environment given, clear errors before spawning, and timeouts that take the whole group down.
#include "adapters/command_runner.hpp"

#include <csignal>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "tests/support/test_support.hpp"

namespace {

using promoter::adapters::CommandResult;
using promoter::adapters::CommandSpec;
using promoter::adapters::kill_process_group;
using promoter::adapters::process_group_alive;
using promoter::adapters::run_command;
using promoter::adapters::start_command;
using promoter::testing::eventually;
using promoter::testing::temp_dir;
using namespace std::chrono_literals;

const std::string kPath = "/usr/bin:/bin";

CommandSpec shell(const std::string& script, const std::filesystem::path& dir) {
  CommandSpec spec;
  spec.argv = {"sh", "-c", script};
  spec.workdir = dir.string();
  spec.env = {{"PATH", kPath}};
  spec.timeout = 20s;
  return spec;
}

CommandResult run(const CommandSpec& spec) {
  auto result = run_command(spec);
  REQUIRE_MESSAGE(result.has_value(), (result ? "" : result.error()));
  return *result;
}

// Running, as opposed to gone or a zombie nobody reaped yet.
bool process_running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z' && line[close + 2] != 'X';
}

// The pid a test script wrote to `file` (waiting until the line is complete).
pid_t pid_written_to(const std::filesystem::path& file) {
  std::string text;
  const bool written = eventually(
      [&] {
        std::ifstream in(file);
        std::stringstream s;
        s << in.rdbuf();
        text = s.str();
        return !text.empty() && text.back() == '\n';
      },
      10s);
  REQUIRE_MESSAGE(written, "the script never wrote " << file);
  return static_cast<pid_t>(std::stol(text));
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

TEST_CASE("a command's exit code and its stdout and stderr, interleaved, are reported") {
  const auto dir = temp_dir("command_runner/exit_code");
  const auto r = run(shell("echo out; echo err >&2; echo out again; exit 3", dir));
  CHECK(r.exit_code == 3);
  CHECK_FALSE(r.signal.has_value());
  CHECK_FALSE(r.timed_out);
  CHECK_FALSE(r.truncated);
  CHECK(r.output == "out\nerr\nout again\n");
  CHECK(run(shell("true", dir)).exit_code == 0);
}

TEST_CASE("a command killed by a signal reports the signal and exit code -1") {
  const auto r = run(shell("kill -9 $$", temp_dir("command_runner/signal")));
  CHECK(r.exit_code == -1);
  REQUIRE(r.signal.has_value());
  CHECK(*r.signal == SIGKILL);
  CHECK_FALSE(r.timed_out);
}

TEST_CASE("the output keeps its last output_cap bytes") {
  const auto dir = temp_dir("command_runner/cap");
  auto spec = shell("seq 1 20000", dir);
  spec.output_cap = 1000;
  const auto r = run(spec);
  CHECK(r.exit_code == 0);
  CHECK(r.truncated);
  CHECK(r.output.size() <= 1000);
  CHECK(r.output.size() >= 990);
  CHECK(r.output.ends_with("\n19999\n20000\n"));
  CHECK(r.last_lines(2) == "19999\n20000");
}

TEST_CASE("the output is cut at a character boundary and is valid UTF-8") {
  const auto dir = temp_dir("command_runner/utf8");
  auto spec = shell("yes é | head -n 400 | tr -d '\\n'", dir);  // 800 bytes of two-byte characters
  spec.output_cap = 101;
  auto r = run(spec);
  CHECK(r.truncated);
  CHECK(valid_utf8(r.output));
  CHECK(r.output.size() == 100);

  r = run(shell("printf 'bad \\377 byte\\n'", dir));
  CHECK(valid_utf8(r.output));
  CHECK(r.output == "bad \xEF\xBF\xBD byte\n");
}

TEST_CASE("secrets are redacted from the output, also when split across writes or cut by the cap") {
  const auto dir = temp_dir("command_runner/redact");
  const std::string secret = "hunter2-token-value";
  auto spec = shell("echo \"token is $SECRET\"; printf 'split hunter2-tok'; sleep 0.1; printf 'en-value done\\n'", dir);
  spec.env.emplace_back("SECRET", secret);
  spec.redact = {"", secret};
  auto r = run(spec);
  CHECK(r.output == "token is [redacted]\nsplit [redacted] done\n");

  // Unredacted, the last 20 bytes would begin inside the secret.
  spec = shell("echo \"xxxxxxxxxx $SECRET end\"", dir);
  spec.env.emplace_back("SECRET", secret);
  spec.redact = {secret};
  spec.output_cap = 20;
  r = run(spec);
  CHECK(r.truncated);
  CHECK(r.output == "xxxx [redacted] end\n");
}

TEST_CASE("the child's environment is exactly the one given, and argv[0] is found in its PATH") {
  const auto dir = temp_dir("command_runner/env");
  ::setenv("PROMOTER_RUNNER_TEST_LEAK", "from the test process", 1);
  CommandSpec spec;
  spec.argv = {"env"};
  spec.workdir = dir.string();
  spec.env = {{"PATH", kPath}, {"ONLY", "this one"}};
  auto r = run(spec);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "PATH=/usr/bin:/bin\nONLY=this one\n");
  ::unsetenv("PROMOTER_RUNNER_TEST_LEAK");

  // A program only the child's PATH has, run in the workdir.
  std::filesystem::create_directories(dir / "bin");
  {
    std::ofstream script(dir / "bin" / "only-here");
    script << "#!/bin/sh\necho \"in $(pwd)\"\n";
  }
  std::filesystem::permissions(dir / "bin" / "only-here", std::filesystem::perms::owner_all);
  spec.argv = {"only-here"};
  spec.env = {{"PATH", (dir / "bin").string() + ":" + kPath}};
  r = run(spec);
  CHECK(r.exit_code == 0);
  CHECK(r.output == "in " + std::filesystem::canonical(dir).string() + "\n");
}

TEST_CASE("the child reads /dev/null and inherits no descriptor but stdout and stderr") {
  const auto dir = temp_dir("command_runner/fds");
  CHECK(run(shell("cat", dir)).output.empty());

  const int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(leaked > 2);
  const auto r = run(shell("[ -e /proc/$$/fd/" + std::to_string(leaked) + " ] && echo leaked || echo closed", dir));
  ::close(leaked);
  CHECK(r.output == "closed\n");
}

TEST_CASE("a program missing from the child's PATH is an error before anything starts") {
  const auto dir = temp_dir("command_runner/missing");
  CommandSpec spec;
  spec.argv = {"no-such-program-promoter"};
  spec.workdir = dir.string();
  spec.env = {{"PATH", kPath}};
  auto started = start_command(spec);
  REQUIRE_FALSE(started.has_value());
  CHECK(started.error() == "no-such-program-promoter: command not found in PATH /usr/bin:/bin");

  spec.argv = {"sh"};  // on the test's PATH, but the child's environment has none
  spec.env = {{"HOME", "/"}};
  started = start_command(spec);
  REQUIRE_FALSE(started.has_value());
  CHECK(started.error().find("sh: command not found") == 0);
  CHECK(started.error().find("no PATH") != std::string::npos);

  spec.argv = {"./missing-script"};
  spec.env = {{"PATH", kPath}};
  started = start_command(spec);
  REQUIRE_FALSE(started.has_value());
  CHECK(started.error() == "./missing-script: No such file or directory");

  spec.argv = {};
  CHECK_FALSE(start_command(spec).has_value());
}

TEST_CASE("a workdir that does not exist or is not a directory is an error") {
  const auto dir = temp_dir("command_runner/workdir");
  auto spec = shell("true", dir / "nope");
  auto started = start_command(spec);
  REQUIRE_FALSE(started.has_value());
  CHECK(started.error() == "workdir " + (dir / "nope").string() + ": No such file or directory");

  std::ofstream(dir / "file") << "x";
  spec.workdir = (dir / "file").string();
  started = start_command(spec);
  REQUIRE_FALSE(started.has_value());
  CHECK(started.error() == "workdir " + (dir / "file").string() + ": Not a directory");
}

TEST_CASE("a timeout terminates the whole process group, grandchildren included") {
  const auto dir = temp_dir("command_runner/timeout");
  const auto pid_file = dir / "grandchild.pid";
  auto spec = shell("echo started; sh -c 'sleep 100 & echo $! > " + pid_file.string() + "; wait'; echo never", dir);
  spec.timeout = 200ms;
  const auto r = run(spec);
  CHECK(r.timed_out);
  CHECK(r.exit_code == -1);
  REQUIRE(r.signal.has_value());
  CHECK(*r.signal == SIGTERM);
  CHECK(r.output == "started\n");
  CHECK(r.duration >= 200ms);
  CHECK(r.duration < 5s);
  const auto grandchild = pid_written_to(pid_file);
  CHECK(eventually([&] { return !process_running(grandchild); }, 5s));
}

TEST_CASE("a command flooding its output still times out, and its output stays capped") {
  auto spec = shell("yes flood", temp_dir("command_runner/flood"));
  spec.timeout = 200ms;
  spec.output_cap = 4096;
  const auto r = run(spec);
  CHECK(r.timed_out);
  CHECK(r.truncated);
  CHECK(r.output.size() <= 4096);
  CHECK(r.duration < 5s);
}

TEST_CASE("a group that ignores SIGTERM is SIGKILLed after the grace period") {
  const auto dir = temp_dir("command_runner/kill_grace");
  const auto pid_file = dir / "child.pid";
  auto spec = shell("trap '' TERM; sleep 100 & echo $! > " + pid_file.string() + "; wait; wait", dir);
  spec.timeout = 200ms;
  spec.kill_grace = 200ms;
  const auto r = run(spec);
  CHECK(r.timed_out);
  REQUIRE(r.signal.has_value());
  CHECK(*r.signal == SIGKILL);
  CHECK(r.duration >= 400ms);
  CHECK(r.duration < 5s);
  const auto child = pid_written_to(pid_file);
  CHECK(eventually([&] { return !process_running(child); }, 5s));
}

TEST_CASE("a background process holding the pipe does not keep wait() once the leader has exited") {
  const auto dir = temp_dir("command_runner/straggler");
  const auto pid_file = dir / "straggler.pid";
  const auto r = run(shell("sleep 100 & echo $! > " + pid_file.string() + "; echo bye", dir));
  CHECK(r.exit_code == 0);
  CHECK_FALSE(r.timed_out);
  CHECK(r.output == "bye\n");
  CHECK(r.duration < 5s);
  const auto straggler = pid_written_to(pid_file);
  CHECK(eventually([&] { return !process_running(straggler); }, 5s));
}

TEST_CASE("a recorded process group is alive and killable only with its leader's start marker") {
  const auto dir = temp_dir("command_runner/reconcile");
  auto started = start_command(shell("sleep 100", dir));
  REQUIRE_MESSAGE(started.has_value(), (started ? "" : started.error()));
  auto& running = **started;
  const pid_t pgid = running.pgid();
  const std::string marker = running.start_marker();
  REQUIRE(pgid > 1);
  REQUIRE_FALSE(marker.empty());
  CHECK(marker.find_first_not_of("0123456789") == std::string::npos);

  CHECK(process_group_alive(pgid, marker));
  const std::string wrong = std::to_string(std::stoull(marker) + 1);
  CHECK_FALSE(process_group_alive(pgid, wrong));
  CHECK_FALSE(process_group_alive(pgid, ""));
  CHECK_FALSE(process_group_alive(1, marker));

  CHECK_FALSE(kill_process_group(pgid, wrong));
  CHECK_FALSE(kill_process_group(pgid, ""));
  CHECK(process_group_alive(pgid, marker));

  CHECK(kill_process_group(pgid, marker));
  // Killed but not reaped: a zombie leader with nothing else in its group is not running.
  CHECK(eventually([&] { return !process_group_alive(pgid, marker); }, 5s));
  const auto r = running.wait();
  REQUIRE(r.signal.has_value());
  CHECK(*r.signal == SIGKILL);
  CHECK_FALSE(r.timed_out);
  CHECK_FALSE(process_group_alive(pgid, marker));
  CHECK_FALSE(kill_process_group(pgid, marker));
}

TEST_CASE("a command never waited for is killed with its group when it is dropped") {
  const auto dir = temp_dir("command_runner/dropped");
  const auto pid_file = dir / "child.pid";
  pid_t child = 0;
  {
    auto started = start_command(shell("sleep 100 & echo $! > " + pid_file.string() + "; wait", dir));
    REQUIRE(started.has_value());
    child = pid_written_to(pid_file);
    CHECK(process_running(child));
  }
  CHECK(eventually([&] { return !process_running(child); }, 5s));
}

TEST_CASE("last_lines gives the last non-empty lines") {
  CommandResult r;
  r.output = "first\n\n   \nsecond\r\nthird\n\n";
  CHECK(r.last_lines(2) == "second\nthird");
  CHECK(r.last_lines(10) == "first\nsecond\nthird");
  CHECK(r.last_lines(0).empty());
  CHECK(CommandResult{}.last_lines(3).empty());
}
