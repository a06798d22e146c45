#pragma once
// Keeps the open hotfix obligations in memory on the io thread: for /v1/status and the metrics without a
// query, and to say once, at the due time, that an obligation is overdue.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <set>
#include <vector>

#include "core/obligation.hpp"
#include "ports/clock.hpp"
#include "ports/history_queries.hpp"
#include "daemon/uses_ports.hpp"

namespace promoter::daemon {

struct ObligationCounts {
  int open = 0;  // overdue ones included
  int overdue = 0;
  std::vector<core::Obligation> overdue_items;
};

// The counts of `open` obligations as of `now` (a standby counts what it read from the store).
ObligationCounts count_obligations(const std::vector<core::Obligation>& open, core::Timestamp now);

// Every member runs on the io thread (`io`'s executor); store calls go to `blocking`.
class ObligationWatch {
 public:
  ObligationWatch(boost::asio::any_io_executor io, boost::asio::any_io_executor blocking, HistoryQueries& store,
                  const Clock& clock);

  // Called once per obligation when it is first seen overdue (after a restart: once more).
  void on_overdue(std::function<void(const core::Obligation&)> f) { on_overdue_ = std::move(f); }
  // Called with the counts whenever they may have changed (for the metrics).
  void on_counts(std::function<void(int open, int overdue)> f) { on_counts_ = std::move(f); }

  // Reads the open obligations from the store (at start, after a hotfix, after a close).
  boost::asio::awaitable<core::Result<void>> reload();
  // The open obligations as last read (io thread).
  const std::vector<core::Obligation>& open() const { return open_; }
  // The counts as of the clock's now; reports newly overdue obligations on the way.
  ObligationCounts counts();
  void stop();

 private:
  void arm();

  boost::asio::any_io_executor blocking_;
  HistoryQueries& store_;
  const Clock& clock_;
  boost::asio::steady_timer timer_;
  std::vector<core::Obligation> open_;
  std::set<std::int64_t> reported_;
  std::function<void(const core::Obligation&)> on_overdue_;
  std::function<void(int, int)> on_counts_;
  bool stopped_ = false;
};

}  // namespace promoter::daemon
