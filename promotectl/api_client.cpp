#include "promotectl/api_client.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <exception>

#include <fmt/format.h>

#include "adapters/http_client.hpp"

#ifndef PROMOTER_VERSION
#define PROMOTER_VERSION "dev"
#endif

namespace promoter::promotectl {

namespace asio = boost::asio;

core::Result<std::string> normalize_base_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return core::fail(core::ErrorCode::invalid_argument,
                      fmt::format("'{}' is not a usable promoterd URL: {} (e.g. http://127.0.0.1:8080)", url, why));
  };
  std::string_view rest = url;
  if (rest.starts_with("http://"))
    rest.remove_prefix(7);
  else if (rest.starts_with("https://"))
    rest.remove_prefix(8);
  else
    return bad("it must start with http:// or https://");
  if (rest.empty() || rest.starts_with('/') || rest.starts_with(':')) return bad("the host is missing");
  if (rest.find_first_of("?#") != std::string_view::npos) return bad("a query or fragment has no meaning here");
  if (rest.substr(0, rest.find('/')).find('@') != std::string_view::npos)
    // Not echoed: the URL holds a password.
    return core::fail(core::ErrorCode::invalid_argument,
                      "the promoterd URL holds credentials (user@ or user:password@); they do not belong there: "
                      "use PROMOTER_TOKEN or --token-file");
  if (std::ranges::any_of(rest, [](unsigned char c) { return c <= 0x20 || c == 0x7f; }))
    return bad("it holds spaces or control characters");
  while (url.ends_with('/')) url.remove_suffix(1);
  return std::string(url);
}

ApiClient::ApiClient(std::string base_url, std::string bearer_token, ApiClientOptions options)
    : base_url_(std::move(base_url)), token_(std::move(bearer_token)), options_(std::move(options)) {}

core::Result<ApiResponse> ApiClient::get(std::string_view target) const {
  return request(Method::get, target, std::nullopt);
}

core::Result<ApiResponse> ApiClient::post_json(std::string_view target, std::string_view json_body) const {
  return request(Method::post, target, json_body);
}

core::Result<ApiResponse> ApiClient::stream(std::string_view target,
                                            const std::vector<std::pair<std::string, std::string>>& headers,
                                            const std::function<bool(std::string_view)>& on_data) const {
  return request(Method::get, target, std::nullopt, headers, on_data);
}

core::Result<ApiResponse> ApiClient::request(Method method, std::string_view target,
                                             std::optional<std::string_view> json_body,
                                             const std::vector<std::pair<std::string, std::string>>& headers,
                                             const std::function<bool(std::string_view)>& on_data) const {
  asio::io_context ioc;
  adapters::HttpClient client(ioc.get_executor(), adapters::HttpClientOptions{
                                                      .ca_file = options_.ca_file,
                                                      .connect_timeout = options_.timeout,
                                                      .request_timeout = options_.timeout,
                                                      .max_response_bytes = options_.max_response_bytes,
                                                      .retry = {.max_attempts = 1},
                                                      .jitter = {},
                                                      .sleeper = {},
                                                      .user_agent = "promotectl/" PROMOTER_VERSION,
                                                  });

  adapters::HttpRequestSpec spec;
  spec.method = method == Method::post ? adapters::HttpMethod::post : adapters::HttpMethod::get;
  spec.url = base_url_ + std::string(target);
  spec.headers.emplace_back("Accept", "application/json");
  if (!token_.empty()) spec.headers.emplace_back("Authorization", "Bearer " + token_);
  for (const auto& header : headers) spec.headers.push_back(header);
  spec.on_body = on_data;
  if (json_body) {
    spec.headers.emplace_back("Content-Type", "application/json");
    spec.body = std::string(*json_body);
  }

  std::optional<core::Result<ApiResponse>> outcome;
  asio::co_spawn(ioc, client.request(std::move(spec)),
                 [&](std::exception_ptr failure, std::expected<adapters::HttpResult, adapters::AdapterError> result) {
                   if (failure) {
                     try {
                       std::rethrow_exception(failure);
                     } catch (const std::exception& e) {
                       outcome = core::fail(core::ErrorCode::internal,
                                            fmt::format("request to {} failed unexpectedly: {}", base_url_, e.what()));
                     }
                   } else if (!result) {
                     outcome = core::fail(
                         core::ErrorCode::unavailable,
                         fmt::format("could not reach promoterd at {}: {}", base_url_, result.error().message));
                   } else {
                     outcome = ApiResponse{result->status, std::move(result->body)};
                   }
                 });
  ioc.run();
  return std::move(*outcome);
}

}  // namespace promoter::promotectl
