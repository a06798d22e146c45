#pragma once
// The record of what changed (sql/015_events.sql), as GET /v1/events streams it: ids in the order rows were
// written, each naming a kind of change and the release or promotion it touched. Calls block: make them from
// the blocking pool. Reads only, but for pruning, which any instance may do.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/time.hpp"

namespace promoter::ports {

struct ChangeEvent {
  std::int64_t id = 0;
  std::string kind;  // release, promotion, step, production, audit, obligation, freeze, pin
  core::Timestamp at{};
  std::optional<std::string> sha;
  std::optional<std::int64_t> promotion_id;
};

class EventLog {
 public:
  virtual ~EventLog() = default;
  // Oldest first: ids above `after` and at most `up_to` (nullopt: no bound), at most `limit` of them.
  virtual core::Result<std::vector<ChangeEvent>> events_after(std::int64_t after, std::optional<std::int64_t> up_to,
                                                              int limit) = 0;
  // The newest id (0 when none), and the oldest still kept (0 when none).
  virtual core::Result<std::pair<std::int64_t, std::int64_t>> event_id_range() = 0;
  // Deletes events written before `before`; how many.
  virtual core::Result<std::size_t> prune_events(core::Timestamp before) = 0;
};

}  // namespace promoter::ports
