// promotectl: see promotectl/cli.hpp; everything but reading argv and the environment lives there, testable.
#include <iostream>
#include <string>
#include <vector>

#include "promotectl/cli.hpp"

#ifndef PROMOTER_GIT_COMMIT
#define PROMOTER_GIT_COMMIT "unknown"
#endif

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    std::cout << "promotectl " << PROMOTER_VERSION << " (commit " << PROMOTER_GIT_COMMIT << ")\n";
    return 0;
  }
  return promoter::promotectl::run_cli(args, promoter::promotectl::CliEnv::from_process(), std::cout, std::cerr);
}
