#include "daemon/http/http_server.hpp"

#include "daemon/http/header_text.hpp"

#include <utility>  // before asio, see http_server.hpp

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include <sys/socket.h>

namespace promoter::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view unmatched_route = "unmatched";

// Beast 1.74 hands out boost::string_view.
std::string_view to_std(beast::string_view text) { return {text.data(), text.size()}; }

std::string_view method_text(http::verb method) { return to_std(http::to_string(method)); }

// Structured log line on stderr; the daemon's logger may replace this later.
void log_error(std::string_view message) {
  const auto line = nlohmann::json{{"level", "error"}, {"msg", message}}.dump(-1, ' ', false,
                                                                              nlohmann::json::error_handler_t::replace);
  std::fprintf(stderr, "%s\n", line.c_str());
}

std::string describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

template <class Hook, class... Args>
void call_hook(const Hook& hook, std::string_view name, Args&&... args) {
  if (!hook) return;
  try {
    hook(std::forward<Args>(args)...);
  } catch (...) {
    log_error("server hook " + std::string(name) + " threw: " + describe(std::current_exception()));
  }
}

// RFC 9110 token characters; anything else in a handler-supplied header name would corrupt the response.
bool is_header_name(std::string_view name) {
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           extra.find(c) != std::string_view::npos;
  });
}

bool is_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string join_roles(const std::vector<Role>& roles) {
  std::string out;
  for (std::size_t i = 0; i < roles.size(); ++i) {
    if (i > 0) out += " or ";
    out += to_string(roles[i]);
  }
  return out;
}

// nullopt: the peer went away or was too slow; there is nobody to answer, just close.
std::optional<HttpResponse> read_error_response(const beast::error_code& ec, const ServerLimits& limits) {
  if (ec == http::error::body_limit) {
    return HttpResponse::error(413, "payload_too_large",
                               "request body exceeds " + std::to_string(limits.max_body_bytes) + " bytes");
  }
  if (ec == http::error::header_limit) {
    return HttpResponse::error(431, "headers_too_large",
                               "request headers exceed " + std::to_string(limits.max_header_bytes) + " bytes");
  }
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted || ec == http::error::end_of_stream ||
      ec == http::error::partial_message || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::bad_descriptor) {
    return std::nullopt;
  }
  return HttpResponse::error(400, core::ErrorCode::invalid_argument, "malformed HTTP request: " + ec.message());
}

// The path of a request target, without its query.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace

std::string_view to_string(ConnectionRefusal refusal) {
  switch (refusal) {
    case ConnectionRefusal::max_connections:
      return "max_connections";
    case ConnectionRefusal::per_peer:
      return "per_peer";
    case ConnectionRefusal::header_timeout:
      return "header_timeout";
  }
  return "max_connections";
}

std::string_view to_string(AuthRefusal refusal) {
  switch (refusal) {
    case AuthRefusal::missing_token:
      return "missing_token";
    case AuthRefusal::invalid_token:
      return "invalid_token";
    case AuthRefusal::forbidden:
      return "forbidden";
  }
  return "forbidden";
}

struct HttpServer::Impl {
  // What stop() may do to a connection: close it at once, or let it finish its response first.
  enum class Phase { waiting, reading, busy, streaming, closing };

  struct Connection {
    explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
    Phase phase = Phase::waiting;
  };

  // Which count a connection is held against: served (max_connections), the probes-only reserve, or
  // the connections being told 503.
  enum class Slot { general, reserve, refusal };

  // Counts a connection against the limits from its accept (synchronously, in the accept loop, so a burst
  // of connections cannot overtake the count) until its coroutine ends. It owns a reference to the server:
  // when the io_context is destroyed with connections still suspended, their frames (and tickets) go after
  // the HttpServer, and g++ 12 may destroy a coroutine's `self` parameter before its ticket.
  class Ticket {
   public:
    Ticket(std::shared_ptr<Impl> impl, Slot slot, std::string peer)
        : impl_(std::move(impl)), slot_(slot), peer_(std::move(peer)) {
      impl_->hold(slot_, peer_, +1);
    }
    Ticket(Ticket&& other) noexcept
        : impl_(std::move(other.impl_)), slot_(other.slot_), peer_(std::move(other.peer_)) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (impl_) impl_->hold(slot_, peer_, -1);
    }
    Slot slot() const { return slot_; }
    const std::string& peer() const { return peer_; }

   private:
    std::shared_ptr<Impl> impl_;
    Slot slot_;
    std::string peer_;
  };

  // Keeps a connection in a set while its coroutine runs, so stop() can find it.
  class Registration {
   public:
    Registration(std::unordered_set<Connection*>& set, Connection* connection) : set_(set), connection_(connection) {
      set_.insert(connection_);
    }
    ~Registration() { set_.erase(connection_); }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    std::unordered_set<Connection*>& set_;
    Connection* connection_;
  };

  Impl(asio::io_context& ioc, const Router& router, const TokenRegistry& tokens, ServerLimits limits, ServerHooks hooks)
      : ioc(ioc),
        router(router),
        tokens(tokens),
        limits(limits),
        hooks(std::move(hooks)),
        acceptor(ioc),
        backoff(ioc) {}

  asio::io_context& ioc;
  const Router& router;
  const TokenRegistry& tokens;
  const ServerLimits limits;
  const ServerHooks hooks;
  tcp::acceptor acceptor;
  asio::steady_timer backoff;  // after an accept error like EMFILE, so the loop does not spin
  unsigned short bound_port = 0;
  bool stopping = false;
  std::unordered_set<Connection*> open;  // every connection whose coroutine runs
  std::size_t general = 0;               // connections held per Slot
  std::size_t reserved = 0;
  std::size_t refusing = 0;
  std::unordered_map<std::string, std::size_t> per_peer;  // general and reserve connections by address

  void hold(Slot slot, const std::string& peer, int delta) {
    auto apply = [delta](std::size_t& n) { n = delta > 0 ? n + 1 : n - 1; };
    if (slot == Slot::refusal) {
      apply(refusing);
      return;
    }
    apply(slot == Slot::general ? general : reserved);
    if (delta > 0) {
      ++per_peer[peer];
    } else if (auto it = per_peer.find(peer); it != per_peer.end() && --it->second == 0) {
      per_peer.erase(it);
    }
  }

  std::size_t held_by(const std::string& peer) const {
    auto it = per_peer.find(peer);
    return it == per_peer.end() ? 0 : it->second;
  }

  void refused(ConnectionRefusal why) const { call_hook(hooks.on_connection_refused, "on_connection_refused", why); }

  bool reserve_path(std::string_view target) const {
    const auto path = path_of(target);
    return std::find(limits.reserve_paths.begin(), limits.reserve_paths.end(), path) != limits.reserve_paths.end();
  }

  HttpResponse too_many_connections() const {
    auto response = HttpResponse::error(
        503, core::ErrorCode::unavailable,
        "too many connections (limit " + std::to_string(limits.max_connections) + "); retry shortly");
    response.headers.emplace_back("Retry-After", "1");
    return response;
  }

  void stop_now() {
    stopping = true;
    beast::error_code ignored;
    acceptor.close(ignored);
    backoff.cancel();
    for (auto* connection : open) {
      // Closing completes the pending read with operation_aborted; the coroutine then unwinds.
      // A streaming response's next write fails, and its producer returns.
      if (connection->phase != Phase::busy) connection->stream.close();
    }
  }

  static void spawn(std::shared_ptr<Impl> self, asio::awaitable<void> work, std::string_view what) {
    auto& ioc = self->ioc;
    asio::co_spawn(ioc, std::move(work), [what = std::string(what)](std::exception_ptr error) {
      if (error) log_error(what + " failed: " + describe(error));
    });
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    beast::error_code ec;
    while (!self->stopping) {
      tcp::socket socket = co_await self->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (self->stopping || ec == asio::error::operation_aborted) break;
      if (ec) {
        // Usually out of file descriptors: wait a little for connections to close instead of spinning.
        log_error("accept failed: " + ec.message());
        self->backoff.expires_after(std::chrono::milliseconds(100));
        co_await self->backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      std::string peer;
      if (auto endpoint = socket.remote_endpoint(ec); !ec) peer = endpoint.address().to_string();
      auto& limits = self->limits;
      if (self->held_by(peer) >= limits.max_connections_per_peer) {
        refuse(self, std::move(socket), std::move(peer), ConnectionRefusal::per_peer);
      } else if (self->general < limits.max_connections) {
        Ticket ticket(self, Slot::general, std::move(peer));
        spawn(self, serve(self, std::move(socket), std::move(ticket)), "connection");
      } else if (self->reserved < limits.reserve_connections) {
        Ticket ticket(self, Slot::reserve, std::move(peer));
        spawn(self, serve(self, std::move(socket), std::move(ticket)), "reserve connection");
      } else {
        refuse(self, std::move(socket), std::move(peer), ConnectionRefusal::max_connections);
      }
    }
  }

  static void refuse(const std::shared_ptr<Impl>& self, tcp::socket socket, std::string peer, ConnectionRefusal why) {
    self->refused(why);
    // So many refusals pending that even answering 503 would pile up sockets: the socket just closes.
    if (self->refusing >= self->limits.max_connections) return;
    Ticket ticket(self, Slot::refusal, std::move(peer));
    spawn(self, answer_refusal(self, std::move(socket), std::move(ticket), why), "refused connection");
  }

  // Answers 503 without reading the request.
  static asio::awaitable<void> answer_refusal(std::shared_ptr<Impl> self, tcp::socket socket, Ticket ticket,
                                              ConnectionRefusal why) {
    Connection connection(std::move(socket));
    Registration registration(self->open, &connection);
    HttpResponse response = self->too_many_connections();
    if (why == ConnectionRefusal::per_peer) {
      response = HttpResponse::error(503, "too_many_connections",
                                     "too many connections from " + ticket.peer() + " (limit " +
                                         std::to_string(self->limits.max_connections_per_peer) +
                                         " per address); close idle connections or retry shortly");
      response.headers.emplace_back("Retry-After", "1");
    }
    co_await self->write_response(connection, std::move(response), 11, false);
    co_await self->close_gracefully(connection);
  }

  static asio::awaitable<void> serve(std::shared_ptr<Impl> self, tcp::socket socket, Ticket ticket) {
    beast::error_code ec;
    const std::string remote = ticket.peer();
    const bool reserve_only = ticket.slot() == Slot::reserve;

    Connection connection(std::move(socket));
    Registration registration(self->open, &connection);
    beast::flat_buffer buffer;
    const auto& limits = self->limits;
    bool first = true;

    while (!self->stopping) {
      // From here (the accept, or the end of the previous response) the whole request header must
      // arrive within header_timeout: neither a slow sender nor an idle client holds a slot longer.
      connection.phase = Phase::waiting;
      connection.stream.expires_after(limits.header_timeout);
      if (buffer.size() == 0) {
        const std::size_t n = co_await connection.stream.async_read_some(buffer.prepare(4096),
                                                                         asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          // A keep-alive connection idle between requests is simply closed, not counted as refused.
          if (ec == beast::error::timeout && first) self->refused(ConnectionRefusal::header_timeout);
          break;
        }
        buffer.commit(n);
      }
      first = false;

      connection.phase = Phase::reading;
      const auto started = Clock::now();
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
      parser.body_limit(limits.max_body_bytes);

      std::optional<HttpResponse> early;  // an answer given without reading the rest; closes the connection
      bool refusal = false;               // answered like a connection refused at a limit: no on_request
      co_await http::async_read_header(connection.stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) connection.stream.expires_after(limits.read_timeout);  // the body's own deadline
      if (ec) {
        if (ec == beast::error::timeout) self->refused(ConnectionRefusal::header_timeout);
        early = read_error_response(ec, limits);
        if (!early) break;
      } else if (reserve_only && !self->reserve_path(to_std(parser.get().target()))) {
        // A reserve connection serves only health checks and scrapes.
        self->refused(ConnectionRefusal::max_connections);
        early = self->too_many_connections();
        refusal = true;
      } else if (parser.get().target().size() > limits.max_target_bytes) {
        early = HttpResponse::error(414, "uri_too_long",
                                    "request target exceeds " + std::to_string(limits.max_target_bytes) + " bytes");
      } else if (!parser.is_done()) {
        // curl and others wait for this before sending a large body.
        if (iequals(to_std(parser.get()[http::field::expect]), "100-continue")) {
          http::response<http::empty_body> proceed{http::status::continue_, parser.get().version()};
          co_await http::async_write(connection.stream, proceed, asio::redirect_error(asio::use_awaitable, ec));
          if (ec) break;
        }
        co_await http::async_read(connection.stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          early = read_error_response(ec, limits);
          if (!early) break;
        }
      }

      const auto method = parser.get().method();
      const unsigned version = parser.is_header_done() ? parser.get().version() : 11;
      if (early) {
        connection.phase = Phase::busy;
        if (!refusal)
          call_hook(self->hooks.on_request, "on_request", method_text(method), unmatched_route, early->status,
                    std::chrono::duration<double>(Clock::now() - started).count());
        co_await self->write_response(connection, std::move(*early), version, false);
        break;
      }

      connection.phase = Phase::busy;
      connection.stream.expires_never();  // handlers may take their time; the client waits
      http::request<http::string_body> message = parser.release();
      std::string route(unmatched_route);
      HttpResponse response = co_await self->respond(message, remote, route);
      call_hook(self->hooks.on_request, "on_request", method_text(method), route, response.status,
                std::chrono::duration<double>(Clock::now() - started).count());
      if (response.stream) {
        co_await self->write_stream(connection, std::move(response), version);
        break;
      }
      // A reserve connection answers one request, then frees its slot.
      const bool keep_alive = message.keep_alive() && !self->stopping && !reserve_only;
      const bool written = co_await self->write_response(connection, std::move(response), version, keep_alive);
      if (!written) co_return;
      if (!keep_alive) break;
    }
    co_await self->close_gracefully(connection);
  }

  // Routing, authentication, authorisation and the handler. Never throws; every outcome is a response.
  asio::awaitable<HttpResponse> respond(http::request<http::string_body>& message, const std::string& remote,
                                        std::string& route_label) const {
    auto target = parse_target(to_std(message.target()));
    if (!target) co_return std::move(target.error());
    auto match = router.match(message.method(), target->path);
    if (!match) co_return std::move(match.error());

    HttpRequest request;
    request.method = message.method();
    request.target = std::string(to_std(message.target()));
    request.path = std::move(target->path);
    request.query = std::move(target->query);
    request.params = std::move(match->params);
    request.route = match->pattern;
    request.remote = remote;
    request.authorization = std::string(to_std(message[http::field::authorization]));
    request.content_type = std::string(to_std(message[http::field::content_type]));
    request.forwarded = message.find("X-Promoter-Forwarded") != message.end();
    request.cookie = std::string(to_std(message[http::field::cookie]));
    request.csrf_token = std::string(to_std(message["X-CSRF-Token"]));
    request.origin = std::string(to_std(message[http::field::origin]));
    request.referer = std::string(to_std(message[http::field::referer]));
    request.host = std::string(to_std(message[request.forwarded ? "X-Forwarded-Host" : "Host"]));
    request.accept_encoding = std::string(to_std(message[http::field::accept_encoding]));
    request.if_none_match = std::string(to_std(message[http::field::if_none_match]));
    request.last_event_id = std::string(to_std(message["Last-Event-ID"]));
    for (const char* name : {"x-github-event", "x-github-delivery", "x-hub-signature-256"})
      if (auto it = message.find(name); it != message.end())
        request.webhook_headers[name] = std::string(to_std(it->value()));
    route_label = match->pattern;

    if (match->access->authenticated) {
      auto refusal = co_await authorize(message, *match->access, request);
      if (refusal) co_return std::move(*refusal);
    }
    request.body = std::move(message.body());

    std::exception_ptr failure;
    HttpResponse response;
    try {
      std::optional<HttpResponse> instead;
      const bool write = request.method != http::verb::get && request.method != http::verb::head;
      if (write && hooks.before_write) instead = co_await hooks.before_write(request);
      if (instead)
        response = std::move(*instead);
      else
        response = co_await (*match->handler)(request);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      log_error("handler for " + std::string(method_text(request.method)) + " " + request.route +
                " threw: " + describe(failure));
      co_return HttpResponse::error(500, core::ErrorCode::internal, "internal error; see the promoterd log");
    }
    if (response.status < 100 || response.status > 599) {
      log_error("handler for " + std::string(method_text(request.method)) + " " + request.route +
                " returned invalid status " + std::to_string(response.status));
      co_return HttpResponse::error(500, core::ErrorCode::internal, "internal error; see the promoterd log");
    }
    co_return response;
  }

  // Sets request.principal on success; otherwise returns the 401/403 to send.
  asio::awaitable<std::optional<HttpResponse>> authorize(const http::request<http::string_body>& message,
                                                         const RouteAccess& access, HttpRequest& request) const {
    auto refuse_unauthenticated = [&](AuthRefusal kind, std::string_view reason) {
      call_hook(hooks.on_auth_failure, "on_auth_failure", std::as_const(request), 401u, kind, reason);
      auto response = HttpResponse::error(401, "unauthorized", reason);
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      return response;
    };

    std::optional<Principal> principal;
    if (request.authorization.empty() && !request.cookie.empty() && hooks.authenticate_cookie) {
      auto pending = hooks.authenticate_cookie(request);
      auto signed_in = co_await std::move(pending);
      if (!signed_in) {
        auto refusal = std::move(signed_in.error());
        const auto kind = refusal.status == 401 ? AuthRefusal::invalid_token : AuthRefusal::forbidden;
        // The refusal's own sentence (expired, csrf_failed, cross_origin...) is what the audit should say.
        const auto body = nlohmann::json::parse(refusal.body, nullptr, false);
        const std::string why = body.is_object() && body.contains("error")
                                    ? "console session refused: " + body["error"].value("message", std::string())
                                    : std::string("console session refused");
        call_hook(hooks.on_auth_failure, "on_auth_failure", std::as_const(request), refusal.status, kind,
                  std::string_view(why));
        co_return refusal;
      }
      principal = std::move(*signed_in);
    } else {
      const auto token = bearer_token(to_std(message[http::field::authorization]));
      if (!token) co_return refuse_unauthenticated(AuthRefusal::missing_token, "missing bearer token");
      principal = tokens.authenticate(*token);
      if (!principal) co_return refuse_unauthenticated(AuthRefusal::invalid_token, "invalid bearer token");
    }

    const Role role = principal->role;
    request.principal = std::move(principal);
    if (std::find(access.roles.begin(), access.roles.end(), role) == access.roles.end()) {
      const std::string reason = "role " + std::string(to_string(role)) + " may not " +
                                 std::string(method_text(request.method)) + " " + request.route + "; needs " +
                                 join_roles(access.roles);
      call_hook(hooks.on_auth_failure, "on_auth_failure", std::as_const(request), 403u, AuthRefusal::forbidden,
                std::string_view(reason));
      co_return HttpResponse::error(403, core::ErrorCode::forbidden, reason);
    }
    co_return std::nullopt;
  }

  // false when the write failed (the connection is then unusable and already closed).
  asio::awaitable<bool> write_response(Connection& connection, HttpResponse response, unsigned version,
                                       bool keep_alive) const {
    http::response<http::string_body> message;
    message.version(version);
    message.result(response.status);
    for (const auto& [name, value] : hooks.response_headers) {
      const bool set_by_handler = std::any_of(response.headers.begin(), response.headers.end(),
                                              [&](const auto& h) { return iequals(h.first, name); });
      if (!set_by_handler) response.headers.emplace_back(name, value);
    }
    for (const auto& [name, value] : response.headers) {
      if (is_header_name(name) && is_header_value(value)) {
        message.insert(name, value);
      } else {
        log_error("dropped a response header with an invalid name or value: " + name);
      }
    }
    if (response.content_type.empty() || !is_header_value(response.content_type)) {
      response.content_type = "application/octet-stream";
    }
    message.set(http::field::content_type, response.content_type);
    if (message.find(http::field::cache_control) == message.end()) message.set(http::field::cache_control, "no-store");
    message.keep_alive(keep_alive);
    message.body() = std::move(response.body);
    message.prepare_payload();  // Content-Length, replacing any a handler set

    beast::error_code ec;
    connection.stream.expires_after(limits.read_timeout);  // a client that never reads must not pin us
    co_await http::async_write(connection.stream, message, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      connection.stream.close();
      co_return false;
    }
    co_return true;
  }

  // A response whose body a producer writes (HttpResponse::stream): the header, then what the producer writes
  // until it returns, each write bounded by read_timeout so a client that stops reading is dropped.
  class SocketStream final : public ResponseStream {
   public:
    SocketStream(Connection& connection, std::chrono::milliseconds timeout)
        : connection_(connection), timeout_(timeout) {}
    asio::awaitable<bool> write(std::string_view data) override {
      if (failed_ || connection_.phase != Phase::streaming) co_return false;
      beast::error_code ec;
      connection_.stream.expires_after(timeout_);
      co_await asio::async_write(connection_.stream, asio::buffer(data.data(), data.size()),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) failed_ = true;
      co_return !failed_;
    }

   private:
    Connection& connection_;
    std::chrono::milliseconds timeout_;
    bool failed_ = false;
  };

  asio::awaitable<void> write_stream(Connection& connection, HttpResponse response, unsigned version) const {
    http::response<http::empty_body> message;
    message.version(version);
    message.result(response.status);
    for (const auto& [name, value] : hooks.response_headers) message.insert(name, value);
    for (const auto& [name, value] : response.headers)
      if (is_header_name(name) && is_header_value(value)) message.insert(name, value);
    message.set(http::field::content_type, response.content_type);
    if (message.find(http::field::cache_control) == message.end()) message.set(http::field::cache_control, "no-store");
    message.keep_alive(false);  // the body ends when the connection does
    http::response_serializer<http::empty_body> serializer(message);
    beast::error_code ec;
    connection.stream.expires_after(limits.read_timeout);
    co_await http::async_write_header(connection.stream, serializer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || stopping) co_return;
    connection.phase = Phase::streaming;
    SocketStream stream(connection, limits.read_timeout);
    std::exception_ptr failure;
    try {
      co_await response.stream(stream);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) log_error("a streaming response failed: " + describe(failure));
    connection.phase = Phase::busy;
  }

  // Half-close, then read and discard what the client still sends until it closes (or read_timeout),
  // so that unread input does not make our kernel reset the connection before the client has read
  // our last response.
  asio::awaitable<void> close_gracefully(Connection& connection) const {
    connection.phase = Phase::closing;
    beast::error_code ec;
    connection.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (!ec && !stopping) {
      connection.stream.expires_after(limits.read_timeout);
      std::array<char, 4096> sink;
      for (;;) {
        co_await connection.stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
    }
    connection.stream.close();
  }
};

HttpServer::HttpServer(asio::io_context& ioc, const Router& router, const TokenRegistry& tokens, ServerLimits limits,
                       ServerHooks hooks)
    : impl_(std::make_shared<Impl>(ioc, router, tokens, limits, std::move(hooks))) {}

HttpServer::~HttpServer() { stop(); }

core::Result<void> HttpServer::listen(const std::string& host, unsigned short port) {
  const std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  auto fail = [&](const beast::error_code& ec) {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    return core::fail(core::ErrorCode::unavailable, "cannot listen on " + address + ": " + ec.message());
  };

  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  // Runs before the io_context serves anything, so a blocking lookup is acceptable here.
  auto results =
      resolver.resolve(host, std::to_string(port), tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return fail(ec);
  if (results.empty())
    return core::fail(core::ErrorCode::unavailable, "cannot listen on " + address + ": host has no address");
  const tcp::endpoint endpoint = results.begin()->endpoint();

  auto& acceptor = impl_->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail(ec);
  // Lets a restarted daemon bind while old connections sit in TIME_WAIT.
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
  if (acceptor.bind(endpoint, ec); ec) return fail(ec);
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
  const auto local = acceptor.local_endpoint(ec);
  if (ec) return fail(ec);
  impl_->bound_port = local.port();
  return {};
}

core::Result<void> HttpServer::adopt(int fd) {
  beast::error_code ec;
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return core::fail(core::ErrorCode::unavailable,
                      "cannot serve inherited socket " + std::to_string(fd) + ": not a socket");
  const tcp protocol = address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
  auto& acceptor = impl_->acceptor;
  if (acceptor.assign(protocol, fd, ec); ec)
    return core::fail(core::ErrorCode::unavailable,
                      "cannot serve inherited socket " + std::to_string(fd) + ": " + ec.message());
  const auto local = acceptor.local_endpoint(ec);
  if (ec)
    return core::fail(core::ErrorCode::unavailable,
                      "cannot serve inherited socket " + std::to_string(fd) + ": " + ec.message());
  impl_->bound_port = local.port();
  return {};
}

int HttpServer::native_handle() { return impl_->acceptor.native_handle(); }

unsigned short HttpServer::port() const { return impl_->bound_port; }

void HttpServer::start() { Impl::spawn(impl_, Impl::accept_loop(impl_), "accept loop"); }

void HttpServer::stop() {
  asio::dispatch(impl_->ioc, [impl = impl_] { impl->stop_now(); });
}

}  // namespace promoter::daemon
