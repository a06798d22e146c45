#pragma once
// The daemon's HTTP/1.1 server: keep-alive connections, size and time limits, bearer-token auth in
// front of the router's handlers. One coroutine per connection on the caller's io_context.
#include <utility>  // before any asio include: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <vector>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "daemon/http/auth.hpp"
#include "daemon/http/http_types.hpp"
#include "daemon/http/router.hpp"

namespace promoter::daemon {

struct ServerLimits {
  std::size_t max_body_bytes = 1 << 20;     // larger → 413 payload_too_large
  std::size_t max_header_bytes = 8 * 1024;  // request line + headers; larger → 431 headers_too_large
  std::size_t max_target_bytes = 2048;      // larger → 414 uri_too_long
  // From a connection's accept, or from the end of its previous response, until a request's whole header
  // has arrived; then the connection is closed. So neither a silent or slow client nor an idle keep-alive
  // connection holds a slot for longer.
  std::chrono::milliseconds header_timeout{5000};
  // After the header, until the whole body has arrived; also how long a response write may take, and how
  // long we drain a client's unread input before closing (so it sees our error response, not a reset).
  std::chrono::milliseconds read_timeout{10000};
  // Connections served at once. Beyond it, up to reserve_connections more are read, but only a request for
  // one of reserve_paths is answered (so health checks and scrapes still get through); others, and any
  // connection beyond the reserve, get 503 unavailable with Retry-After and are closed.
  std::size_t max_connections = 256;
  std::size_t reserve_connections = 8;
  std::vector<std::string> reserve_paths{"/healthz", "/readyz", "/metrics"};
  // Connections from one address (served and reserve together); beyond it 503 too_many_connections.
  std::size_t max_connections_per_peer = 64;
};

// Why a connection was turned away or closed before it could be served (a bounded metrics label).
enum class ConnectionRefusal { max_connections, per_peer, header_timeout };
std::string_view to_string(ConnectionRefusal);

// Why a request was refused by authentication or authorisation: 401 for the first two, 403 for the last.
enum class AuthRefusal { missing_token, invalid_token, forbidden };
std::string_view to_string(AuthRefusal);

// Optional callbacks for metrics and audit, called on the io thread. An exception from a hook is
// logged and otherwise ignored.
struct ServerHooks {
  // When a response is ready, just before it is written (so `seconds` is the time to answer).
  // `route` is the matched pattern, or "unmatched" for requests that matched no route or failed
  // before routing (bounded, usable as a metrics label). Not called for connections refused at
  // max_connections, per peer, or by the reserve.
  std::function<void(std::string_view method, std::string_view route, unsigned status, double seconds)> on_request;
  // On 401/403. Never given the token. For a 403, request.principal names who was refused.
  std::function<void(const HttpRequest& request, unsigned status, AuthRefusal kind, std::string_view reason)>
      on_auth_failure;
  // A connection refused at a limit (503), or closed because its request header did not arrive within
  // header_timeout (not counted: an idle keep-alive connection closed between requests).
  std::function<void(ConnectionRefusal)> on_connection_refused;
  // Before the handler of every request that is not a GET or HEAD, once it is authorised: an answer
  // returned here is sent instead of calling the handler (a standby answers with the leader's).
  std::function<boost::asio::awaitable<std::optional<HttpResponse>>(HttpRequest&)> before_write;
  // Authenticates a request that carries no Authorization header but a Cookie (the web console's session):
  // the principal, or the 401/403 to send. Unset: such a request is refused like one without a token.
  std::function<boost::asio::awaitable<std::expected<Principal, HttpResponse>>(HttpRequest&)> authenticate_cookie;
  // Added to every response (e.g. which instance served it).
  std::vector<std::pair<std::string, std::string>> response_headers;
};

// Runs on one io_context thread (the ARCHITECTURE's I/O thread). The io_context must outlive this
// object, and the Router and TokenRegistry must outlive the io_context's run.
// Responses always carry Content-Type, Content-Length (except 204 and 304) and Cache-Control (no-store unless
// the handler chose otherwise).
class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, const Router& router, const TokenRegistry& tokens, ServerLimits limits,
             ServerHooks hooks = {});
  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Port 0 picks a free port (see port()). The error names the address and the reason, e.g.
  // "cannot listen on 127.0.0.1:8080: Address already in use" (code unavailable).
  core::Result<void> listen(const std::string& host, unsigned short port);
  // Instead of listen(): serves a socket that is bound and listening already, taking ownership of `fd`
  // (a daemon that steps down and starts again as a standby keeps its socket, so no client is refused).
  core::Result<void> adopt(int fd);
  unsigned short port() const;  // the bound port, once listen() succeeded
  int native_handle();          // the listening socket, to dup() before this server is destroyed

  void start();  // co_spawns the accept loop; call after listen()

  // Stops accepting and closes connections that are not in the middle of a request's handler or
  // response; those finish, are answered with "Connection: close", then closed. Afterwards the
  // io_context runs out of work once in-flight handlers return. Safe to call from any thread and
  // more than once.
  void stop();

 private:
  struct Impl;  // shared with the connection coroutines, which may outlive this object briefly
  std::shared_ptr<Impl> impl_;
};

}  // namespace promoter::daemon
