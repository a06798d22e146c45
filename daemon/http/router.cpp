#include "daemon/http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace promoter::daemon {

namespace http = boost::beast::http;

namespace {

// "/a/b" → {"a", "b"}; "/" → {""}; "/a/" → {"a", ""}. Callers guarantee the leading '/'.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Beast 1.74 hands out boost::string_view.
std::string method_text(http::verb method) {
  const auto text = http::to_string(method);
  return std::string(text.data(), text.size());
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// nullopt on a '%' not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

HttpResponse bad_target(std::string message) {
  return HttpResponse::error(400, core::ErrorCode::invalid_argument, message);
}

}  // namespace

void Router::add(http::verb method, std::string pattern, RouteAccess access, Handler handler) {
  auto fail = [&](std::string_view why) {
    throw std::invalid_argument(method_text(method) + " " + pattern + ": " + std::string(why));
  };
  if (pattern.empty() || pattern.front() != '/') fail("a route pattern must start with '/'");
  if (!handler) fail("route has no handler");
  if (access.authenticated && access.roles.empty()) {
    fail("authenticated route allows no role; list the roles or make it public");
  }

  std::vector<Segment> segments;
  for (auto part : split_path(pattern)) {
    if (part.starts_with('{')) {
      if (part.size() < 3 || !part.ends_with('}') || !std::all_of(part.begin() + 1, part.end() - 1, is_name_char)) {
        fail("parameter segments look like {name} with name made of [A-Za-z0-9_]");
      }
      std::string name(part.substr(1, part.size() - 2));
      for (const auto& existing : segments) {
        if (existing.parameter && existing.text == name) fail("parameter {" + name + "} appears twice");
      }
      segments.push_back(Segment{std::move(name), true});
    } else {
      if (part.find_first_of("{}") != std::string_view::npos) fail("braces only delimit whole segments");
      segments.push_back(Segment{std::string(part), false});
    }
  }

  // "/a/{x}" and "/a/{y}" under one method would be ambiguous, so compare shapes, not names.
  for (const auto& route : routes_) {
    if (route.method != method || route.segments.size() != segments.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < segments.size() && same; ++i) {
      const auto& a = route.segments[i];
      const auto& b = segments[i];
      same = a.parameter == b.parameter && (a.parameter || a.text == b.text);
    }
    if (same) fail("clashes with the route " + route.pattern);
  }

  routes_.push_back(Route{method, std::move(pattern), std::move(segments), std::move(access), std::move(handler)});
}

std::expected<Router::Match, HttpResponse> Router::match(http::verb method, std::string_view path) const {
  if (path.empty() || path.front() != '/') {
    return std::unexpected(HttpResponse::error(404, core::ErrorCode::not_found, "no route for " + std::string(path)));
  }
  const auto parts = split_path(path);

  auto matches = [&](const Route& route) {
    if (route.segments.size() != parts.size()) return false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& segment = route.segments[i];
      if (segment.parameter ? parts[i].empty() : segment.text != parts[i]) return false;
    }
    return true;
  };
  // Literal beats parameter, compared from the left.
  auto more_specific = [](const Route& a, const Route& b) {
    for (std::size_t i = 0; i < a.segments.size(); ++i) {
      if (a.segments[i].parameter != b.segments[i].parameter) return !a.segments[i].parameter;
    }
    return false;
  };

  const Route* best = nullptr;
  std::vector<std::string> allowed;
  for (const auto& route : routes_) {
    if (!matches(route)) continue;
    if (route.method == method) {
      if (best == nullptr || more_specific(route, *best)) best = &route;
    } else {
      allowed.push_back(method_text(route.method));
    }
  }

  if (best == nullptr) {
    if (allowed.empty()) {
      return std::unexpected(HttpResponse::error(404, core::ErrorCode::not_found, "no route for " + std::string(path)));
    }
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    std::string allow;
    for (const auto& m : allowed) {
      if (!allow.empty()) allow += ", ";
      allow += m;
    }
    auto response = HttpResponse::error(
        405, "method_not_allowed",
        "method " + method_text(method) + " is not allowed on " + std::string(path) + "; allowed: " + allow);
    response.headers.emplace_back("Allow", allow);
    return std::unexpected(std::move(response));
  }

  Match result{&best->handler, &best->access, best->pattern, {}};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (best->segments[i].parameter) result.params.emplace(best->segments[i].text, std::string(parts[i]));
  }
  return result;
}

std::vector<std::pair<std::string, std::string>> Router::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const auto& route : routes_) out.emplace_back(method_text(route.method), route.pattern);
  return out;
}

std::expected<ParsedTarget, HttpResponse> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return std::unexpected(bad_target("request target must be an absolute path like /v1/status"));
  }
  const auto question = target.find('?');
  const auto raw_path = target.substr(0, question);
  const auto raw_query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

  ParsedTarget parsed;
  auto path = percent_decode(raw_path, false);
  if (!path) return std::unexpected(bad_target("request path has a '%' not followed by two hex digits"));
  // A decoded '/' would change which segments the router sees, and a NUL has no business in a path.
  if (std::count(path->begin(), path->end(), '/') != std::count(raw_path.begin(), raw_path.end(), '/') ||
      path->find('\0') != std::string::npos) {
    return std::unexpected(bad_target("request path may not contain an encoded '/' or NUL"));
  }
  parsed.path = std::move(*path);

  std::string_view rest = raw_query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2" and a trailing '&' are harmless
    const auto equals = pair.find('=');
    auto key = percent_decode(pair.substr(0, equals), true);
    auto value = percent_decode(equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1), true);
    if (!key || !value) {
      return std::unexpected(bad_target("query string has a '%' not followed by two hex digits"));
    }
    if (key->empty()) return std::unexpected(bad_target("query string has a parameter with no name"));
    // Which of two values a handler would see is a guess; refuse instead.
    if (!parsed.query.emplace(*key, std::move(*value)).second) {
      return std::unexpected(bad_target("query parameter '" + *key + "' is given more than once"));
    }
  }
  return parsed;
}

}  // namespace promoter::daemon
