// The local migration step with real subprocesses: what reaches the journal (exit code, last output, never
// the database URL or its password), timeouts, a program that is missing, and what a restart learns from
// the progress notes.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "adapters/command_runner.hpp"
#include "adapters/local_migration_step.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

const core::Sha sha = *core::Sha::parse("89abcdef0123456789abcdef0123456789abcdef");
const std::string url = "postgresql://migrator:s3cret-Pa55word@db.internal:5432/app";

struct Runner {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  asio::thread_pool pool{2};
  std::thread thread{[this] { io.run(); }};
  std::vector<std::string> notes;

  ~Runner() {
    guard.reset();
    thread.join();
    pool.join();
  }

  adapters::LocalMigrationStep step(std::string script, std::chrono::milliseconds timeout = 10s) {
    adapters::LocalMigrationOptions o;
    o.command = {"sh", "-c", std::move(script)};
    o.workdir = "/";
    o.env = {{"PATH", "/usr/bin:/bin"}, {"DATABASE_URL", url}};
    o.timeout = timeout;
    o.secrets = adapters::database_url_secrets(url);
    o.poll_interval = 20ms;
    return adapters::LocalMigrationStep(pool.get_executor(), io.get_executor(), std::move(o));
  }
  ports::StepContext context(std::string progress = "") {
    ports::StepContext ctx{core::PromotionId{3},
                           sha,
                           core::PlanStep{1, core::StepKind::migrate, ""},
                           "promotion-3-step-1",
                           std::nullopt,
                           std::move(progress),
                           {},
                           {}};
    ctx.note = [this](std::string p) -> asio::awaitable<core::Result<void>> {
      notes.push_back(std::move(p));
      co_return core::Result<void>{};
    };
    return ctx;
  }
  template <class T>
  T run(asio::awaitable<T> a) {
    return asio::co_spawn(io, std::move(a), asio::use_future).get();
  }
};

}  // namespace

TEST_CASE("the database URL and its password never reach the journal, even when the command prints them") {
  CHECK(adapters::database_url_secrets(url) == std::vector<std::string>{url, "s3cret-Pa55word"});
  Runner r;
  auto step = r.step(
      "echo \"connecting to $DATABASE_URL\"; echo \"password=s3cret-Pa55word\"; echo applied 2; "
      "echo \"release $PROMOTER_RELEASE_SHA\"");
  auto ctx = r.context();
  auto done = r.run(step.perform(ctx));
  REQUIRE_MESSAGE(done.has_value(), done.error().message);
  CHECK(done->find("exited 0") != std::string::npos);
  CHECK(done->find("applied 2") != std::string::npos);
  CHECK(done->find("release " + sha.str()) != std::string::npos);
  CHECK(done->find("[redacted]") != std::string::npos);
  for (const auto& text : std::vector<std::string>{*done, r.notes.at(0), r.notes.at(1)}) {
    INFO(text);
    CHECK(text.find("s3cret-Pa55word") == std::string::npos);
    CHECK(text.find("db.internal") == std::string::npos);
  }
}

TEST_CASE("a failing command fails the step with its exit code and last output; a restart does not run it again") {
  Runner r;
  auto step = r.step("echo 'applying 003_add_index'; echo 'ERROR:  relation \"widgets\" does not exist' >&2; exit 3");
  auto failed = r.run(step.perform(r.context()));
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().code == core::ErrorCode::failed_precondition);
  CHECK(failed.error().message.find("exited with code 3") != std::string::npos);
  CHECK(failed.error().message.find("relation \"widgets\" does not exist") != std::string::npos);
  REQUIRE(r.notes.size() == 2);
  auto again = r.run(step.find_done(r.context(r.notes[1])));
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().code == core::ErrorCode::failed_precondition);
  CHECK(again.error().message.find("exited with code 3") != std::string::npos);
}

TEST_CASE("a command past its timeout is killed with its whole process group and fails the step") {
  Runner r;
  auto step = r.step("echo started; sleep 30 & sleep 30", 300ms);
  auto failed = r.run(step.perform(r.context()));
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().message.find("did not finish within") != std::string::npos);
  CHECK(failed.error().message.find("started") != std::string::npos);
  const auto note = nlohmann::json::parse(r.notes.at(0));
  CHECK_FALSE(adapters::process_group_alive(note["pgid"].get<pid_t>(), note["start"].get<std::string>()));
}

TEST_CASE("a missing program fails the step saying what was looked for") {
  Runner r;
  adapters::LocalMigrationOptions o;
  o.command = {"pnpm-that-is-not-installed", "db:migrate"};
  o.workdir = "/";
  o.env = {{"PATH", "/usr/bin:/bin"}};
  adapters::LocalMigrationStep step(r.pool.get_executor(), r.io.get_executor(), o);
  auto failed = r.run(step.perform(r.context()));
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().message.find("could not start") != std::string::npos);
  CHECK(failed.error().message.find("pnpm-that-is-not-installed") != std::string::npos);
  CHECK(r.notes.empty());
}

TEST_CASE("after a crash, a run still going is waited out before the step runs again; a finished run is found") {
  Runner r;
  // A run started by the daemon before it died, still going (no longer anybody's child here).
  adapters::CommandSpec spec;
  spec.argv = {"sh", "-c", "sleep 0.4"};
  spec.workdir = "/";
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  auto running = adapters::start_command(spec);
  REQUIRE(running.has_value());
  std::shared_ptr<adapters::RunningCommand> cut_off(std::move(*running));
  std::thread reaper([cut_off] { (void)cut_off->wait(); });
  const std::string progress = nlohmann::json{{"pgid", cut_off->pgid()}, {"start", cut_off->start_marker()}}.dump();
  auto step = r.step("echo again");
  auto found = r.run(step.find_done(r.context(progress)));
  const bool alive_after = adapters::process_group_alive(cut_off->pgid(), cut_off->start_marker());
  reaper.join();
  REQUIRE(found.has_value());
  CHECK_FALSE(found->has_value());  // run it again
  CHECK_FALSE(alive_after);         // but only once the cut-off run had ended

  auto finished = r.run(step.find_done(r.context(R"({"exit":0,"detail":"`pnpm db:migrate` exited 0"})")));
  REQUIRE(finished.has_value());
  REQUIRE(finished->has_value());
  CHECK(finished->value().find("found after restart") != std::string::npos);
  CHECK(r.run(step.find_done(r.context(""))).value() == std::nullopt);  // never started: run it
}
