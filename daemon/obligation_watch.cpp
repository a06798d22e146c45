#include "daemon/obligation_watch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ports/blocking.hpp"
#include "daemon/uses_ports.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;

ObligationWatch::ObligationWatch(asio::any_io_executor io, asio::any_io_executor blocking, HistoryQueries& store,
                                 const Clock& clock)
    : blocking_(std::move(blocking)), store_(store), clock_(clock), timer_(io) {}

asio::awaitable<core::Result<void>> ObligationWatch::reload() {
  auto read = [this] { return store_.obligations(true); };
  auto r = co_await run_blocking(blocking_, std::move(read));
  if (!r) co_return std::unexpected(r.error());
  open_ = std::move(*r);
  counts();
  co_return core::Result<void>{};
}

ObligationCounts count_obligations(const std::vector<core::Obligation>& open, core::Timestamp now) {
  ObligationCounts c;
  for (const auto& o : open) {
    if (!o.open()) continue;
    ++c.open;
    if (!o.overdue(now)) continue;
    ++c.overdue;
    c.overdue_items.push_back(o);
  }
  return c;
}

ObligationCounts ObligationWatch::counts() {
  ObligationCounts c = count_obligations(open_, clock_.now());
  for (const auto& o : c.overdue_items)
    if (reported_.insert(o.id).second && on_overdue_) on_overdue_(o);
  if (on_counts_) on_counts_(c.open, c.overdue);
  arm();
  return c;
}

void ObligationWatch::arm() {
  if (stopped_) return;
  const auto now = clock_.now();
  std::optional<core::Timestamp> next;
  for (const auto& o : open_)
    if (!o.overdue(now) && (!next || o.due_at < *next)) next = o.due_at;
  timer_.cancel();
  if (!next) return;
  // A millisecond past the due time, so the clock read then is past it too ("overdue" is strictly after).
  timer_.expires_after(*next - now + std::chrono::milliseconds(1));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) counts();
  });
}

void ObligationWatch::stop() {
  stopped_ = true;
  timer_.cancel();
}

}  // namespace promoter::daemon
