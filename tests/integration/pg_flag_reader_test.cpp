// read_feature_flags against a real PostgreSQL (pg_virtualenv): a scratch schema and table of flags, read
// back sorted; clear errors for wrong names; no password in any error; identifiers quoted, never run.
#include <utility>

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include <chrono>
#include <string>

#include "adapters/pg_flag_reader.hpp"
#include "core/time.hpp"
#include "tests/support/test_support.hpp"

using namespace promoter;
using namespace std::chrono_literals;

namespace {

void run(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction n(c);
  n.exec(sql);
}

int count(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction n(c);
  return n.exec1(sql)[0].as<int>();
}

// A database with app.feature_flags (three rows, one without updated_at) and public.x.
std::string flag_database(const std::string& name) {
  const auto url = testing::fresh_database(name);
  run(url,
      "CREATE SCHEMA app;"
      "CREATE TABLE app.feature_flags (key text PRIMARY KEY, enabled boolean NOT NULL, updated_at timestamptz);"
      "INSERT INTO app.feature_flags VALUES"
      " ('new-checkout', true, '2026-11-30T10:00:00.250Z'),"
      " ('beta-search', false, '2026-11-29T08:30:00Z'),"
      " ('legacy-export', true, NULL);"
      "CREATE TABLE public.x (id int);"
      "INSERT INTO public.x VALUES (1);");
  return url;
}

adapters::FlagTable app_table() {
  adapters::FlagTable table;
  table.table = "app.feature_flags";
  return table;
}

}  // namespace

TEST_CASE("read_feature_flags reads every row of a schema-qualified table, sorted by key") {
  const auto url = flag_database("promoter_flags_read");
  auto flags = adapters::read_feature_flags(url, app_table(), 5s);
  REQUIRE_MESSAGE(flags.has_value(), flags.error().message);
  REQUIRE(flags->size() == 3);
  CHECK((*flags)[0].key == "beta-search");
  CHECK_FALSE((*flags)[0].enabled);
  CHECK((*flags)[0].updated_at == core::parse_timestamp("2026-11-29T08:30:00Z").value());
  CHECK((*flags)[1].key == "legacy-export");
  CHECK((*flags)[1].enabled);
  CHECK_FALSE((*flags)[1].updated_at.has_value());
  CHECK((*flags)[2].key == "new-checkout");
  CHECK((*flags)[2].enabled);
  CHECK((*flags)[2].updated_at == core::parse_timestamp("2026-11-30T10:00:00.250Z").value());
}

TEST_CASE("read_feature_flags reads the default table and other column names") {
  const auto url = testing::fresh_database("promoter_flags_columns");
  run(url,
      "CREATE TABLE feature_flags (key text, enabled boolean, updated_at timestamp);"
      "INSERT INTO feature_flags VALUES ('a', NULL, now());"
      "CREATE TABLE toggles (\"Name\" text, \"on\" boolean, changed timestamptz);"
      "INSERT INTO toggles VALUES ('z', true, NULL), ('y', false, NULL);");
  auto flags = adapters::read_feature_flags(url, adapters::FlagTable{}, 5s);
  REQUIRE_MESSAGE(flags.has_value(), flags.error().message);
  REQUIRE(flags->size() == 1);
  CHECK_FALSE((*flags)[0].enabled);  // NULL enabled counts as off
  CHECK((*flags)[0].updated_at.has_value());

  adapters::FlagTable toggles{"toggles", "Name", "on", "changed"};
  auto other = adapters::read_feature_flags(url, toggles, 5s);
  REQUIRE_MESSAGE(other.has_value(), other.error().message);
  REQUIRE(other->size() == 2);
  CHECK((*other)[0].key == "y");
  CHECK((*other)[1].key == "z");
}

TEST_CASE("a table with no update time column, and one listing a key twice, read as one sighting per key") {
  const auto url = testing::fresh_database("promoter_flags_no_time");
  run(url,
      "CREATE TABLE flags (key text, enabled boolean);"
      "INSERT INTO flags VALUES ('b', true), ('a', false), ('b', true);");
  adapters::FlagTable table{"flags", "key", "enabled", ""};
  auto flags = adapters::read_feature_flags(url, table, 5s);
  REQUIRE_MESSAGE(flags.has_value(), flags.error().message);
  REQUIRE(flags->size() == 2);
  CHECK((*flags)[0].key == "a");
  CHECK((*flags)[1].key == "b");
  CHECK((*flags)[1].enabled);
  CHECK_FALSE((*flags)[1].updated_at.has_value());
}

TEST_CASE("a wrong column or table name is a clear error") {
  const auto url = flag_database("promoter_flags_bad_names");
  auto table = app_table();
  table.enabled_column = "is_on";
  auto flags = adapters::read_feature_flags(url, table, 5s);
  REQUIRE_FALSE(flags.has_value());
  CAPTURE(flags.error().message);
  CHECK(flags.error().kind == adapters::AdapterError::Kind::protocol);
  CHECK(flags.error().message.find("feature flags (app.feature_flags)") != std::string::npos);
  CHECK(flags.error().message.find("column \"is_on\" does not exist") != std::string::npos);

  adapters::FlagTable missing;
  missing.table = "app.flags";
  auto none = adapters::read_feature_flags(url, missing, 5s);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().message.find("does not exist") != std::string::npos);

  adapters::FlagTable dotted;
  dotted.table = "a.b.c";
  auto refused = adapters::read_feature_flags(url, dotted, 5s);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("neither TABLE nor SCHEMA.TABLE") != std::string::npos);
}

TEST_CASE("an injection attempt in a name is quoted: not found, and nothing else runs") {
  const auto url = flag_database("promoter_flags_injection");
  adapters::FlagTable table;
  table.table = "feature_flags; DROP TABLE x";
  auto flags = adapters::read_feature_flags(url, table, 5s);
  REQUIRE_FALSE(flags.has_value());
  CHECK(flags.error().message.find("does not exist") != std::string::npos);
  CHECK(count(url, "SELECT count(*) FROM public.x") == 1);

  auto column = app_table();
  column.key_column = "key\" FROM app.feature_flags; DROP TABLE x; --";
  auto again = adapters::read_feature_flags(url, column, 5s);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().message.find("does not exist") != std::string::npos);
  CHECK(count(url, "SELECT count(*) FROM public.x") == 1);
}

TEST_CASE("an unreachable database's error never contains the password") {
  const std::string password = "hunter2-flag-secret";
  for (const auto& url : {"postgresql://flags:" + password + "@127.0.0.1:1/app",
                          "host=127.0.0.1 port=1 user=flags password=" + password + " dbname=app",
                          "postgresql://flags:" + password + "@[bad"}) {
    CAPTURE(url.substr(0, 12));
    auto flags = adapters::read_feature_flags(url, adapters::FlagTable{}, 2s);
    REQUIRE_FALSE(flags.has_value());
    CHECK(flags.error().kind == adapters::AdapterError::Kind::transport);
    CHECK(flags.error().message.find(password) == std::string::npos);
    CHECK(flags.error().message.find("cannot connect") != std::string::npos);
  }
}

TEST_CASE("a slow read times out with the statement timeout") {
  const auto url = testing::fresh_database("promoter_flags_timeout");
  run(url,
      "CREATE TABLE slow_src (k text);"
      "CREATE FUNCTION slow_key(t text) RETURNS text LANGUAGE sql AS $$ SELECT t FROM (SELECT pg_sleep(2)) s $$;"
      "CREATE VIEW slow_flags AS SELECT slow_key('k') AS key, true AS enabled, now() AS updated_at;");
  adapters::FlagTable table;
  table.table = "slow_flags";
  auto flags = adapters::read_feature_flags(url, table, 200ms);
  REQUIRE_FALSE(flags.has_value());
  CAPTURE(flags.error().message);
  CHECK(flags.error().kind == adapters::AdapterError::Kind::timeout);
}
