#pragma once
// Maps (method, path) to a handler and the access rule guarding it.
#include <deque>
#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "daemon/http/http_types.hpp"

namespace promoter::daemon {

// authenticated=false makes a public route (healthz, metrics); otherwise a valid bearer token whose
// role is in `roles` is required.
struct RouteAccess {
  bool authenticated = true;
  std::vector<Role> roles;
};

class Router {
 public:
  // `pattern` is an absolute path whose segments are literals or parameters like "{sha}".
  // A literal segment wins over a parameter where both match ("/v1/releases/latest" beats
  // "/v1/releases/{sha}"). Throws std::invalid_argument on wiring mistakes found at startup:
  // a malformed pattern, the same method and shape twice, or an authenticated route with no roles
  // (which would otherwise silently admit or refuse everybody).
  void add(boost::beast::http::verb method, std::string pattern, RouteAccess access, Handler handler);

  struct Match {
    const Handler* handler;  // valid as long as the Router lives
    const RouteAccess* access;
    std::string pattern;
    std::map<std::string, std::string> params;
  };

  // `path` is percent-decoded, without query. Unknown path → 404 not_found; known path but not
  // this method → 405 method_not_allowed with an Allow header ("GET, POST": sorted, comma-separated).
  std::expected<Match, HttpResponse> match(boost::beast::http::verb method, std::string_view path) const;

  // (method, pattern) of every route, in the order added; for the OpenAPI consistency test.
  std::vector<std::pair<std::string, std::string>> routes() const;

 private:
  struct Segment {
    std::string text;  // literal text, or the parameter's name
    bool parameter = false;
  };
  struct Route {
    boost::beast::http::verb method;
    std::string pattern;
    std::vector<Segment> segments;
    RouteAccess access;
    Handler handler;
  };

  // A deque so that Match pointers stay valid if a route is added later.
  std::deque<Route> routes_;
};

struct ParsedTarget {
  std::string path;                          // percent-decoded
  std::map<std::string, std::string> query;  // percent-decoded, '+' as space
};

// Splits and decodes an origin-form request target ("/v1/releases?limit=5").
// 400 invalid_argument for: a target not starting with '/', bad percent-encoding, an encoded '/' or
// NUL in the path (which would let "a%2Fapprove" masquerade as two segments), a repeated query key.
std::expected<ParsedTarget, HttpResponse> parse_target(std::string_view target);

}  // namespace promoter::daemon
