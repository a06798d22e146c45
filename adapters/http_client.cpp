#include "adapters/http_client.hpp"

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <array>
#include <limits>
#include <cctype>
#include <charconv>
#include <random>

namespace promoter::adapters {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct ParsedUrl {
  bool tls = false;
  std::string host;  // without IPv6 brackets
  std::string port;
  std::string host_header;  // host[:port] as sent in Host
  std::string target;       // path + query, at least "/"
  std::string origin;       // scheme://host:port, used in messages (never the path: it may hold secrets)
};

std::expected<ParsedUrl, std::string> parse_url(std::string_view url) {
  ParsedUrl out;
  std::string_view rest;
  if (url.starts_with("https://")) {
    out.tls = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return std::unexpected("URL must start with http:// or https://");
  }
  const auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view target = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) return std::unexpected("URL must not carry user info");
  std::string_view host;
  std::string_view port;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::unexpected("URL has an unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::unexpected("URL has junk after the IPv6 address");
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return std::unexpected("URL has no host");
  if (port.empty()) port = out.tls ? "443" : "80";
  unsigned port_number = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (ec != std::errc{} || ptr != port.data() + port.size() || port_number == 0 || port_number > 65535) {
    return std::unexpected("URL has an invalid port");
  }
  for (const char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      return std::unexpected("URL host has whitespace or control characters");
    }
  }
  for (const char c : target) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      return std::unexpected("URL path has whitespace or control characters");
    }
  }
  out.host = std::string(host);
  out.port = std::string(port);
  const bool default_port = (out.tls && out.port == "443") || (!out.tls && out.port == "80");
  const bool ipv6 = host.find(':') != std::string_view::npos;
  const std::string bracketed = ipv6 ? "[" + out.host + "]" : out.host;
  out.host_header = default_port ? bracketed : bracketed + ":" + out.port;
  out.origin = std::string(out.tls ? "https://" : "http://") + bracketed + ":" + out.port;
  out.target = target.empty() ? "/" : std::string(target);
  if (out.target.front() == '?') out.target.insert(out.target.begin(), '/');
  return out;
}

http::verb to_verb(HttpMethod method) {
  switch (method) {
    case HttpMethod::get:
      return http::verb::get;
    case HttpMethod::head:
      return http::verb::head;
    case HttpMethod::post:
      return http::verb::post;
    case HttpMethod::put:
      return http::verb::put;
    case HttpMethod::patch:
      return http::verb::patch;
    case HttpMethod::delete_:
      return http::verb::delete_;
  }
  return http::verb::get;
}

bool idempotent_by_method(HttpMethod method) {
  return method == HttpMethod::get || method == HttpMethod::head || method == HttpMethod::put ||
         method == HttpMethod::delete_;
}

bool retryable_status(int status) {
  return status == 429 || (status >= 500 && status <= 599 && status != 501 && status != 505);
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

asio::awaitable<void> sleep_on(asio::any_io_executor executor, std::chrono::milliseconds delay) {
  asio::steady_timer timer(executor);
  timer.expires_after(delay);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// Cancels a resolver when its deadline passes (tcp::resolver has no timeout of its own).
asio::awaitable<void> resolve_watchdog(std::shared_ptr<asio::steady_timer> timer,
                                       std::shared_ptr<tcp::resolver> resolver, std::shared_ptr<bool> fired) {
  boost::system::error_code ec;
  co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!ec) {
    *fired = true;
    resolver->cancel();
  }
}

enum class Phase { connect, exchange };

struct AttemptError {
  AdapterError error;
  Phase phase = Phase::connect;
  bool transient = true;  // worth another attempt (if the method allows repeating)
};

AttemptError make_error(AdapterError::Kind kind, Phase phase, bool transient, std::string message) {
  return AttemptError{AdapterError{kind, 0, std::move(message)}, phase, transient};
}

}  // namespace

struct HttpClient::Impl {
  asio::any_io_executor executor;
  const HttpClientOptions& options;
  ssl::context tls_context{ssl::context::tls_client};
  std::string tls_setup_error;  // non-empty: every https request fails with it

  Impl(asio::any_io_executor ex, const HttpClientOptions& opts) : executor(std::move(ex)), options(opts) {
    SSL_CTX_set_min_proto_version(tls_context.native_handle(), TLS1_2_VERSION);
    tls_context.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (options.ca_file.empty()) {
      tls_context.set_default_verify_paths(ec);
      if (ec) tls_setup_error = "cannot load the system's trusted CA certificates: " + ec.message();
    } else {
      tls_context.load_verify_file(options.ca_file, ec);
      if (ec) {
        tls_setup_error =
            "cannot load CA file " + options.ca_file + ": " + ec.message() + " (check the http CA file setting)";
      }
    }
  }

  using AttemptResult = std::expected<HttpResult, AttemptError>;

  asio::awaitable<std::expected<tcp::resolver::results_type, AttemptError>> resolve(const ParsedUrl& url,
                                                                                    Clock::time_point deadline) {
    auto resolver = std::make_shared<tcp::resolver>(executor);
    auto timer = std::make_shared<asio::steady_timer>(executor);
    auto fired = std::make_shared<bool>(false);
    timer->expires_at(deadline);
    asio::co_spawn(executor, resolve_watchdog(timer, resolver, fired), asio::detached);
    boost::system::error_code ec;
    auto results = co_await resolver->async_resolve(url.host, url.port, asio::redirect_error(asio::use_awaitable, ec));
    timer->cancel();
    if (*fired) {
      co_return std::unexpected(
          make_error(AdapterError::Kind::timeout, Phase::connect, true, "resolving " + url.host + " timed out"));
    }
    if (ec) {
      co_return std::unexpected(make_error(AdapterError::Kind::transport, Phase::connect, true,
                                           "cannot resolve " + url.host + ": " + ec.message()));
    }
    co_return results;
  }

  asio::awaitable<std::expected<void, AttemptError>> connect(beast::tcp_stream& stream, const ParsedUrl& url,
                                                             Clock::time_point deadline) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(url.host, ec);
    std::vector<tcp::endpoint> endpoints;
    if (!ec) {
      endpoints.emplace_back(address, static_cast<unsigned short>(std::stoi(url.port)));
    } else {
      auto resolved = co_await resolve(url, deadline);
      if (!resolved) co_return std::unexpected(std::move(resolved.error()));
      for (const auto& entry : *resolved) endpoints.push_back(entry.endpoint());
    }
    stream.expires_at(deadline);
    ec = {};
    co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout || (ec && Clock::now() >= deadline)) {
      co_return std::unexpected(make_error(AdapterError::Kind::timeout, Phase::connect, true, "connect timed out"));
    }
    if (ec) {
      co_return std::unexpected(
          make_error(AdapterError::Kind::transport, Phase::connect, true, "connect failed: " + ec.message()));
    }
    co_return std::expected<void, AttemptError>{};
  }

  template <class Stream>
  asio::awaitable<AttemptResult> exchange(Stream& stream, beast::tcp_stream& lowest,
                                          const http::request<http::string_body>& request, Clock::time_point deadline,
                                          const std::function<bool(std::string_view)>& on_body,
                                          std::chrono::milliseconds idle) {
    lowest.expires_at(deadline);
    boost::system::error_code ec;
    co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout || (ec && Clock::now() >= deadline)) {
      co_return std::unexpected(
          make_error(AdapterError::Kind::timeout, Phase::exchange, true, "request timed out while sending"));
    }
    if (ec) {
      co_return std::unexpected(make_error(AdapterError::Kind::transport, Phase::exchange, true,
                                           "sending the request failed: " + ec.message()));
    }
    beast::flat_buffer buffer;
    if (on_body) co_return co_await stream_body(stream, lowest, buffer, on_body, idle);
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_response_bytes);
    if (request.method() == http::verb::head) parser.skip(true);
    // Header first, then the body: Beast 1.74 loses the body_limit error of a Content-Length
    // that is over the limit when header and body are parsed in one eager pass.
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && !parser.is_done()) {
      const auto length = parser.content_length();
      if (length && *length > options.max_response_bytes) {
        ec = http::error::body_limit;
      } else {
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    if (ec == http::error::body_limit) {
      co_return std::unexpected(
          make_error(AdapterError::Kind::protocol, Phase::exchange, false,
                     "response body exceeds the limit of " + std::to_string(options.max_response_bytes) + " bytes"));
    }
    if (ec == beast::error::timeout || (ec && Clock::now() >= deadline)) {
      co_return std::unexpected(
          make_error(AdapterError::Kind::timeout, Phase::exchange, true, "request timed out waiting for the response"));
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == ssl::error::stream_truncated) {
      co_return std::unexpected(make_error(AdapterError::Kind::transport, Phase::exchange, true,
                                           "connection closed before a complete response: " + ec.message()));
    }
    if (ec &&
        ec.category() == http::make_error_code(http::error::body_limit).category()) {  // Beast's HTTP parse errors
      co_return std::unexpected(
          make_error(AdapterError::Kind::protocol, Phase::exchange, false, "malformed HTTP response: " + ec.message()));
    }
    if (ec) {
      co_return std::unexpected(make_error(AdapterError::Kind::transport, Phase::exchange, true,
                                           "reading the response failed: " + ec.message()));
    }
    auto response = parser.release();
    HttpResult result;
    result.status = static_cast<int>(response.result_int());
    for (const auto& field : response.base()) {
      const auto raw_name = field.name_string();
      auto name = lower(std::string_view(raw_name.data(), raw_name.size()));
      auto [it, inserted] = result.headers.try_emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    result.body = std::move(response.body());
    co_return result;
  }

  // HttpRequestSpec::on_body: the header as usual, then each piece of the body as it arrives, each read
  // bounded by `idle`. The result carries the status and headers, and no body.
  template <class Stream>
  asio::awaitable<AttemptResult> stream_body(Stream& stream, beast::tcp_stream& lowest, beast::flat_buffer& buffer,
                                             const std::function<bool(std::string_view)>& on_body,
                                             std::chrono::milliseconds idle) {
    boost::system::error_code ec;
    http::response_parser<http::buffer_body> parser;
    // Not boost::none: Beast 1.74 compares a Content-Length against the optional, and any length exceeds none.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout)
      co_return std::unexpected(
          make_error(AdapterError::Kind::timeout, Phase::exchange, true, "request timed out waiting for the response"));
    if (ec)
      co_return std::unexpected(make_error(AdapterError::Kind::transport, Phase::exchange, true,
                                           "reading the response failed: " + ec.message()));
    HttpResult result;
    result.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get().base()) {
      const auto raw_name = field.name_string();
      auto name = lower(std::string_view(raw_name.data(), raw_name.size()));
      auto [it, inserted] = result.headers.try_emplace(name, std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    std::array<char, 8192> piece;
    while (!parser.is_done()) {
      parser.get().body().data = piece.data();
      parser.get().body().size = piece.size();
      lowest.expires_after(idle);
      co_await http::async_read_some(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      const std::size_t n = piece.size() - parser.get().body().size;
      if (n > 0 && !on_body(std::string_view(piece.data(), n))) break;
      if (ec == beast::error::timeout)
        co_return std::unexpected(
            make_error(AdapterError::Kind::timeout, Phase::exchange, false, "the stream was silent for too long"));
      if (ec) break;  // the server closed the stream: its end
    }
    co_return result;
  }

  asio::awaitable<AttemptResult> attempt(const ParsedUrl& url, const http::request<http::string_body>& request,
                                         std::chrono::milliseconds request_timeout,
                                         const std::function<bool(std::string_view)>& on_body) {
    const auto connect_deadline = Clock::now() + options.connect_timeout;
    if (!url.tls) {
      beast::tcp_stream stream(executor);
      auto connected = co_await connect(stream, url, connect_deadline);
      if (!connected) co_return std::unexpected(std::move(connected.error()));
      auto result =
          co_await exchange(stream, stream, request, Clock::now() + request_timeout, on_body, request_timeout);
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return result;
    }
    if (!tls_setup_error.empty()) {
      co_return std::unexpected(make_error(AdapterError::Kind::transport, Phase::connect, false, tls_setup_error));
    }
    beast::ssl_stream<beast::tcp_stream> stream(executor, tls_context);
    SSL* ssl_handle = stream.native_handle();
    boost::system::error_code ec;
    asio::ip::make_address(url.host, ec);
    const bool host_is_ip = !ec;
    if (host_is_ip) {
      // Certificates name IP addresses in iPAddress SANs; SNI must not carry an IP.
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), url.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_handle, url.host.c_str());
      SSL_set1_host(ssl_handle, url.host.c_str());
    }
    auto connected = co_await connect(stream.next_layer(), url, connect_deadline);
    if (!connected) co_return std::unexpected(std::move(connected.error()));
    stream.next_layer().expires_at(connect_deadline);
    ec = {};
    co_await stream.async_handshake(ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      const long verify = SSL_get_verify_result(ssl_handle);
      if (verify != X509_V_OK) {
        co_return std::unexpected(make_error(AdapterError::Kind::transport, Phase::connect, false,
                                             std::string("TLS certificate verification failed for ") + url.host + ": " +
                                                 X509_verify_cert_error_string(verify) +
                                                 " (check the server certificate, its name and the trusted CA file)"));
      }
      if (ec == beast::error::timeout || Clock::now() >= connect_deadline) {
        co_return std::unexpected(
            make_error(AdapterError::Kind::timeout, Phase::connect, true, "TLS handshake timed out"));
      }
      co_return std::unexpected(
          make_error(AdapterError::Kind::transport, Phase::connect, true, "TLS handshake failed: " + ec.message()));
    }
    auto result = co_await exchange(stream, stream.next_layer(), request, Clock::now() + request_timeout, on_body,
                                    request_timeout);
    // No TLS close_notify exchange: the response is complete (length-framed or read to a
    // verified end), and a peer that never answers the shutdown would only cost time.
    boost::system::error_code ignored;
    stream.next_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return result;
  }
};

HttpClient::HttpClient(asio::any_io_executor executor, HttpClientOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {
  if (options_.retry.max_attempts < 1) options_.retry.max_attempts = 1;
  if (!options_.jitter) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    options_.jitter = [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
  }
  if (!options_.sleeper) {
    options_.sleeper = [ex = executor_](std::chrono::milliseconds delay) { return sleep_on(ex, delay); };
  }
  impl_ = std::make_unique<Impl>(executor_, options_);
}

HttpClient::~HttpClient() = default;

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, double jitter) {
  using std::chrono::milliseconds;
  const auto cap = std::max(policy.max_backoff, milliseconds{0});
  auto delay = std::max(policy.base_backoff, milliseconds{0});
  for (int i = 1; i < retry && delay < cap; ++i) delay *= 2;
  delay = std::min(delay, cap);
  jitter = std::clamp(jitter, 0.0, 1.0);
  const auto half = delay / 2;
  return half + milliseconds{static_cast<milliseconds::rep>(static_cast<double>((delay - half).count()) * jitter)};
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 9) return std::nullopt;  // > 9 digits: absurd, treat as absent
  long long seconds = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc{} || ptr != value.data() + value.size() || seconds < 0) return std::nullopt;
  return std::chrono::seconds{seconds};
}

asio::awaitable<std::expected<HttpResult, AdapterError>> HttpClient::request(HttpRequestSpec spec) {
  const auto method_name = std::string(http::to_string(to_verb(spec.method)));
  auto url = parse_url(spec.url);
  if (!url) {
    co_return std::unexpected(
        AdapterError{AdapterError::Kind::protocol, 0, method_name + " request has an invalid URL: " + url.error()});
  }
  const std::string where = method_name + " " + url->origin;

  http::request<http::string_body> request{to_verb(spec.method), url->target, 11};
  request.set(http::field::host, url->host_header);
  request.set(http::field::user_agent, options_.user_agent);
  request.set(http::field::connection, "close");
  for (const auto& [name, value] : spec.headers) {
    if (name.find_first_of("\r\n:") != std::string::npos || value.find_first_of("\r\n") != std::string::npos) {
      co_return std::unexpected(
          AdapterError{AdapterError::Kind::protocol, 0, where + ": a request header name or value has a line break"});
    }
    request.set(name, value);
  }
  request.body() = std::move(spec.body);
  if (spec.method != HttpMethod::get && spec.method != HttpMethod::head) {
    request.prepare_payload();
  } else if (!request.body().empty()) {
    request.prepare_payload();
  }

  const bool may_repeat = spec.idempotent || idempotent_by_method(spec.method);
  const auto timeout = spec.timeout.value_or(options_.request_timeout);
  const int max_attempts = options_.retry.max_attempts;

  for (int attempt = 1;; ++attempt) {
    if (spec.budget) co_await spec.budget->acquire();
    const auto started = Clock::now();
    auto outcome = co_await impl_->attempt(*url, request, timeout, spec.on_body);
    if (options_.observer) {
      const HttpAttempt report{spec.operation.empty() ? std::string_view("other") : std::string_view(spec.operation),
                               outcome ? outcome->status : 0,
                               std::chrono::duration<double>(Clock::now() - started).count(), attempt};
      options_.observer(report);
    }
    const bool last = attempt >= max_attempts;
    std::chrono::milliseconds delay{};
    bool budget_waits = false;  // the budget's acquire() waits out a token's back-off instead
    if (outcome) {
      outcome->attempts = attempt;
      std::optional<std::chrono::seconds> retry_after;
      if (const auto it = outcome->headers.find("retry-after"); it != outcome->headers.end()) {
        retry_after = parse_retry_after(it->second);
      }
      // A rate limit holds back every request of the token, this one's retry and other callers' alike,
      // also when this request is not retried.
      const bool token_backs_off = spec.budget && outcome->status == 429 && retry_after;
      if (token_backs_off) spec.budget->back_off(*retry_after);
      const bool caller_handles = outcome->status == 429 && !spec.retry_429;
      if (!retryable_status(outcome->status) || last || !may_repeat || caller_handles) {
        co_return std::move(*outcome);
      }
      if (token_backs_off) {
        budget_waits = true;
      } else if (retry_after) {
        delay = std::min<std::chrono::milliseconds>(*retry_after, options_.retry.retry_after_cap);
      } else {
        delay = backoff_delay(options_.retry, attempt, options_.jitter());
      }
    } else {
      auto& failure = outcome.error();
      const bool repeatable = failure.transient && (failure.phase == Phase::connect || may_repeat);
      if (!repeatable || last) {
        failure.error.message = where + ": " + failure.error.message;
        if (attempt > 1) failure.error.message += " (after " + std::to_string(attempt) + " attempts)";
        co_return std::unexpected(std::move(failure.error));
      }
      delay = backoff_delay(options_.retry, attempt, options_.jitter());
    }
    if (!budget_waits) co_await options_.sleeper(delay);
  }
}

}  // namespace promoter::adapters
