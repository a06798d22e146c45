#include "daemon/console/console_pages.hpp"

#include "daemon/http/header_text.hpp"

#include <algorithm>
#include <memory>

namespace promoter::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// Whether an If-None-Match list names `etag` (quoted), or is "*". A weak validator matches too (RFC 9110's weak
// comparison is what If-None-Match uses).
bool none_match(std::string_view header, std::string_view etag) {
  for (auto item : header_list(header, ',')) {
    if (item == "*") return true;
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == etag) return true;
  }
  return false;
}

asio::awaitable<HttpResponse> ready(HttpResponse response) { co_return response; }

}  // namespace

bool accepts_gzip(std::string_view header) {
  for (const auto item : header_list(header, ',')) {
    const auto semicolon = item.find(';');
    const auto coding = trim_ows(item.substr(0, semicolon));
    if (!iequals(coding, "gzip") && coding != "*") continue;
    if (semicolon == std::string_view::npos) return true;
    auto parameter = trim_ows(item.substr(semicolon + 1));
    if (!parameter.starts_with("q=") && !parameter.starts_with("Q=")) return true;
    parameter.remove_prefix(2);
    // q=0, q=0.0, q=0.000: refused; any other weight: accepted.
    return parameter.find_first_not_of("0.") != std::string_view::npos;
  }
  return false;
}

const std::vector<std::pair<std::string, std::string>>& console_security_headers() {
  static const std::vector<std::pair<std::string, std::string>> headers{
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      // Same-origin requests keep their Referer: a write's origin check falls back on it.
      {"Referrer-Policy", "same-origin"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
  };
  return headers;
}

HttpResponse console_asset_response(const ConsoleAsset& asset, std::string_view accept_encoding,
                                    std::string_view if_none_match) {
  const bool gzip = accepts_gzip(accept_encoding);
  const std::string etag = "\"" + std::string(asset.etag) + (gzip ? "-gzip\"" : "\"");
  HttpResponse response;
  response.content_type = std::string(asset.content_type);
  response.headers = console_security_headers();
  response.headers.emplace_back("ETag", etag);
  response.headers.emplace_back("Vary", "Accept-Encoding");
  // A hashed name never changes content; the page itself is revalidated on every load.
  response.headers.emplace_back("Cache-Control", asset.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (none_match(if_none_match, etag)) {
    response.status = 304;
    return response;
  }
  response.status = 200;
  if (gzip) response.headers.emplace_back("Content-Encoding", "gzip");
  response.body = std::string(gzip ? asset.gzip : asset.body);
  return response;
}

void add_console_pages(Router& router, const ConsoleConfig& config) {
  if (!config.enabled) return;
  const std::string root = config.path;  // "/ui/"
  const ConsoleAsset* index = nullptr;
  for (const auto& asset : console_assets())
    if (asset.name == "index.html") index = &asset;
  if (index == nullptr) throw std::logic_error("the console was built without its index.html");

  router.add(http::verb::get, root, {false, {}}, [index](HttpRequest& request) {
    return ready(console_asset_response(*index, request.accept_encoding, request.if_none_match));
  });
  // "/ui" → "/ui/", so the page's relative links resolve under it.
  router.add(http::verb::get, root.substr(0, root.size() - 1), {false, {}}, [root](HttpRequest&) {
    auto response = HttpResponse::error(308, "moved", "the console is at " + root);
    response.headers.emplace_back("Location", root);
    return ready(std::move(response));
  });
  router.add(http::verb::get, root + "{file}", {false, {}}, [](HttpRequest& request) {
    const auto& name = request.params.at("file");
    for (const auto& asset : console_assets())
      if (asset.immutable && asset.name == name)
        return ready(console_asset_response(asset, request.accept_encoding, request.if_none_match));
    auto response = HttpResponse::error(404, core::ErrorCode::not_found, "the console has no file " + name);
    for (const auto& header : console_security_headers()) response.headers.push_back(header);
    return ready(std::move(response));
  });
}

}  // namespace promoter::daemon
