#include "daemon/console/console_sessions_api.hpp"

#include <openssl/crypto.h>

#include <fmt/format.h>
#include <memory>

#include "daemon/console/session_cookie.hpp"
#include "daemon/http/api.hpp"
#include "daemon/http/api_requests.hpp"
#include "daemon/log.hpp"
#include "ports/blocking.hpp"

namespace promoter::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

namespace {

constexpr std::size_t id_bytes = 32;  // 256 bits: the session id and the CSRF token

ports::SessionLifetime lifetime_of(const Config& config) {
  return {config.console.session_idle, config.console.session_absolute};
}

bool secure_cookie(const Config& config) { return config.public_url.starts_with("https://"); }

std::string id_digest(std::string_view cookie) { return TokenRegistry::hex(TokenRegistry::digest(cookie)); }

std::optional<TokenDigest> digest_from_hex(std::string_view hex) {
  TokenDigest out{};
  if (hex.size() != out.size() * 2) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = value(hex[2 * i]);
    const int low = value(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return out;
}

// 401 that also tells the browser to drop the cookie, so the page shows its sign-in form at once.
HttpResponse signed_out(const Config& config, std::string_view message) {
  auto response = HttpResponse::error(401, "unauthorized", message);
  response.headers.emplace_back("WWW-Authenticate", "Bearer");
  response.headers.emplace_back("Set-Cookie", session_clear_cookie(secure_cookie(config)));
  return response;
}

bool is_write(const HttpRequest& request) {
  return request.method != http::verb::get && request.method != http::verb::head;
}

json principal_json(const Principal& principal) {
  return {
      {"identity", principal.identity}, {"role", to_string(principal.role)}, {"git_authors", principal.git_authors}};
}

class SessionsApi {
 public:
  explicit SessionsApi(ConsoleSessionContext ctx) : ctx_(std::move(ctx)) {}

  template <class F>
  asio::awaitable<std::invoke_result_t<F&>> blocking(F f) {
    co_return co_await ports::run_blocking(ctx_.blocking, std::move(f));
  }

  // POST /v1/session {"token": "..."}: public, the token is the credential.
  asio::awaitable<HttpResponse> sign_in(HttpRequest& request) {
    // A sign-in from another site's page would sign the victim in as the attacker (login CSRF).
    const auto expected = expected_origin(ctx_.config.public_url, request.host);
    if ((!request.origin.empty() || !request.referer.empty()) &&
        !same_origin(request.origin, request.referer, expected))
      co_return HttpResponse::error(403, "cross_origin", "sign-in refused: the request came from another origin");
    auto object = parse_object(request.body, {"token"});
    if (!object) co_return error_response(object.error());
    auto token = text_field(*object, "token", true, 4096);
    if (!token) co_return error_response(token.error());
    auto principal = ctx_.tokens.authenticate(*token);
    const std::string token_digest = TokenRegistry::hex(TokenRegistry::digest(*token));
    OPENSSL_cleanse(token->data(), token->size());
    if (!principal) {
      if (ctx_.on_refused_sign_in) ctx_.on_refused_sign_in(request, "console sign-in with an unknown token");
      auto refused = HttpResponse::error(401, "unauthorized", "unknown API token");
      refused.headers.emplace_back("WWW-Authenticate", "Bearer");
      co_return refused;
    }

    const std::string cookie = base64url(ctx_.random_bytes(id_bytes));
    ports::ConsoleSession session;
    session.identity = principal->identity;
    session.token_digest = token_digest;
    session.csrf_token = base64url(ctx_.random_bytes(id_bytes));
    session.created_at = ctx_.clock.now();
    session.last_seen_at = session.created_at;
    const std::string digest = id_digest(cookie);
    const auto lifetime = lifetime_of(ctx_.config);
    auto created = co_await blocking([&] { return ctx_.sessions.create_session(digest, session, lifetime); });
    if (!created) co_return error_response(created.error());
    log(LogLevel::info, "console sign-in", {{"identity", principal->identity}, {"remote", request.remote}});

    json body = principal_json(*principal);
    body["csrf_token"] = session.csrf_token;
    body["expires_at"] = core::format_timestamp(session.created_at + lifetime.absolute);
    body["idle_timeout_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(lifetime.idle).count();
    auto response = HttpResponse::json(201, body);
    response.headers.emplace_back(
        "Set-Cookie", session_set_cookie(cookie, std::chrono::duration_cast<std::chrono::seconds>(lifetime.absolute),
                                         secure_cookie(ctx_.config)));
    co_return response;
  }

  // GET /v1/session: who the caller is; for a console session, its CSRF token too (read by authenticate()).
  asio::awaitable<HttpResponse> whoami(HttpRequest& request) {
    json body = principal_json(*request.principal);
    body["csrf_token"] = request.session_csrf_token.empty() ? json(nullptr) : json(request.session_csrf_token);
    if (request.session_expires_at) body["expires_at"] = core::format_timestamp(*request.session_expires_at);
    co_return HttpResponse::json(200, body);
  }

  // DELETE /v1/session: sign-out. Authenticated like any write, so another site cannot sign a person out.
  asio::awaitable<HttpResponse> sign_out(HttpRequest& request) {
    if (auto cookie = cookie_value(request.cookie, session_cookie_name); cookie && request.authorization.empty()) {
      const std::string digest = id_digest(*cookie);
      const auto now = ctx_.clock.now();
      auto revoked = co_await blocking([&] { return ctx_.sessions.revoke_session(digest, now, "signed out"); });
      if (!revoked) co_return error_response(revoked.error());
      log(LogLevel::info, "console sign-out", {{"identity", request.principal->identity}});
    }
    HttpResponse response;
    response.status = 204;
    response.headers.emplace_back("Set-Cookie", session_clear_cookie(secure_cookie(ctx_.config)));
    co_return response;
  }

  // ServerHooks::authenticate_cookie.
  asio::awaitable<std::expected<Principal, HttpResponse>> authenticate(HttpRequest& request) {
    const auto cookie = cookie_value(request.cookie, session_cookie_name);
    if (!cookie) co_return std::unexpected(signed_out(ctx_.config, "missing bearer token"));
    const std::string digest = id_digest(*cookie);
    const auto now = ctx_.clock.now();
    const auto lifetime = lifetime_of(ctx_.config);
    auto found = co_await blocking([&] { return ctx_.sessions.use_session(digest, now, lifetime); });
    if (!found) co_return std::unexpected(error_response(found.error()));
    if (!*found) co_return std::unexpected(signed_out(ctx_.config, "console session expired or ended; sign in again"));
    const auto& session = **found;

    const auto token = digest_from_hex(session.token_digest);
    auto principal = token ? ctx_.tokens.authenticate_digest(*token) : std::nullopt;
    if (!principal) {
      // The token left the config (a reload): the session ends with it, for good.
      auto revoked = co_await blocking(
          [&] { return ctx_.sessions.revoke_session(digest, now, "its API token was removed from the config"); });
      if (!revoked) co_return std::unexpected(error_response(revoked.error()));
      co_return std::unexpected(
          signed_out(ctx_.config, "the API token this session signed in with is no longer configured; sign in again"));
    }

    if (is_write(request)) {
      const auto& sent = request.csrf_token;
      const auto& want = session.csrf_token;
      if (sent.size() != want.size() || CRYPTO_memcmp(sent.data(), want.data(), want.size()) != 0)
        co_return std::unexpected(HttpResponse::error(
            403, "csrf_failed", "a write from the console needs its session's X-CSRF-Token header; reload the page"));
      const auto expected = expected_origin(ctx_.config.public_url, request.host);
      if (!same_origin(request.origin, request.referer, expected))
        co_return std::unexpected(HttpResponse::error(
            403, "cross_origin",
            "a write with the console's cookie must come from the console's own origin (Origin or Referer)"));
    }
    request.session_csrf_token = session.csrf_token;
    request.session_expires_at = session.created_at + lifetime.absolute;
    co_return std::move(*principal);
  }

 private:
  ConsoleSessionContext ctx_;
};

}  // namespace

void add_console_session_routes(Router& router, ConsoleSessionContext ctx) {
  auto api = std::make_shared<SessionsApi>(std::move(ctx));
  const std::vector<Role> everyone{Role::viewer, Role::ci, Role::operator_};
  router.add(http::verb::post, "/v1/session", {false, {}}, [api](HttpRequest& r) { return api->sign_in(r); });
  router.add(http::verb::get, "/v1/session", {true, everyone}, [api](HttpRequest& r) { return api->whoami(r); });
  router.add(http::verb::delete_, "/v1/session", {true, everyone}, [api](HttpRequest& r) { return api->sign_out(r); });
}

CookieAuthenticator console_cookie_authenticator(ConsoleSessionContext ctx) {
  auto api = std::make_shared<SessionsApi>(std::move(ctx));
  return [api](HttpRequest& r) { return api->authenticate(r); };
}

}  // namespace promoter::daemon
