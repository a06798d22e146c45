// promotectl: see daemon/cli.hpp; everything but reading argv and the environment lives there, testable.
#include <iostream>
#include <string>
#include <vector>

#include "daemon/cli.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  return promoter::daemon::run_cli(args, promoter::daemon::CliEnv::from_process(), std::cout, std::cerr);
}
