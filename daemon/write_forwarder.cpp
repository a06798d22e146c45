#include "daemon/write_forwarder.hpp"

#include <fmt/format.h>

#include "daemon/log.hpp"

namespace promoter::daemon {

namespace http = boost::beast::http;

namespace {

HttpResponse no_leader(std::string message) {
  auto response = HttpResponse::error(503, core::ErrorCode::not_leader, message);
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

std::optional<adapters::HttpMethod> method_of(http::verb verb) {
  switch (verb) {
    case http::verb::post:
      return adapters::HttpMethod::post;
    case http::verb::put:
      return adapters::HttpMethod::put;
    case http::verb::patch:
      return adapters::HttpMethod::patch;
    case http::verb::delete_:
      return adapters::HttpMethod::delete_;
    default:
      return std::nullopt;
  }
}

}  // namespace

boost::asio::awaitable<std::optional<HttpResponse>> WriteForwarder::operator()(HttpRequest& request) {
  if (leadership_.role() == NodeRole::leader) co_return std::nullopt;
  const auto& leader = leadership_.leader();
  if (request.forwarded) {
    metrics_.write_forwarded("no_leader");
    co_return no_leader(fmt::format("{} was forwarded to {}, which no longer leads; leadership is changing: retry",
                                    request.path, leadership_.instance()));
  }
  if (leadership_.role() == NodeRole::starting || !leader) {
    metrics_.write_forwarded("no_leader");
    co_return no_leader("no instance leads this environment yet; retry in a moment");
  }
  if (leader->advertise_url.empty()) {
    metrics_.write_forwarded("no_leader");
    co_return no_leader(
        fmt::format("this instance ({}) is a standby and the leader ({}) advertises no URL to forward "
                    "writes to; send them to the leader, or set [server] advertise_url there",
                    leadership_.instance(), leader->holder));
  }
  const auto method = method_of(request.method);
  if (!method) co_return HttpResponse::error(405, "method_not_allowed", "this method cannot be forwarded");

  adapters::HttpRequestSpec spec;
  spec.method = *method;
  spec.url = leader->advertise_url + request.target;
  if (!request.authorization.empty()) spec.headers.emplace_back("Authorization", request.authorization);
  if (!request.content_type.empty()) spec.headers.emplace_back("Content-Type", request.content_type);
  // A console write is checked where it is applied: session cookie, CSRF token, and where the browser sent it.
  if (request.authorization.empty()) {
    for (const auto& [name, value] : {std::pair<const char*, const std::string&>{"Cookie", request.cookie},
                                      {"X-CSRF-Token", request.csrf_token},
                                      {"Origin", request.origin},
                                      {"Referer", request.referer},
                                      {"X-Forwarded-Host", request.host}})
      if (!value.empty()) spec.headers.emplace_back(name, value);
  }
  // A webhook is verified where it is applied: the leader needs the provider's signature and delivery id.
  for (const auto& [name, value] : request.webhook_headers) spec.headers.emplace_back(name, value);
  spec.headers.emplace_back("X-Promoter-Forwarded", leadership_.instance());
  spec.body = request.body;
  spec.operation = "forward";
  auto answer = co_await client_.request(std::move(spec));
  if (!answer) {
    metrics_.write_forwarded("unreachable");
    log(LogLevel::warn, "could not forward a write to the leader",
        {{"leader", leader->holder}, {"route", request.route}, {"error", answer.error().message}});
    co_return no_leader(fmt::format("this instance ({}) is a standby and could not reach the leader ({}) at {}: retry",
                                    leadership_.instance(), leader->holder, leader->advertise_url));
  }
  metrics_.write_forwarded("forwarded");
  HttpResponse response;
  response.status = static_cast<unsigned>(answer->status);
  response.body = std::move(answer->body);
  if (auto it = answer->headers.find("content-type"); it != answer->headers.end()) response.content_type = it->second;
  for (const char* name : {"x-promoter-served-by", "retry-after", "www-authenticate", "allow", "set-cookie"})
    if (auto it = answer->headers.find(name); it != answer->headers.end())
      response.headers.emplace_back(name, it->second);
  co_return response;
}

}  // namespace promoter::daemon
