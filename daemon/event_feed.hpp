#pragma once
// GET /v1/events: Server-Sent Events of what changed (ports/event_log.hpp), for the web console and
// `promotectl watch`. One poll of the event log per instance, only while someone listens, fanned out to every
// subscriber; a client resumes with Last-Event-ID, is told to reload everything (`event: reset`) when it
// fell too far behind, hears a heartbeat comment when nothing happens, and one address holds a bounded
// number of streams. Everything but the database reads runs on the io thread.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/http/http_types.hpp"
#include "ports/clock.hpp"
#include "ports/event_log.hpp"

namespace promoter::daemon {

struct EventFeedOptions {
  std::chrono::milliseconds poll_interval{200};  // how often the log is read while anyone listens
  // An id missing between two written ones is a transaction still committing (or one that rolled back):
  // later ids wait this long for it, so events are delivered in id order and a resume misses none.
  std::chrono::milliseconds gap_wait{2000};
  std::chrono::milliseconds heartbeat{15000};  // a comment line after this long without an event
  std::size_t max_subscribers = 1000;          // beyond: 503
  std::size_t max_subscribers_per_peer = 8;    // from one address; beyond: 429
  std::size_t max_backlog = 1000;              // events queued for one subscriber, or replayed on resume; beyond: reset
  core::Duration retention = std::chrono::hours(24);  // older events are pruned, hourly while anyone listens
};

class EventFeed {
 public:
  EventFeed(boost::asio::any_io_executor io, boost::asio::any_io_executor blocking, ports::EventLog& log,
            const ports::Clock& clock, EventFeedOptions options = {});
  ~EventFeed();
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  // GET /v1/events. 400 for a malformed Last-Event-ID, 429 too_many_subscribers for an address at its cap,
  // 503 at the total cap.
  boost::asio::awaitable<HttpResponse> handle(HttpRequest&);

  // Ends every stream and the poll (shutdown). Idempotent.
  void close();

  std::size_t subscribers() const;

  // One event as the stream writes it ("id: ...\nevent: ...\ndata: {...}\n\n").
  static std::string format(const ports::ChangeEvent&);

 private:
  struct State;
  struct Subscriber;
  static boost::asio::awaitable<void> poll(std::shared_ptr<State>);
  static boost::asio::awaitable<void> stream(std::shared_ptr<State>, std::shared_ptr<Subscriber>,
                                             std::optional<std::int64_t> last_event_id, ResponseStream&);
  std::shared_ptr<State> state_;
};

}  // namespace promoter::daemon
