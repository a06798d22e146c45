#pragma once
// Requests refused for want of a valid token (401), counted per (peer, route, reason) per minute, so that
// a flood of them becomes a handful of audit rows instead of one row per request. Counts that could not
// be written (the database was down) are kept and offered again. Memory is bounded: at most `max_keys`
// distinct keys per minute; refusals from further peers are counted under `other_peers`.
// Not thread-safe: the daemon uses it on its io thread.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/effect.hpp"
#include "ports/clock.hpp"
#include "daemon/uses_ports.hpp"

namespace promoter::daemon {

// The refusals of one key in one minute (after failed writes: across the minutes that waited).
struct RefusalCount {
  std::string peer;    // the client's address, or RefusalTally::other_peers
  std::string route;   // method and route pattern, e.g. "GET /v1/status"
  std::string reason;  // e.g. "missing bearer token"
  std::uint64_t count = 0;
  core::Timestamp first{};
  core::Timestamp last{};
  bool delayed = false;  // a write of it failed: the database was unavailable when it was due
};

// Its audit row: actor "anonymous", action "auth.unauthenticated", and a detail like
// "12 refusals from 10.0.0.7 on GET /v1/status: missing bearer token between T1 and T2".
core::AuditNote to_audit_note(const RefusalCount&);

class RefusalTally {
 public:
  static constexpr std::string_view other_peers = "other peers";

  explicit RefusalTally(const Clock& clock, std::size_t max_keys = 200);

  void add(std::string_view peer, std::string_view route, std::string_view reason);
  // The counts of every minute that has closed, and those given back after a failed write.
  std::vector<RefusalCount> take_closed();
  // Everything, the current minute included (at shutdown).
  std::vector<RefusalCount> take_all();
  // Counts that could not be written: kept (marked delayed) and offered again by the next take. Merged per
  // key with other kept counts, under the same bound.
  void give_back(std::vector<RefusalCount> unwritten);

  std::size_t keys() const { return current_.size() + closed_.size() + kept_.size(); }

 private:
  using Key = std::tuple<std::string, std::string, std::string>;
  using Counts = std::map<Key, RefusalCount>;
  void merge(Counts& into, RefusalCount count) const;
  void roll_over();  // moves the current minute to closed_ once it has ended

  const Clock& clock_;
  std::size_t max_keys_;
  core::Timestamp minute_{};  // start of the minute current_ counts
  Counts current_;
  Counts closed_;  // minutes that ended and were not taken yet
  Counts kept_;    // given back after a failed write
};

}  // namespace promoter::daemon
