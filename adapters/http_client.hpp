#pragma once

// Async HTTP(S)/1.1 client on Beast + OpenSSL, one new connection per request,
// retrying transient failures with capped exponential backoff and jitter.

#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/adapter_error.hpp"
#include "adapters/token_budget.hpp"

namespace promoter::adapters {

enum class HttpMethod { get, head, post, put, patch, delete_ };

struct RetryPolicy {
  int max_attempts = 3;  // total attempts, 1 = never retry
  std::chrono::milliseconds base_backoff{200};
  std::chrono::milliseconds max_backoff{5'000};
  // A server's Retry-After is honoured (even above max_backoff) up to this cap; longer
  // asks wait the cap.
  std::chrono::milliseconds retry_after_cap{30'000};
};

// Sleeps for a backoff; the default arms a steady_timer. Tests may inject one that records.
using HttpSleeper = std::function<boost::asio::awaitable<void>(std::chrono::milliseconds)>;

// One attempt of a request, as reported to HttpClientOptions::observer (for metrics). Carries only
// bounded values: never the URL, headers or body, which may hold secrets.
struct HttpAttempt {
  std::string_view operation;  // HttpRequestSpec::operation, "other" when the caller gave none
  int status = 0;              // 0: no complete answer (connect, TLS, timeout or protocol failure)
  double seconds = 0;          // this attempt alone, without backoff
  int attempt = 1;             // 1 = first try; above 1 it is a retry
};
using HttpObserver = std::function<void(const HttpAttempt&)>;

struct HttpClientOptions {
  std::string ca_file;                                // PEM bundle to trust; empty = the system's default trust store
  std::chrono::milliseconds connect_timeout{5'000};   // resolve + TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{30'000};  // write request + read whole response
  std::size_t max_response_bytes = 4 * 1024 * 1024;   // body larger than this: protocol error
  RetryPolicy retry;
  // Jitter source in [0, 1]; default: a std::mt19937_64 seeded from std::random_device.
  std::function<double()> jitter;
  HttpSleeper sleeper;  // default: steady_timer on the client's executor
  std::string user_agent = "promoter/0.1";
  // Called on the client's executor after every attempt; empty = nobody listens. The adapters
  // report through it so they need not know the daemon's metrics.
  HttpObserver observer{};
};

struct HttpRequestSpec {
  HttpMethod method = HttpMethod::get;
  std::string url;  // absolute: http://host[:port]/path?query or https://...
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::chrono::milliseconds> timeout;  // overrides request_timeout
  // POST and PATCH are retried after the request may have reached the server (5xx, 429,
  // timeouts, dropped connections) only when the caller marks them safe to repeat (e.g. a
  // GraphQL query). Failures to connect are retried for every method: nothing was sent.
  bool idempotent = false;
  // What the request does, as a bounded metrics label (a GraphQL operation name, "machines.list");
  // never anything per call such as an id or a SHA.
  std::string operation{};
  // The allowance of the token this request carries: every attempt waits for the token's back-off and
  // spends one request of its budget; a 429 sets the back-off for every request of the token. Empty:
  // the request is not rate-limited here.
  std::shared_ptr<TokenBudget> budget{};
  // false: a 429 is answered to the caller at once (the budget's back-off is still set from its Retry-After),
  // for a caller with a rate-limit protocol of its own (GitHub: secondary limits also come as 403s, and
  // without Retry-After ask for a minute, not a short exponential backoff).
  bool retry_429 = true;
  // When set, the body is not collected: each piece goes to it as it arrives (a stream such as Server-Sent
  // Events) until the server closes, the callback returns false, or nothing arrives for the timeout, which
  // then bounds the silence between pieces rather than the whole exchange. max_response_bytes does not apply.
  std::function<bool(std::string_view)> on_body{};
};

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; repeats joined with ", "
  std::string body;
  int attempts = 1;  // requests made, including the final one (retries = attempts - 1)
};

// Any complete HTTP answer is a value (the caller judges its status, also a 5xx left after the
// last retry); errors are connect/TLS/timeout/protocol failures. Never logs headers or bodies.
class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor executor, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  boost::asio::awaitable<std::expected<HttpResult, AdapterError>> request(HttpRequestSpec spec);

  const HttpClientOptions& options() const { return options_; }

  struct Impl;

 private:
  boost::asio::any_io_executor executor_;
  HttpClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Delay before retry number `retry` (1 = first retry) without Retry-After:
// d = min(max_backoff, base_backoff * 2^(retry-1)), waited as d/2 + jitter*d/2.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, double jitter);

// Retry-After as delay-seconds ("120"); HTTP-dates and junk give nullopt.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value);

}  // namespace promoter::adapters
