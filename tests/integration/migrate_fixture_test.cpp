// The real `pnpm db:migrate` of tests/fixtures/migrate-app, run through the command runner against a
// real PostgreSQL (pg_virtualenv): what the migration step of a promotion runs.
#include <utility>

#include <cstdlib>
#include <doctest/doctest.h>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <unistd.h>

#include "adapters/command_runner.hpp"
#include "tests/support/test_support.hpp"

namespace {

using promoter::adapters::CommandResult;
using promoter::adapters::CommandSpec;
using promoter::testing::eventually;
using promoter::testing::fresh_database;
using promoter::testing::temp_dir;
using namespace std::chrono_literals;

const std::filesystem::path kFixture =
    std::filesystem::path(PROMOTER_SOURCE_DIR) / "tests" / "fixtures" / "migrate-app";

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value ? value : fallback;
}

// pnpm is a requirement of this suite, not an optional extra: its absence fails loudly.
void require_pnpm() {
  const std::string path = env_or("PATH", "");
  bool found = false;
  std::size_t from = 0;
  while (!found && from <= path.size()) {
    const auto colon = std::min(path.find(':', from), path.size());
    const auto dir = path.substr(from, colon - from);
    found = ::access((std::filesystem::path(dir.empty() ? "." : dir) / "pnpm").c_str(), X_OK) == 0;
    from = colon + 1;
  }
  REQUIRE_MESSAGE(found, "pnpm is not on PATH (" << path
                                                 << "): scripts/test installs it (install_pnpm in scripts/lib.sh, "
                                                    "npm install -g pnpm); run scripts/test or that step first");
}

// The environment promoterd would give the command: PATH and HOME, the PG* variables pg_virtualenv set, DATABASE_URL.
CommandSpec migrate(const std::string& conninfo, std::vector<std::pair<std::string, std::string>> extra = {}) {
  CommandSpec spec;
  spec.argv = {"pnpm", "db:migrate"};
  spec.workdir = kFixture.string();
  spec.env = {{"PATH", env_or("PATH", "/usr/local/bin:/usr/bin:/bin")},
              {"HOME", env_or("HOME", temp_dir("migrate_fixture/home").string())},
              {"DATABASE_URL", conninfo}};
  for (const char* name : {"PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"}) {
    if (const char* value = std::getenv(name)) spec.env.emplace_back(name, value);
  }
  if (const char* password = std::getenv("PGPASSWORD")) spec.redact.push_back(password);
  for (auto& kv : extra) spec.env.push_back(std::move(kv));
  spec.timeout = 120s;
  return spec;
}

CommandResult run(const CommandSpec& spec) {
  auto started = promoter::adapters::start_command(spec);
  REQUIRE_MESSAGE(started.has_value(), (started ? "" : started.error()) << " (scripts/test installs pnpm)");
  return (*started)->wait();
}

std::string query(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction n(c);
  const auto row = n.exec1(sql);
  return row[0].is_null() ? "NULL" : row[0].as<std::string>();
}

}  // namespace

TEST_CASE("db:migrate of the fixture app applies its migrations once and records every run") {
  require_pnpm();
  const auto db = fresh_database("promoter_migrate_fixture_runs");

  auto r = run(migrate(db));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK_FALSE(r.timed_out);
  CHECK(r.output.find("applied 001_create_widgets.sql\napplied 002_add_widget_color.sql\n") != std::string::npos);
  CHECK(query(db, "SELECT string_agg(name, ',' ORDER BY name) FROM fixture_schema_migrations") ==
        "001_create_widgets.sql,002_add_widget_color.sql");
  CHECK(query(db, "SELECT count(*) FROM fixture_migration_runs") == "1");
  CHECK(query(db,
              "SELECT array_to_string(applied, ',') || ' ' || ok || ' ' || (finished_at >= started_at) "
              "FROM fixture_migration_runs") == "001_create_widgets.sql,002_add_widget_color.sql true true");
  CHECK(query(db, "SELECT color FROM widgets WHERE name = 'sprocket'") == "blue");

  r = run(migrate(db));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("applied 0") == std::string::npos);
  CHECK(r.output.find("nothing to apply") != std::string::npos);
  CHECK(query(db, "SELECT count(*) FROM fixture_schema_migrations") == "2");
  CHECK(query(db, "SELECT count(*) FROM fixture_migration_runs") == "2");
  CHECK(query(db, "SELECT cardinality(applied) || ' ' || ok FROM fixture_migration_runs ORDER BY id DESC LIMIT 1") ==
        "0 true");
  CHECK(query(db,
              "SELECT (SELECT started_at FROM fixture_migration_runs ORDER BY id DESC LIMIT 1) >= "
              "(SELECT finished_at FROM fixture_migration_runs ORDER BY id LIMIT 1)") == "t");
}

TEST_CASE("a failing migration exits non-zero with PostgreSQL's error and leaves nothing of itself recorded") {
  require_pnpm();
  const auto db = fresh_database("promoter_migrate_fixture_broken");
  const auto migrations = temp_dir("migrate_fixture/broken_migrations");
  for (const auto& f : std::filesystem::directory_iterator(kFixture / "migrations")) {
    std::filesystem::copy_file(f.path(), migrations / f.path().filename());
  }
  std::ofstream(migrations / "003_broken.sql") << "CREATE TABLE gadgets (id int);\nSELECT * FROM no_such_table;\n";

  const auto r = run(migrate(db, {{"FIXTURE_MIGRATIONS_DIR", migrations.string()}}));
  CHECK(r.exit_code != 0);
  CHECK_FALSE(r.timed_out);
  const auto tail = r.last_lines(8);
  CHECK_MESSAGE(tail.find("relation \"no_such_table\" does not exist") != std::string::npos, tail);
  CHECK_MESSAGE(tail.find("003_broken.sql") != std::string::npos, tail);

  CHECK(query(db, "SELECT string_agg(name, ',' ORDER BY name) FROM fixture_schema_migrations") ==
        "001_create_widgets.sql,002_add_widget_color.sql");
  CHECK(query(db, "SELECT to_regclass('gadgets') IS NULL") == "t");
  CHECK(query(db,
              "SELECT array_to_string(applied, ',') || ' ' || ok || ' ' || (finished_at IS NOT NULL) "
              "FROM fixture_migration_runs") == "001_create_widgets.sql,002_add_widget_color.sql false true");
}

TEST_CASE("with FIXTURE_BLOCK_FILE, db:migrate records its run and keeps running until the file exists") {
  require_pnpm();
  const auto db = fresh_database("promoter_migrate_fixture_block");
  const auto block_file = temp_dir("migrate_fixture/block") / "release";

  auto started = promoter::adapters::start_command(migrate(db, {{"FIXTURE_BLOCK_FILE", block_file.string()}}));
  REQUIRE_MESSAGE(started.has_value(), (started ? "" : started.error()));
  auto& running = **started;
  const bool recorded = eventually([&] {
    return query(db, "SELECT to_regclass('fixture_migration_runs') IS NOT NULL") == "t" &&
           query(db, "SELECT count(*) FROM fixture_migration_runs WHERE finished_at IS NOT NULL AND ok") == "1";
  });
  CHECK(recorded);
  CHECK(promoter::adapters::process_group_alive(running.pgid(), running.start_marker()));

  std::ofstream(block_file) << "go\n";
  const auto r = running.wait();
  CHECK_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("waiting for " + block_file.string()) != std::string::npos);
  CHECK_FALSE(promoter::adapters::process_group_alive(running.pgid(), running.start_marker()));
}
