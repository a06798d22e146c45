// PgStore's console sessions against a real PostgreSQL, with times chosen by the test: a session lives while it
// is used within its idle limit and until its absolute limit, whichever comes first; sign-out and a removed token
// end it for good; the table keeps only what may still matter.
#include <utility>

#include <doctest/doctest.h>
#include <pqxx/pqxx>

#include "adapters/pg_store.hpp"
#include "tests/support/test_support.hpp"

namespace promoter {
namespace {

using namespace std::chrono_literals;

const core::Timestamp t0 = core::Timestamp{} + std::chrono::hours(24 * 365 * 56);  // 2026
const ports::SessionLifetime lifetime{1h, 8h};
const std::string token_a(64, 'a'), token_b(64, 'b');

std::string digest(char c) { return std::string(64, c); }

ports::ConsoleSession session(const std::string& token, core::Timestamp at) {
  return ports::ConsoleSession{"carol", token, "csrf-" + token.substr(0, 4), at, at};
}

struct Fixture {
  std::string url = testing::fresh_database("promoter_console_sessions");
  adapters::PgStore store{url};
  Fixture() { REQUIRE(store.migrate().has_value()); }

  bool live(const std::string& id, core::Timestamp at) {
    auto found = store.use_session(id, at, lifetime);
    REQUIRE(found.has_value());
    return found->has_value();
  }
  long rows() {
    pqxx::connection c(url);
    pqxx::read_transaction t(c);
    return t.exec1("SELECT count(*) FROM console_sessions")[0].as<long>();
  }
};

TEST_CASE_FIXTURE(Fixture, "a session read back carries who, which token and its CSRF token") {
  REQUIRE(store.create_session(digest('1'), session(token_a, t0), lifetime).has_value());
  auto found = store.use_session(digest('1'), t0 + 1min, lifetime);
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->identity == "carol");
  CHECK((*found)->token_digest == token_a);
  CHECK((*found)->csrf_token == "csrf-aaaa");
  CHECK((*found)->created_at == t0);
  CHECK((*found)->last_seen_at == t0 + 1min);
  CHECK_FALSE(live(digest('2'), t0 + 1min));  // unknown id
  // The same id twice is a conflict, never a second session.
  CHECK(store.create_session(digest('1'), session(token_b, t0), lifetime).error().code == core::ErrorCode::conflict);
}

TEST_CASE_FIXTURE(Fixture, "use keeps a session alive until its idle limit; the absolute limit ends it anyway") {
  REQUIRE(store.create_session(digest('1'), session(token_a, t0), lifetime).has_value());
  // Used every 50 minutes: alive past the first hour...
  for (auto at = t0 + 50min; at < t0 + 8h; at += 50min)
    CHECK_MESSAGE(live(digest('1'), at), "at +" << (at - t0).count());
  // ...but not past eight hours since sign-in.
  CHECK_FALSE(live(digest('1'), t0 + 8h + 1min));

  REQUIRE(store.create_session(digest('2'), session(token_a, t0), lifetime).has_value());
  CHECK(live(digest('2'), t0 + 59min));
  CHECK_FALSE(live(digest('2'), t0 + 59min + 1h));  // idle for an hour
  // An expired session stays expired, however it is used afterwards.
  CHECK_FALSE(live(digest('2'), t0 + 59min));
}

TEST_CASE_FIXTURE(Fixture, "sign-out and a removed token end sessions for good") {
  REQUIRE(store.create_session(digest('1'), session(token_a, t0), lifetime).has_value());
  REQUIRE(store.create_session(digest('2'), session(token_a, t0), lifetime).has_value());
  REQUIRE(store.create_session(digest('3'), session(token_b, t0), lifetime).has_value());

  REQUIRE(store.revoke_session(digest('1'), t0 + 1min, "signed out").has_value());
  CHECK_FALSE(live(digest('1'), t0 + 2min));
  CHECK(store.revoke_session(digest('1'), t0 + 3min, "signed out").has_value());  // twice: no error

  // A reload that keeps only token b: token a's remaining session ends, b's lives.
  auto ended = store.revoke_sessions_without({token_b}, t0 + 5min, "token removed");
  REQUIRE(ended.has_value());
  CHECK(*ended == 1);
  CHECK_FALSE(live(digest('2'), t0 + 6min));
  CHECK(live(digest('3'), t0 + 6min));
  // No tokens at all: every session ends.
  CHECK(store.revoke_sessions_without({}, t0 + 7min, "token removed").value() == 1);
  CHECK_FALSE(live(digest('3'), t0 + 8min));
  CHECK_FALSE(store.revoke_sessions_without({"not hex"}, t0, "x").has_value());
}

TEST_CASE_FIXTURE(Fixture, "a sign-in deletes sessions that ended long ago, so the table grows with people, not time") {
  for (char c : {'1', '2', '3'}) REQUIRE(store.create_session(digest(c), session(token_a, t0), lifetime).has_value());
  CHECK(rows() == 3);
  // Two absolute lifetimes later, the old ones go as someone signs in.
  REQUIRE(store.create_session(digest('4'), session(token_a, t0 + 17h), lifetime).has_value());
  CHECK(rows() == 1);
  CHECK(live(digest('4'), t0 + 17h + 1min));
}

}  // namespace
}  // namespace promoter
