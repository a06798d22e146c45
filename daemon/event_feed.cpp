#include "daemon/event_feed.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <charconv>
#include <fmt/format.h>

#include "daemon/log.hpp"
#include "ports/blocking.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;

struct EventFeed::Subscriber {
  explicit Subscriber(asio::any_io_executor io) : wake(io) {}
  std::string peer;
  std::deque<ports::ChangeEvent> queue;
  bool reset = false;  // fell max_backlog behind: the client is told to reload
  asio::steady_timer wake;
};

struct EventFeed::State {
  State(asio::any_io_executor io, asio::any_io_executor blocking, ports::EventLog& log, const ports::Clock& clock,
        EventFeedOptions options)
      : io(io), blocking(blocking), log(log), clock(clock), options(options), poll_timer(io) {}
  asio::any_io_executor io;
  asio::any_io_executor blocking;
  ports::EventLog& log;
  const ports::Clock& clock;
  const EventFeedOptions options;
  asio::steady_timer poll_timer;
  std::vector<Subscriber*> subscribers;
  std::map<std::string, std::size_t> per_peer;
  bool closed = false;
  bool polling = false;
  std::optional<std::int64_t> cursor;        // every event up to here was fanned out
  std::optional<core::Timestamp> gap_since;  // when the gap after `cursor` was first seen
  std::optional<core::Timestamp> pruned_at;
  bool read_failing = false;  // logged once per outage

  void remove(Subscriber* s) {
    subscribers.erase(std::remove(subscribers.begin(), subscribers.end(), s), subscribers.end());
    if (auto it = per_peer.find(s->peer); it != per_peer.end() && --it->second == 0) per_peer.erase(it);
    if (subscribers.empty()) poll_timer.cancel();
  }

  void fan_out(const std::vector<ports::ChangeEvent>& batch) {
    for (auto* s : subscribers) {
      if (s->reset) continue;
      if (s->queue.size() + batch.size() > options.max_backlog) {
        s->reset = true;
        s->queue.clear();
      } else {
        s->queue.insert(s->queue.end(), batch.begin(), batch.end());
      }
      s->wake.cancel();
    }
  }

  // The events of `rows` that continue `cursor` without a gap; a gap is waited out for gap_wait.
  std::vector<ports::ChangeEvent> in_order(std::vector<ports::ChangeEvent>& rows, core::Timestamp now) {
    std::vector<ports::ChangeEvent> out;
    for (auto& e : rows) {
      if (e.id != *cursor + 1) {
        if (!gap_since) gap_since = now;
        if (now - *gap_since < options.gap_wait) break;
      }
      gap_since.reset();
      cursor = e.id;
      out.push_back(std::move(e));
    }
    return out;
  }
};

EventFeed::EventFeed(asio::any_io_executor io, asio::any_io_executor blocking, ports::EventLog& log,
                     const ports::Clock& clock, EventFeedOptions options)
    : state_(std::make_shared<State>(io, blocking, log, clock, options)) {}

EventFeed::~EventFeed() { close(); }

void EventFeed::close() {
  state_->closed = true;
  state_->poll_timer.cancel();
  for (auto* s : state_->subscribers) s->wake.cancel();
}

std::size_t EventFeed::subscribers() const { return state_->subscribers.size(); }

std::string EventFeed::format(const ports::ChangeEvent& e) {
  const nlohmann::json data{
      {"id", e.id},
      {"kind", e.kind},
      {"at", core::format_timestamp(e.at)},
      {"sha", e.sha ? nlohmann::json(*e.sha) : nlohmann::json(nullptr)},
      {"promotion_id", e.promotion_id ? nlohmann::json(std::to_string(*e.promotion_id)) : nlohmann::json(nullptr)}};
  // The kind comes from our own triggers, but a line break in it would forge a field: keep it to one word.
  std::string kind = e.kind;
  kind.erase(std::remove_if(kind.begin(), kind.end(), [](char c) { return c == '\n' || c == '\r'; }), kind.end());
  return fmt::format("id: {}\nevent: {}\ndata: {}\n\n", e.id, kind,
                     data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

asio::awaitable<HttpResponse> EventFeed::handle(HttpRequest& request) {
  auto state = state_;
  std::optional<std::int64_t> last_event_id;
  if (!request.last_event_id.empty()) {
    std::int64_t id = 0;
    const auto& text = request.last_event_id;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc{} || end != text.data() + text.size() || id < 0)
      co_return HttpResponse::error(400, core::ErrorCode::invalid_argument,
                                    "Last-Event-ID must be the id of an event this stream sent (a whole number)");
    last_event_id = id;
  }
  if (state->closed) co_return HttpResponse::error(503, core::ErrorCode::unavailable, "promoterd is stopping");
  if (state->subscribers.size() >= state->options.max_subscribers) {
    auto response = HttpResponse::error(503, core::ErrorCode::unavailable,
                                        fmt::format("{} event streams are open, the most this instance serves; retry "
                                                    "later",
                                                    state->subscribers.size()));
    response.headers.emplace_back("Retry-After", "5");
    co_return response;
  }
  if (auto it = state->per_peer.find(request.remote);
      it != state->per_peer.end() && it->second >= state->options.max_subscribers_per_peer) {
    auto response = HttpResponse::error(
        429, "too_many_subscribers",
        fmt::format("{} has {} event streams open, the most one address may; close one (a browser tab) first",
                    request.remote, it->second));
    response.headers.emplace_back("Retry-After", "5");
    co_return response;
  }

  // Counted from now, so the caps hold however many requests arrive at once; uncounted when the response
  // (and its stream) is gone, whether or not the stream ever started.
  std::weak_ptr<State> weak = state;
  std::shared_ptr<Subscriber> subscriber(new Subscriber(state->io), [weak](Subscriber* s) {
    if (auto alive = weak.lock()) alive->remove(s);
    delete s;
  });
  subscriber->peer = request.remote;
  state->subscribers.push_back(subscriber.get());
  ++state->per_peer[subscriber->peer];

  HttpResponse response;
  response.content_type = "text/event-stream; charset=utf-8";
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("X-Accel-Buffering", "no");  // a proxy must pass each event on at once
  response.stream = [state, subscriber, last_event_id](ResponseStream& out) {
    return EventFeed::stream(state, subscriber, last_event_id, out);
  };
  co_return response;
}

asio::awaitable<void> EventFeed::stream(std::shared_ptr<State> state, std::shared_ptr<Subscriber> subscriber,
                                        std::optional<std::int64_t> last_event_id, ResponseStream& out) {
  // Where the fan-out stands; the first listener learns it from the log and starts the poll.
  if (!state->cursor) {
    auto read_range = [state] { return state->log.event_id_range(); };
    auto range = co_await ports::run_blocking(state->blocking, std::move(read_range));
    if (!range) {
      co_await out.write(": the event log cannot be read now; reconnect later\n\n");
      co_return;
    }
    if (!state->cursor) state->cursor = range->first;
  }
  if (!state->polling && !state->closed) {
    state->polling = true;
    asio::co_spawn(state->io, poll(state), asio::detached);
  }

  const std::int64_t joined_at = *state->cursor;
  std::int64_t sent = joined_at;
  bool reset = false;
  // A resume replays what the client missed up to where the fan-out took over, or tells it to reload when
  // that is more than a backlog or no longer kept.
  if (last_event_id && *last_event_id < joined_at) {
    const std::int64_t from = *last_event_id;
    const int limit = static_cast<int>(state->options.max_backlog) + 1;
    auto read_missed = [state, from, joined_at, limit] { return state->log.events_after(from, joined_at, limit); };
    auto missed = co_await ports::run_blocking(state->blocking, std::move(read_missed));
    auto read_range = [state] { return state->log.event_id_range(); };
    auto range = co_await ports::run_blocking(state->blocking, std::move(read_range));
    const bool pruned = range && range->second > from + 1;
    if (!missed || !range || pruned || missed->size() >= static_cast<std::size_t>(limit)) {
      reset = true;
    } else {
      std::string backlog;
      for (const auto& e : *missed) backlog += format(e);
      if (!backlog.empty() && !co_await out.write(backlog)) co_return;
    }
  } else if (last_event_id && *last_event_id > joined_at) {
    reset = true;  // an id this log never wrote (another database, or one restored from a backup)
  }
  if (!co_await out.write("retry: 3000\n: connected\n\n")) co_return;

  for (;;) {
    if (state->closed) co_return;
    if (reset || subscriber->reset) {
      subscriber->reset = false;
      reset = false;
      subscriber->queue.clear();
      sent = *state->cursor;
      ports::ChangeEvent e;
      e.id = sent;
      e.kind = "reset";
      e.at = state->clock.now();
      const std::string text = format(e);
      if (!co_await out.write(text)) co_return;
    }
    std::string batch;
    while (!subscriber->queue.empty()) {
      auto e = std::move(subscriber->queue.front());
      subscriber->queue.pop_front();
      if (e.id <= sent) continue;
      sent = e.id;
      batch += format(e);
    }
    if (!batch.empty()) {
      if (!co_await out.write(batch)) co_return;
      continue;  // more may have arrived while writing
    }
    boost::system::error_code ec;
    subscriber->wake.expires_after(state->options.heartbeat);
    co_await subscriber->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    // A timer that ran out (not one cancelled by news): nothing happened for a while. The write also finds a
    // client that went away.
    if (!ec && !state->closed && subscriber->queue.empty() && !co_await out.write(": ping\n\n")) co_return;
  }
}

asio::awaitable<void> EventFeed::poll(std::shared_ptr<State> state) {
  const auto& options = state->options;
  while (!state->closed && !state->subscribers.empty()) {
    const std::int64_t after = *state->cursor;
    auto read_rows = [state, after] {
      return state->log.events_after(after, std::nullopt, static_cast<int>(state->options.max_backlog));
    };
    auto rows = co_await ports::run_blocking(state->blocking, std::move(read_rows));
    const auto now = state->clock.now();
    bool full = false;
    if (!rows) {
      if (!state->read_failing)
        log(LogLevel::warn, "cannot read the event log; event streams wait", {{"error", rows.error().message}});
      state->read_failing = true;
    } else {
      state->read_failing = false;
      full = rows->size() >= options.max_backlog;
      auto batch = state->in_order(*rows, now);
      if (!batch.empty()) state->fan_out(batch);
    }
    if (!state->pruned_at || now - *state->pruned_at > std::chrono::hours(1)) {
      state->pruned_at = now;
      const auto before = now - options.retention;
      auto prune = [state, before] { return state->log.prune_events(before); };
      auto pruned = co_await ports::run_blocking(state->blocking, std::move(prune));
      if (!pruned) log(LogLevel::warn, "cannot prune the event log", {{"error", pruned.error().message}});
    }
    if (full) continue;
    boost::system::error_code ec;
    state->poll_timer.expires_after(options.poll_interval);
    co_await state->poll_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  state->polling = false;
}

}  // namespace promoter::daemon
