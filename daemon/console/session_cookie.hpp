#pragma once
// The web console's cookie and the checks a browser's write must pass: pure functions of header values, so the
// rules are unit-tested without a socket (tests/unit/daemon/session_cookie_test.cpp).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace promoter::daemon {

inline constexpr std::string_view session_cookie_name = "promoter_session";

// The value of cookie `name` in a Cookie header ("a=1; promoter_session=xyz"); nullopt when absent or empty.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

// Set-Cookie for a new session: HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it),
// Path=/ (the page and the API share it), Max-Age the session's absolute lifetime, and Secure when `secure`.
std::string session_set_cookie(std::string_view value, std::chrono::seconds max_age, bool secure);
// Set-Cookie that makes the browser forget it (sign-out, or a session that ended).
std::string session_clear_cookie(bool secure);

// "https://promoter.example.com" for a public_url; else "http://" + the request's Host. Lower-case host.
std::string expected_origin(std::string_view public_url, std::string_view host);

// Whether a write comes from the console's own origin: its Origin header, or when a browser sent none, its
// Referer's origin, must equal `expected` (scheme, host and port; host case-insensitive). Neither: refused,
// as is "null" (a sandboxed or privacy-stripped origin).
bool same_origin(std::string_view origin, std::string_view referer, std::string_view expected);

// URL-safe base64 without padding: how session ids and CSRF tokens are written.
std::string base64url(std::string_view bytes);

}  // namespace promoter::daemon
