#pragma once
// Signing in to the web console: POST /v1/session trades an API token for a session cookie, GET /v1/session
// says who the session is (and its CSRF token), DELETE /v1/session signs out. And the check every request
// with that cookie passes instead of a bearer token (ServerHooks::authenticate_cookie): a live session whose
// token is still configured, and for a write the session's CSRF token and the console's own Origin.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <expected>
#include <functional>
#include <string>

#include "daemon/config/config.hpp"
#include "daemon/http/auth.hpp"
#include "daemon/http/router.hpp"
#include "ports/clock.hpp"
#include "ports/console_sessions.hpp"

namespace promoter::daemon {

struct ConsoleSessionContext {
  const Config& config;  // public_url and [console]
  const TokenRegistry& tokens;
  ports::ConsoleSessions& sessions;
  const ports::Clock& clock;
  boost::asio::any_io_executor blocking;
  std::function<std::string(std::size_t)> random_bytes;  // cryptographically secure (adapters/secure_random)
  // A sign-in with an unknown token: counted and audited like a request with one (ServerHooks::on_auth_failure).
  std::function<void(const HttpRequest&, std::string_view reason)> on_refused_sign_in;
};

void add_console_session_routes(Router&, ConsoleSessionContext);

using CookieAuthenticator = std::function<boost::asio::awaitable<std::expected<Principal, HttpResponse>>(HttpRequest&)>;
CookieAuthenticator console_cookie_authenticator(ConsoleSessionContext);

}  // namespace promoter::daemon
