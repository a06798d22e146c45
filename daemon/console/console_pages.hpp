#pragma once
// Serves the web console's page and files (console_assets.hpp) under [console] path: the page at "/ui/", each
// file at "/ui/<hashed name>". With an ETag and If-None-Match, gzip where the client takes it, and the headers
// that keep the page to itself: a Content-Security-Policy allowing nothing but its own origin (no inline
// script), no framing, no MIME sniffing, no Referer to other sites.
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/console/console_assets.hpp"
#include "daemon/http/router.hpp"

namespace promoter::daemon {

void add_console_pages(Router&, const ConsoleConfig&);

// The response for one asset: pure, so the caching and compression rules are unit-tested.
HttpResponse console_asset_response(const ConsoleAsset&, std::string_view accept_encoding,
                                    std::string_view if_none_match);

// Whether an Accept-Encoding header admits gzip (a "gzip" or "*" entry whose q is not 0).
bool accepts_gzip(std::string_view accept_encoding);

// The security headers of every console response.
const std::vector<std::pair<std::string, std::string>>& console_security_headers();

}  // namespace promoter::daemon
