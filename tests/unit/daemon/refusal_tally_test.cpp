// daemon::RefusalTally on a fake clock: 401s counted per peer, route and reason per minute, bounded, and
// kept across failed writes. No sleeping: the test moves the clock.
#include <doctest/doctest.h>
#include <numeric>
#include <string>

#include "daemon/http/refusal_tally.hpp"

using namespace promoter;
using promoter::daemon::RefusalCount;
using promoter::daemon::RefusalTally;

namespace {

class FakeClock final : public ports::Clock {
 public:
  core::Timestamp now() const override { return now_; }
  void advance(core::Duration d) { now_ += d; }

 private:
  // 2026-12-02T01:00:10Z: ten seconds into a minute.
  core::Timestamp now_{std::chrono::sys_days{std::chrono::year{2026} / 12 / 2} + std::chrono::hours{1} +
                       std::chrono::seconds{10}};
};

std::uint64_t total(const std::vector<RefusalCount>& counts) {
  return std::accumulate(counts.begin(), counts.end(), std::uint64_t{0},
                         [](std::uint64_t sum, const RefusalCount& c) { return sum + c.count; });
}

}  // namespace

TEST_CASE("refusals are counted per peer, route and reason, and offered once their minute has closed") {
  FakeClock clock;
  RefusalTally tally(clock);
  for (int i = 0; i < 500; ++i) tally.add("10.0.0.7", "GET /v1/status", "missing bearer token");
  clock.advance(std::chrono::seconds(5));
  for (int i = 0; i < 20; ++i) tally.add("10.0.0.7", "GET /v1/status", "invalid bearer token");
  tally.add("10.0.0.8", "GET /v1/status", "missing bearer token");
  CHECK(tally.keys() == 3);

  // The minute is still open: nothing to write yet.
  CHECK(tally.take_closed().empty());

  clock.advance(std::chrono::seconds(50));                          // 01:01:05: the first minute has closed
  tally.add("10.0.0.7", "GET /v1/status", "missing bearer token");  // counts in the new minute
  const auto closed = tally.take_closed();
  REQUIRE(closed.size() == 3);
  CHECK(total(closed) == 521);
  const RefusalCount* flood = nullptr;
  for (const auto& c : closed)
    if (c.peer == "10.0.0.7" && c.reason == "missing bearer token") flood = &c;
  REQUIRE(flood != nullptr);
  CHECK(flood->count == 500);
  CHECK_FALSE(flood->delayed);
  CHECK(core::format_timestamp(flood->first) == "2026-12-02T01:00:10.000Z");
  CHECK(core::format_timestamp(flood->last) == "2026-12-02T01:00:10.000Z");

  const auto note = daemon::to_audit_note(*flood);
  CHECK(note.actor == "anonymous");
  CHECK(note.action == "auth.unauthenticated");
  CHECK(note.detail ==
        "500 refusals from 10.0.0.7 on GET /v1/status: missing bearer token between 2026-12-02T01:00:10.000Z and "
        "2026-12-02T01:00:10.000Z");

  // Taken once only; the new minute's refusal waits for its own minute to close, or for take_all.
  CHECK(tally.take_closed().empty());
  const auto rest = tally.take_all();
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].count == 1);
  CHECK(tally.keys() == 0);
}

TEST_CASE("past max_keys distinct keys a minute, further peers are counted together under 'other peers'") {
  FakeClock clock;
  RefusalTally tally(clock, 4);
  for (int peer = 0; peer < 1000; ++peer)
    for (int i = 0; i < 3; ++i)
      tally.add("10.1." + std::to_string(peer / 250) + "." + std::to_string(peer % 250), "GET /v1/releases",
                "invalid bearer token");
  CHECK(tally.keys() == 5);  // four peers and the overflow
  clock.advance(std::chrono::minutes(1));
  const auto closed = tally.take_closed();
  REQUIRE(closed.size() == 5);
  CHECK(total(closed) == 3000);
  std::uint64_t others = 0;
  for (const auto& c : closed)
    if (c.peer == RefusalTally::other_peers) others = c.count;
  CHECK(others == 996 * 3);
  CHECK(daemon::to_audit_note(closed.back()).detail.find("from other peers on GET /v1/releases") != std::string::npos);
}

TEST_CASE("counts that could not be written are kept, merged and written later as delayed by an outage") {
  FakeClock clock;
  RefusalTally tally(clock, 8);
  for (int i = 0; i < 7; ++i) tally.add("10.0.0.7", "GET /v1/status", "missing bearer token");
  clock.advance(std::chrono::minutes(1));
  auto first = tally.take_closed();
  REQUIRE(first.size() == 1);
  tally.give_back(std::move(first));  // the database was down

  // Another minute of refusals while it stays down: the same key merges, so memory does not grow per minute.
  for (int i = 0; i < 5; ++i) tally.add("10.0.0.7", "GET /v1/status", "missing bearer token");
  clock.advance(std::chrono::minutes(1));
  auto second = tally.take_closed();
  REQUIRE(second.size() == 2);  // the kept count and the new minute's, each its own row
  tally.give_back(std::move(second));
  CHECK(tally.keys() == 1);

  // Many peers during a long outage stay within the bound too.
  for (int minute = 0; minute < 30; ++minute) {
    for (int peer = 0; peer < 20; ++peer)
      tally.add("10.2.0." + std::to_string(peer), "GET /v1/audit", "missing bearer token");
    clock.advance(std::chrono::minutes(1));
    tally.give_back(tally.take_closed());
    CHECK(tally.keys() <= 9);
  }

  // The database is back: everything is offered, counts intact, and says the outage delayed it.
  const auto later = tally.take_closed();
  CHECK(total(later) == 12 + 30 * 20);
  for (const auto& c : later) {
    CHECK(c.delayed);
    CHECK(daemon::to_audit_note(c).detail.find("the database was unavailable") != std::string::npos);
  }
  const RefusalCount* kept = nullptr;
  for (const auto& c : later)
    if (c.peer == "10.0.0.7") kept = &c;
  REQUIRE(kept != nullptr);
  CHECK(kept->count == 12);
  CHECK(core::format_timestamp(kept->first) == "2026-12-02T01:00:10.000Z");
  CHECK(core::format_timestamp(kept->last) == "2026-12-02T01:01:10.000Z");
  CHECK(tally.keys() == 0);
}
