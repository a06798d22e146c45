#include "daemon/console/session_cookie.hpp"

#include "daemon/http/header_text.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace promoter::daemon {

namespace {

// scheme://authority of a URL, lower-cased; "" when it is not an absolute http(s) URL.
std::string origin_of(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  const std::string scheme = ascii_lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return "";
  const auto rest = url.substr(scheme_end + 3);
  const auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return "";
  std::string out = scheme + "://" + ascii_lower(authority);
  // The default port is the same origin as no port.
  if (scheme == "http" && out.ends_with(":80")) out.resize(out.size() - 3);
  if (scheme == "https" && out.ends_with(":443")) out.resize(out.size() - 4);
  return out;
}

}  // namespace

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  for (const auto pair : header_list(header, ';')) {
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos || trim_ows(pair.substr(0, equals)) != name) continue;
    auto value = trim_ows(pair.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (value.empty()) return std::nullopt;
    return std::string(value);
  }
  return std::nullopt;
}

std::string session_set_cookie(std::string_view value, std::chrono::seconds max_age, bool secure) {
  return fmt::format("{}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", session_cookie_name, value,
                     max_age.count(), secure ? "; Secure" : "");
}

std::string session_clear_cookie(bool secure) {
  return fmt::format("{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}", session_cookie_name,
                     secure ? "; Secure" : "");
}

std::string expected_origin(std::string_view public_url, std::string_view host) {
  if (!public_url.empty()) return origin_of(public_url);
  if (host.empty() || host.find_first_of("/@ ") != std::string_view::npos) return "";
  return origin_of(fmt::format("http://{}", host));
}

bool same_origin(std::string_view origin, std::string_view referer, std::string_view expected) {
  if (expected.empty()) return false;
  if (!origin.empty()) return origin_of(origin) == expected;
  if (!referer.empty()) return origin_of(referer) == expected;
  return false;
}

std::string base64url(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (6 - bits)) & 0x3f]);
  return out;
}

}  // namespace promoter::daemon
