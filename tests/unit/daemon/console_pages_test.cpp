// How the console's files are answered: caching, compression and security headers, from the compiled-in assets.
#include <doctest/doctest.h>

#include <algorithm>

#include "daemon/console/console_pages.hpp"

namespace promoter::daemon {
namespace {

std::string header(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "";
}

const ConsoleAsset& asset(std::string_view suffix) {
  const auto& all = console_assets();
  auto it = std::find_if(all.begin(), all.end(), [&](const ConsoleAsset& a) { return a.name.ends_with(suffix); });
  REQUIRE(it != all.end());
  return *it;
}

}  // namespace

TEST_CASE("Accept-Encoding: gzip unless refused with q=0") {
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("deflate, GZIP"));
  CHECK(accepts_gzip("br;q=1.0, gzip;q=0.5"));
  CHECK(accepts_gzip("*"));
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("br, deflate"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip;q=0.000"));
  CHECK_FALSE(accepts_gzip("x-gzip2"));
}

TEST_CASE("the page, its script and its style are compiled in; only the page keeps its plain name") {
  const auto& index = asset("index.html");
  CHECK_FALSE(index.immutable);
  CHECK(index.body.find("<html") != std::string_view::npos);
  const auto& script = asset(".js");
  CHECK(script.immutable);
  CHECK(script.name.starts_with("console-"));
  CHECK(index.body.find(script.name) != std::string_view::npos);
  CHECK(index.body.find(asset(".css").name) != std::string_view::npos);
  for (const auto& a : console_assets()) {
    CHECK(a.gzip.size() > 18);
    CHECK(a.gzip.substr(0, 2) == std::string_view("\x1f\x8b", 2));
  }
}

TEST_CASE("an asset answers with its ETag, a 304 when it matches, gzip when accepted") {
  const auto& script = asset(".js");
  const auto plain = console_asset_response(script, "", "");
  CHECK(plain.status == 200);
  CHECK(plain.body == script.body);
  CHECK(header(plain, "Cache-Control") == "public, max-age=31536000, immutable");
  CHECK(header(plain, "Content-Encoding").empty());
  const std::string etag = header(plain, "ETag");
  CHECK(etag == "\"" + std::string(script.etag) + "\"");

  CHECK(console_asset_response(script, "", etag).status == 304);
  CHECK(console_asset_response(script, "", "\"other\", W/" + etag).status == 304);
  CHECK(console_asset_response(script, "", "*").status == 304);
  CHECK(console_asset_response(script, "", "\"other\"").status == 200);

  const auto zipped = console_asset_response(script, "gzip", "");
  CHECK(zipped.body == script.gzip);
  CHECK(header(zipped, "Content-Encoding") == "gzip");
  CHECK(header(zipped, "ETag") != etag);
  CHECK(console_asset_response(script, "gzip", etag).status == 200);  // another representation's ETag

  const auto page = console_asset_response(asset("index.html"), "", "");
  CHECK(header(page, "Cache-Control") == "no-cache");
  CHECK(header(page, "Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);
  CHECK(header(page, "X-Content-Type-Options") == "nosniff");
}

}  // namespace promoter::daemon
