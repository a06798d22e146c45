#pragma once
// The values the HTTP server hands to route handlers and gets back from them.
// Handlers see a parsed, authenticated request and never touch sockets or headers directly.
#include <utility>  // Boost 1.74's asio/awaitable.hpp uses std::exchange without including it.

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/time.hpp"

namespace promoter::daemon {

// `operator` is a keyword, hence the trailing underscore; its text form is "operator".
enum class Role { viewer, ci, operator_ };

constexpr std::string_view to_string(Role role) {
  switch (role) {
    case Role::viewer:
      return "viewer";
    case Role::ci:
      return "ci";
    case Role::operator_:
      return "operator";
  }
  return "unknown";
}

constexpr std::optional<Role> parse_role(std::string_view text) {
  if (text == "viewer") return Role::viewer;
  if (text == "ci") return Role::ci;
  if (text == "operator") return Role::operator_;
  return std::nullopt;
}

// Who made a request, as established by their bearer token.
struct Principal {
  std::string identity;  // e.g. "alice", "ci-bot"; what approvals and the audit trail name
  Role role = Role::viewer;
  std::vector<std::string> git_authors;  // commit authors this identity is, for the no-self-approval rule
};

struct HttpRequest {
  boost::beast::http::verb method = boost::beast::http::verb::unknown;
  std::string target;                         // raw target, as sent
  std::string path;                           // percent-decoded path, without the query
  std::map<std::string, std::string> query;   // decoded query parameters ('+' is a space)
  std::map<std::string, std::string> params;  // route parameters, e.g. {"sha": "..."}
  std::string body;
  std::string route;                   // the matched pattern, e.g. "/v1/releases/{sha}" (a bounded metrics label)
  std::optional<Principal> principal;  // set when the route needs auth and the token was valid
  std::string remote;                  // peer IP address
  // Kept only so that a standby can hand the request to the leader as it came; never logged.
  std::string authorization;  // the Authorization header as sent
  std::string content_type;   // the Content-Type header as sent
  bool forwarded = false;     // another promoterd forwarded it here (X-Promoter-Forwarded)
  // For the web console (daemon/console): its session cookie and CSRF token (never logged), where a write came
  // from, and what the client can take from a cache or compressed.
  std::string cookie;           // the Cookie header as sent
  std::string csrf_token;       // X-CSRF-Token
  std::string origin;           // Origin
  std::string referer;          // Referer
  std::string host;             // Host; a forwarded request's X-Forwarded-Host
  std::string accept_encoding;  // Accept-Encoding
  std::string if_none_match;    // If-None-Match
  std::string last_event_id;    // Last-Event-ID: where a Server-Sent Events client resumes
  // Set by the console's cookie authentication (ServerHooks::authenticate_cookie), which has just read the
  // session: its CSRF token and when it ends, so GET /v1/session need not read it again. Empty for a token.
  std::string session_csrf_token;
  std::optional<core::Timestamp> session_expires_at;
  // The headers a provider's webhook is verified and told apart by (x-github-event, x-github-delivery,
  // x-hub-signature-256), lower-case names; no other header reaches a handler.
  std::map<std::string, std::string> webhook_headers;
};

// A response body written piece by piece after its header (Server-Sent Events): the server closes the
// connection when the producer returns.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // false once the client is gone, too slow to take the data, or the server is stopping: return then.
  virtual boost::asio::awaitable<bool> write(std::string_view data) = 0;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, the body is this producer's (status and headers as above, `body` unused): no Content-Length,
  // Connection: close, the connection ends when it returns.
  std::function<boost::asio::awaitable<void>(ResponseStream&)> stream;
  // Extra headers. Content-Type, Content-Length and Connection are set by the server; so is
  // Cache-Control: no-store, unless a handler set a Cache-Control of its own (the console's files).
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(unsigned status, const nlohmann::json& value) {
    HttpResponse response;
    response.status = status;
    // Replace invalid UTF-8 rather than throw: a response must always be producible.
    response.body = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return response;
  }

  // {"error": {"code": "...", "message": "..."}}, the one error shape of the API (see daemon/openapi.yaml).
  static HttpResponse error(unsigned status, std::string_view code, std::string_view message) {
    return json(status, nlohmann::json{{"error", {{"code", code}, {"message", message}}}});
  }
  // The same, with the text of an error code of core.
  static HttpResponse error(unsigned status, core::ErrorCode code, std::string_view message) {
    return error(status, core::to_string(code), message);
  }

  static HttpResponse text(unsigned status, std::string body, std::string content_type) {
    HttpResponse response;
    response.status = status;
    response.content_type = std::move(content_type);
    response.body = std::move(body);
    return response;
  }
};

// Runs on the io_context thread: blocking work must be handed to a pool and awaited.
// An exception escaping a handler becomes a 500 with a generic message.
using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;

}  // namespace promoter::daemon
