#pragma once
// promotectl: the operator's command line for promoterd's /v1 API (see daemon/openapi.yaml).
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

namespace promoter::promotectl {

// The environment promotectl reads, passed in so that tests do not depend on the process's own.
struct CliEnv {
  std::optional<std::string> promoter_url;    // PROMOTER_URL
  std::optional<std::string> promoter_token;  // PROMOTER_TOKEN

  static CliEnv from_process();
};

// Exit statuses, as documented in the usage text.
inline constexpr int cli_exit_ok = 0;
inline constexpr int cli_exit_failure = 1;  // the server answered an error, or could not be reached
inline constexpr int cli_exit_usage = 2;

// `args` are the arguments after the program name. Results go to `out`, diagnostics to `err`; the
// token is never written to either.
int run_cli(std::span<const std::string> args, const CliEnv& env, std::ostream& out, std::ostream& err);

// The --help text.
std::string cli_usage();

}  // namespace promoter::promotectl
