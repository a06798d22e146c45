#pragma once
// The migrate step as a local subprocess (default `pnpm db:migrate`): its own process group, only the
// allowed environment plus DATABASE_URL, a timeout that kills the whole group, output captured (tail,
// secrets redacted) into the journal.
//
// The process group is noted in the journal when the command starts and its exit code when it ends, so a
// restart knows whether it finished. A run cut off by a crash is waited out and run again: migration tools
// record what they applied, so the second run applies only what the first did not.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>

#include "adapters/monotonic_clock.hpp"
#include "ports/step_performer.hpp"

namespace promoter::adapters {

struct LocalMigrationOptions {
  std::vector<std::string> command;
  std::string workdir;
  std::vector<std::pair<std::string, std::string>> env;  // the command's whole environment
  std::chrono::milliseconds timeout{600'000};
  std::vector<std::string> secrets;              // values never to show in output (the database URL, its password)
  std::chrono::milliseconds poll_interval{500};  // while waiting out a run cut off by a crash
};

class LocalMigrationStep final : public ports::StepPerformer {
 public:
  // `blocking` runs the subprocess waits (never the I/O thread); `io` runs timers.
  LocalMigrationStep(boost::asio::any_io_executor blocking, boost::asio::any_io_executor io, LocalMigrationOptions,
                     MonotonicClock& clock = real_monotonic_clock());

  boost::asio::awaitable<core::Result<std::string>> perform(const ports::StepContext&) override;
  boost::asio::awaitable<core::Result<std::optional<std::string>>> find_done(const ports::StepContext&) override;

 private:
  boost::asio::any_io_executor blocking_;
  boost::asio::any_io_executor io_;
  LocalMigrationOptions options_;
  MonotonicClock& clock_;
};

// The secrets worth redacting in a database URL: the URL itself and its password, if any.
std::vector<std::string> database_url_secrets(const std::string& url);

}  // namespace promoter::adapters
