// The console cookie's text and the origin rules a write with it must pass: pure functions of header values.
#include <doctest/doctest.h>

#include "daemon/console/session_cookie.hpp"

namespace promoter::daemon {

TEST_CASE("cookie_value finds one cookie among several, tolerating spaces and quotes") {
  CHECK(cookie_value("promoter_session=abc", "promoter_session") == "abc");
  CHECK(cookie_value("theme=dark;  promoter_session=abc ; x=1", "promoter_session") == "abc");
  CHECK(cookie_value("promoter_session=\"abc\"", "promoter_session") == "abc");
  CHECK_FALSE(cookie_value("xpromoter_session=abc", "promoter_session"));
  CHECK_FALSE(cookie_value("promoter_session=", "promoter_session"));
  CHECK_FALSE(cookie_value("promoter_session", "promoter_session"));
  CHECK_FALSE(cookie_value("", "promoter_session"));
}

TEST_CASE("the session cookie is HttpOnly, SameSite=Strict, for the whole site, Secure only over TLS") {
  CHECK(session_set_cookie("v", std::chrono::seconds(3600), false) ==
        "promoter_session=v; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict");
  CHECK(session_set_cookie("v", std::chrono::seconds(60), true) ==
        "promoter_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure");
  CHECK(session_clear_cookie(false) == "promoter_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
}

TEST_CASE("the expected origin comes from public_url, else from Host") {
  CHECK(expected_origin("https://Promoter.Example.com", "ignored") == "https://promoter.example.com");
  CHECK(expected_origin("https://promoter.example.com:443", "") == "https://promoter.example.com");
  CHECK(expected_origin("", "127.0.0.1:8080") == "http://127.0.0.1:8080");
  CHECK(expected_origin("", "").empty());
  CHECK(expected_origin("", "evil.example/path").empty());
}

TEST_CASE("a write's Origin, or else its Referer, must be the console's own") {
  const std::string home = "https://promoter.example.com";
  CHECK(same_origin("https://promoter.example.com", "", home));
  CHECK(same_origin("HTTPS://PROMOTER.EXAMPLE.COM", "", home));
  CHECK(same_origin("", "https://promoter.example.com/ui/releases/abc", home));
  CHECK_FALSE(same_origin("https://evil.example", "https://promoter.example.com/ui/", home));  // Origin decides
  CHECK_FALSE(same_origin("http://promoter.example.com", "", home));                           // scheme counts
  CHECK_FALSE(same_origin("https://promoter.example.com:8443", "", home));                     // port counts
  CHECK_FALSE(same_origin("https://promoter.example.com.evil.example", "", home));
  CHECK_FALSE(same_origin("https://user@promoter.example.com", "", home));
  CHECK_FALSE(same_origin("null", "", home));
  CHECK_FALSE(same_origin("", "", home));
  CHECK_FALSE(same_origin("https://promoter.example.com", "", ""));
}

TEST_CASE("base64url writes bytes without padding in the URL-safe alphabet") {
  CHECK(base64url("") == "");
  CHECK(base64url("f") == "Zg");
  CHECK(base64url("fo") == "Zm8");
  CHECK(base64url("foo") == "Zm9v");
  CHECK(base64url(std::string("\xfb\xff", 2)) == "-_8");
  CHECK(base64url(std::string(32, '\0')).size() == 43);
}

}  // namespace promoter::daemon
