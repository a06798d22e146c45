#pragma once
// promotectl's synchronous client for promoterd's API: one blocking call per request, on top of the
// adapters' HTTP(S) client (certificate and host-name verification on, deadlines, size limit).
#include <chrono>
#include <functional>
#include <utility>
#include <vector>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace promoter::promotectl {

// Checks a promoterd base URL ("http://127.0.0.1:8080", "https://ops.example.com/promoter") and drops
// a trailing slash. User info, query and fragment are refused: they have no meaning here, and
// credentials in a URL end up in shell history.
core::Result<std::string> normalize_base_url(std::string_view url);

struct ApiClientOptions {
  // Connecting (with the TLS handshake) may take this long, and so may the exchange after it.
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  // PEM bundle trusted instead of the system's CAs; empty means the system's, which honour
  // SSL_CERT_FILE and SSL_CERT_DIR.
  std::string ca_file;
  // A larger answer is refused rather than buffered without bound.
  std::size_t max_response_bytes = 32 * 1024 * 1024;
};

struct ApiResponse {
  int status = 0;
  std::string body;
};

class ApiClient {
 public:
  // `base_url` as returned by normalize_base_url. `bearer_token` may be empty: no Authorization then.
  ApiClient(std::string base_url, std::string bearer_token, ApiClientOptions options = {});

  // `target` is the path and query below the base URL, e.g. "/v1/releases?limit=5". Any HTTP status
  // is a response; only failing to get one (unreachable, TLS, timeout, malformed or oversized answer)
  // is an error: code unavailable, with a message naming the URL and the reason. Nothing is retried:
  // an operator sees at once what happened and decides.
  core::Result<ApiResponse> get(std::string_view target) const;
  core::Result<ApiResponse> post_json(std::string_view target, std::string_view json_body) const;

  // GET `target` as a stream: each piece of the body (an error answer's too) goes to `on_data` as it arrives,
  // until promoterd closes the stream or `on_data` returns false. `headers` are sent besides Authorization
  // (e.g. Last-Event-ID). The status comes back; a silence longer than the timeout is an error.
  core::Result<ApiResponse> stream(std::string_view target,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   const std::function<bool(std::string_view)>& on_data) const;

  const std::string& base_url() const { return base_url_; }

 private:
  enum class Method { get, post };
  core::Result<ApiResponse> request(Method method, std::string_view target, std::optional<std::string_view> json_body,
                                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                                    const std::function<bool(std::string_view)>& on_data = {}) const;

  std::string base_url_;
  std::string token_;
  ApiClientOptions options_;
};

}  // namespace promoter::promotectl
