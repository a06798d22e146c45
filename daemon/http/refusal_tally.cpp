#include "daemon/http/refusal_tally.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace promoter::daemon {

namespace {

core::Timestamp minute_of(core::Timestamp t) { return std::chrono::floor<std::chrono::minutes>(t); }

void append(std::vector<RefusalCount>& out,
            std::map<std::tuple<std::string, std::string, std::string>, RefusalCount>& from) {
  for (auto& [key, count] : from) out.push_back(std::move(count));
  from.clear();
}

}  // namespace

core::AuditNote to_audit_note(const RefusalCount& c) {
  std::string detail =
      fmt::format("{} refusal{} from {} on {}: {} between {} and {}", c.count, c.count == 1 ? "" : "s", c.peer, c.route,
                  c.reason, core::format_timestamp(c.first), core::format_timestamp(c.last));
  if (c.delayed) detail += "; the database was unavailable then, so this was written once it was back";
  return core::AuditNote{"anonymous", "auth.unauthenticated", std::nullopt, std::move(detail)};
}

RefusalTally::RefusalTally(const Clock& clock, std::size_t max_keys)
    : clock_(clock), max_keys_(std::max<std::size_t>(max_keys, 1)), minute_(minute_of(clock.now())) {}

void RefusalTally::merge(Counts& into, RefusalCount count) const {
  Key key{count.peer, count.route, count.reason};
  auto it = into.find(key);
  if (it == into.end() && into.size() >= max_keys_ && count.peer != other_peers) {
    // Full: one more key per route and reason at most, whatever the number of peers.
    count.peer = std::string(other_peers);
    std::get<0>(key) = count.peer;
    it = into.find(key);
  }
  if (it == into.end()) {
    into.emplace(std::move(key), std::move(count));
    return;
  }
  RefusalCount& held = it->second;
  held.count += count.count;
  held.first = std::min(held.first, count.first);
  held.last = std::max(held.last, count.last);
  held.delayed = held.delayed || count.delayed;
}

void RefusalTally::roll_over() {
  const auto minute = minute_of(clock_.now());
  if (minute == minute_) return;
  for (auto& [key, count] : current_) merge(closed_, std::move(count));
  current_.clear();
  minute_ = minute;
}

void RefusalTally::add(std::string_view peer, std::string_view route, std::string_view reason) {
  roll_over();
  const auto now = clock_.now();
  merge(current_, RefusalCount{std::string(peer), std::string(route), std::string(reason), 1, now, now, false});
}

std::vector<RefusalCount> RefusalTally::take_closed() {
  roll_over();
  std::vector<RefusalCount> out;
  append(out, kept_);
  append(out, closed_);
  return out;
}

std::vector<RefusalCount> RefusalTally::take_all() {
  std::vector<RefusalCount> out = take_closed();
  append(out, current_);
  return out;
}

void RefusalTally::give_back(std::vector<RefusalCount> unwritten) {
  for (auto& count : unwritten) {
    count.delayed = true;
    merge(kept_, std::move(count));
  }
}

}  // namespace promoter::daemon
