// HttpClient against small local HTTP and HTTPS servers on 127.0.0.1 (ports chosen at run time).
// TLS material (a throwaway CA and two server certificates) is generated per run with the
// openssl CLI into a temporary directory.

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "adapters/http_client.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using namespace std::chrono_literals;
using promoter::adapters::AdapterError;
using promoter::adapters::HttpClient;
using promoter::adapters::HttpClientOptions;
using promoter::adapters::HttpMethod;
using promoter::adapters::HttpRequestSpec;
using promoter::adapters::HttpResult;

namespace {

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = "ok";
  std::chrono::milliseconds delay{0};
  bool drop = false;     // close the connection without answering
  bool chunked = false;  // Transfer-Encoding: chunked instead of Content-Length
};

Reply reply(int status, std::string body = "ok", std::vector<std::pair<std::string, std::string>> headers = {},
            std::chrono::milliseconds delay = std::chrono::milliseconds{0}) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.delay = delay;
  return r;
}

using Handler = std::function<Reply(const http::request<http::string_body>&, int index)>;

// A tiny server answering each connection's one request with handler(request, n).
class TestServer {
 public:
  TestServer(asio::io_context& ioc, Handler handler, std::shared_ptr<ssl::context> tls = nullptr)
      : state_(std::make_shared<State>(ioc, std::move(handler), std::move(tls))) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    state_->acceptor.open(endpoint.protocol());
    state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    state_->acceptor.bind(endpoint);
    state_->acceptor.listen();
    port_ = state_->acceptor.local_endpoint().port();
    asio::co_spawn(ioc, accept_loop(state_), asio::detached);
  }
  ~TestServer() { stop(); }
  void stop() {
    boost::system::error_code ignored;
    state_->acceptor.close(ignored);
  }
  unsigned short port() const { return port_; }
  int requests() const { return state_->requests; }
  std::string url(std::string_view host = "127.0.0.1", std::string_view path = "/thing") const {
    return std::string(state_->tls ? "https://" : "http://") + std::string(host) + ":" + std::to_string(port_) +
           std::string(path);
  }
  const http::request<http::string_body>& last_request() const { return state_->last; }

 private:
  struct State {
    State(asio::io_context& ioc, Handler h, std::shared_ptr<ssl::context> t)
        : acceptor(ioc), handler(std::move(h)), tls(std::move(t)) {}
    tcp::acceptor acceptor;
    Handler handler;
    std::shared_ptr<ssl::context> tls;
    int requests = 0;
    http::request<http::string_body> last;
  };

  template <class Stream>
  static asio::awaitable<void> serve(std::shared_ptr<State> state, Stream& stream) {
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    boost::system::error_code ec;
    co_await http::async_read(stream, buffer, request, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const int index = state->requests++;
    state->last = request;
    Reply reply = state->handler(request, index);
    if (reply.delay > 0ms) {
      asio::steady_timer timer(stream.get_executor());
      timer.expires_after(reply.delay);
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (reply.drop) co_return;
    http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
    for (const auto& [name, value] : reply.headers) response.insert(name, value);
    response.body() = reply.body;
    if (reply.chunked) {
      response.chunked(true);
    } else {
      response.prepare_payload();
    }
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
  }

  static asio::awaitable<void> connection(std::shared_ptr<State> state, tcp::socket socket) {
    if (!state->tls) {
      beast::tcp_stream stream(std::move(socket));
      co_await serve(state, stream);
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *state->tls);
    boost::system::error_code ec;
    co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await serve(state, stream);
    boost::system::error_code ignored;
    stream.next_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<State> state) {
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(state->acceptor.get_executor(), connection(state, std::move(socket)), asio::detached);
    }
  }

  std::shared_ptr<State> state_;
  unsigned short port_ = 0;
};

// Runs one coroutine to completion on ioc (servers may keep other work pending).
template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> work) {
  std::optional<T> out;
  std::exception_ptr failure;
  bool done = false;
  ioc.restart();  // a previous run may have run out of work, which stops the context
  asio::co_spawn(ioc, std::move(work), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) out.emplace(std::move(value));
    done = true;
  });
  while (!done) ioc.run_one();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

using Outcome = std::expected<HttpResult, AdapterError>;

Outcome fetch(asio::io_context& ioc, HttpClient& client, HttpRequestSpec spec) {
  return run(ioc, client.request(std::move(spec)));
}

HttpRequestSpec get(std::string url) {
  HttpRequestSpec spec;
  spec.url = std::move(url);
  return spec;
}

// Options for fast deterministic tests: no real sleeping, fixed jitter, delays recorded.
HttpClientOptions fast_options(std::shared_ptr<std::vector<std::chrono::milliseconds>> slept) {
  HttpClientOptions options;
  options.connect_timeout = 2s;
  options.request_timeout = 5s;
  options.retry.max_attempts = 3;
  options.retry.base_backoff = 100ms;
  options.retry.max_backoff = 1s;
  options.retry.retry_after_cap = 2s;
  options.jitter = [] { return 0.5; };
  options.sleeper = [slept](std::chrono::milliseconds d) -> asio::awaitable<void> {
    slept->push_back(d);
    co_return;
  };
  return options;
}

unsigned short unused_port(asio::io_context& ioc) {
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();  // closed on return: nothing listens there
}

// ---- TLS material -------------------------------------------------------------------------

struct TlsFiles {
  std::filesystem::path dir;
  std::filesystem::path ca, good_cert, good_key, other_cert, other_key;
};

void sh(const std::string& command) {
  const int rc = std::system((command + " >/dev/null 2>&1").c_str());
  REQUIRE_MESSAGE(rc == 0, "command failed: " << command);
}

const TlsFiles& tls_files() {
  static const TlsFiles files = [] {
    TlsFiles f;
    std::mt19937_64 rng(std::random_device{}());
    f.dir = std::filesystem::temp_directory_path() / ("promoter-http-tls-" + std::to_string(rng()));
    std::filesystem::create_directories(f.dir);
    const auto d = f.dir.string();
    f.ca = f.dir / "ca.pem";
    f.good_cert = f.dir / "localhost.pem";
    f.good_key = f.dir / "localhost.key";
    f.other_cert = f.dir / "other.pem";
    f.other_key = f.dir / "other.key";
    const std::string ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh("openssl req -x509 " + ec_key + " -keyout " + d + "/ca.key -out " + f.ca.string() +
       " -days 2 -subj '/CN=promoter throwaway test CA'"
       " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
    const auto issue = [&](const std::string& name, const std::string& san) {
      std::ofstream(d + "/" + name + ".ext")
          << "subjectAltName=" << san << "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
      sh("openssl req " + ec_key + " -keyout " + d + "/" + name + ".key -out " + d + "/" + name +
         ".csr -subj '/CN=" + name + "'");
      sh("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + f.ca.string() + " -CAkey " + d +
         "/ca.key -CAcreateserial -days 2 -out " + d + "/" + name + ".pem -extfile " + d + "/" + name + ".ext");
    };
    issue("localhost", "DNS:localhost,IP:127.0.0.1");
    issue("other", "DNS:other.example");
    return f;
  }();
  return files;
}

std::shared_ptr<ssl::context> server_tls(const std::filesystem::path& cert, const std::filesystem::path& key) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->use_certificate_chain_file(cert.string());
  ctx->use_private_key_file(key.string(), ssl::context::pem);
  return ctx;
}

Reply ok(const http::request<http::string_body>&, int) { return Reply{}; }

}  // namespace

TEST_CASE("a 500 is retried with backoff and the later success is returned with its attempt count") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int i) { return i < 2 ? reply(500, "boom") : reply(200, "fine"); });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  HttpClient client(ioc.get_executor(), fast_options(slept));
  auto result = fetch(ioc, client, get(server.url()));
  REQUIRE(result.has_value());
  CHECK(result->status == 200);
  CHECK(result->body == "fine");
  CHECK(result->attempts == 3);
  CHECK(server.requests() == 3);
  // jitter 0.5: d/2 + d/4 with d = 100ms, then 200ms
  REQUIRE(slept->size() == 2);
  CHECK((*slept)[0] == 75ms);
  CHECK((*slept)[1] == 150ms);
}

TEST_CASE("a 5xx left after the last attempt is returned as a result, not retried further") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int) { return reply(503, "down"); });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  HttpClient client(ioc.get_executor(), fast_options(slept));
  auto result = fetch(ioc, client, get(server.url()));
  REQUIRE(result.has_value());
  CHECK(result->status == 503);
  CHECK(result->attempts == 3);
  CHECK(server.requests() == 3);
}

TEST_CASE("a 429 with Retry-After waits at least that long before the retry") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int i) {
    return i == 0 ? reply(429, "slow down", {{"Retry-After", "1"}, {"X-RateLimit-Remaining", "0"}}) : Reply{};
  });
  auto options = fast_options(std::make_shared<std::vector<std::chrono::milliseconds>>());
  options.sleeper = nullptr;  // real steady_timer
  HttpClient client(ioc.get_executor(), options);
  const auto start = std::chrono::steady_clock::now();
  auto result = fetch(ioc, client, get(server.url()));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(result.has_value());
  CHECK(result->status == 200);
  CHECK(result->attempts == 2);
  CHECK(server.requests() == 2);
  CHECK(elapsed >= 1s);
}

TEST_CASE("a Retry-After longer than the configured cap waits the cap") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int i) {
    return i == 0 ? reply(429, "wait", {{"Retry-After", "3600"}}) : Reply{};
  });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  HttpClient client(ioc.get_executor(), fast_options(slept));
  auto result = fetch(ioc, client, get(server.url()));
  REQUIRE(result.has_value());
  CHECK(result->attempts == 2);
  REQUIRE(slept->size() == 1);
  CHECK((*slept)[0] == 2s);
}

TEST_CASE("a 404 and other 4xx are never retried") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int i) { return i == 0 ? reply(404, "nope") : reply(400); });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  HttpClient client(ioc.get_executor(), fast_options(slept));
  auto result = fetch(ioc, client, get(server.url()));
  REQUIRE(result.has_value());
  CHECK(result->status == 404);
  CHECK(result->attempts == 1);
  CHECK(slept->empty());
  auto second = fetch(ioc, client, get(server.url()));
  REQUIRE(second.has_value());
  CHECK(second->status == 400);
  CHECK(second->attempts == 1);
  CHECK(server.requests() == 2);
}

TEST_CASE("a POST is retried on 5xx only when the caller marks it idempotent") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int) { return reply(500); });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  HttpClient client(ioc.get_executor(), fast_options(slept));
  HttpRequestSpec post;
  post.method = HttpMethod::post;
  post.url = server.url();
  post.body = R"({"query":"mutation"})";
  post.headers = {{"Content-Type", "application/json"}};
  auto once = fetch(ioc, client, post);
  REQUIRE(once.has_value());
  CHECK(once->status == 500);
  CHECK(once->attempts == 1);
  CHECK(server.requests() == 1);
  CHECK(server.last_request().body() == R"({"query":"mutation"})");
  CHECK(server.last_request()[http::field::content_type] == "application/json");

  post.idempotent = true;
  auto retried = fetch(ioc, client, post);
  REQUIRE(retried.has_value());
  CHECK(retried->attempts == 3);
  CHECK(server.requests() == 4);
}

TEST_CASE("a refused connection is retried, then reported as a transport error") {
  asio::io_context ioc;
  const auto port = unused_port(ioc);
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  HttpClient client(ioc.get_executor(), fast_options(slept));
  HttpRequestSpec post;  // even a POST: nothing reached the server
  post.method = HttpMethod::post;
  post.url = "http://127.0.0.1:" + std::to_string(port) + "/secret-path";
  auto result = fetch(ioc, client, post);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == AdapterError::Kind::transport);
  CHECK(slept->size() == 2);
  CHECK(result.error().message.find("after 3 attempts") != std::string::npos);
  CHECK(result.error().message.find("secret-path") == std::string::npos);  // paths may hold secrets
}

TEST_CASE("a slow server gives a timeout error; a GET that timed out is retried") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int) { return reply(200, "late", {}, 1500ms); });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  auto options = fast_options(slept);
  options.retry.max_attempts = 2;
  HttpClient client(ioc.get_executor(), options);
  auto spec = get(server.url());
  spec.timeout = 200ms;
  auto result = fetch(ioc, client, spec);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == AdapterError::Kind::timeout);
  CHECK(slept->size() == 1);
}

TEST_CASE("a POST that timed out is not repeated") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int) { return reply(200, "late", {}, 1500ms); });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  auto options = fast_options(slept);
  options.request_timeout = 200ms;
  HttpClient client(ioc.get_executor(), options);
  HttpRequestSpec post;
  post.method = HttpMethod::post;
  post.url = server.url();
  auto result = fetch(ioc, client, post);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == AdapterError::Kind::timeout);
  CHECK(slept->empty());
}

TEST_CASE("a response body over the limit is a protocol error and not retried") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int) { return reply(200, std::string(4096, 'x')); });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  auto options = fast_options(slept);
  options.max_response_bytes = 1024;
  HttpClient client(ioc.get_executor(), options);
  auto result = fetch(ioc, client, get(server.url()));
  REQUIRE_MESSAGE(!result.has_value(), result->status << " " << result->body.size() << " " << result->attempts);
  CHECK(result.error().kind == AdapterError::Kind::protocol);
  CHECK(result.error().message.find("1024") != std::string::npos);
  CHECK(server.requests() == 1);
}

TEST_CASE("a chunked response body over the limit is rejected too") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int) {
    auto r = reply(200, std::string(4096, 'y'));
    r.chunked = true;
    return r;
  });
  auto options = fast_options(std::make_shared<std::vector<std::chrono::milliseconds>>());
  options.max_response_bytes = 1024;
  HttpClient client(ioc.get_executor(), options);
  auto result = fetch(ioc, client, get(server.url()));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == AdapterError::Kind::protocol);
  options.max_response_bytes = 8192;
  HttpClient roomy(ioc.get_executor(), options);
  auto fits = fetch(ioc, roomy, get(server.url()));
  REQUIRE(fits.has_value());
  CHECK(fits->body.size() == 4096);
}

TEST_CASE("a dropped connection is retried for a GET") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int i) {
    Reply r;
    r.drop = i == 0;
    return r;
  });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  HttpClient client(ioc.get_executor(), fast_options(slept));
  auto result = fetch(ioc, client, get(server.url()));
  REQUIRE(result.has_value());
  CHECK(result->status == 200);
  CHECK(result->attempts == 2);
}

TEST_CASE("response header names are lower-cased and repeated headers joined") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int) {
    return reply(200, "{}", {{"X-RateLimit-Remaining", "41"}, {"Vary", "a"}, {"Vary", "b"}});
  });
  HttpClient client(ioc.get_executor(), fast_options(std::make_shared<std::vector<std::chrono::milliseconds>>()));
  auto result = fetch(ioc, client, get(server.url("127.0.0.1", "/q?x=1")));
  REQUIRE(result.has_value());
  CHECK(result->headers.at("x-ratelimit-remaining") == "41");
  CHECK(result->headers.at("vary") == "a, b");
  CHECK(server.last_request().target() == "/q?x=1");
  CHECK(server.last_request()[http::field::host] == "127.0.0.1:" + std::to_string(server.port()));
}

TEST_CASE("invalid URLs are rejected without a request") {
  asio::io_context ioc;
  HttpClient client(ioc.get_executor(), fast_options(std::make_shared<std::vector<std::chrono::milliseconds>>()));
  for (const auto* url : {"ftp://x/", "http://", "http://host:99999/", "http://user@host/", "not a url",
                          "http://ho st/", "http://[::1/"}) {
    auto result = fetch(ioc, client, get(url));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().kind == AdapterError::Kind::protocol);
  }
}

TEST_CASE("backoff grows exponentially up to the cap, with jitter in the upper half") {
  promoter::adapters::RetryPolicy policy;
  policy.base_backoff = 100ms;
  policy.max_backoff = 1s;
  CHECK(promoter::adapters::backoff_delay(policy, 1, 0.0) == 50ms);
  CHECK(promoter::adapters::backoff_delay(policy, 1, 1.0) == 100ms);
  CHECK(promoter::adapters::backoff_delay(policy, 3, 1.0) == 400ms);
  CHECK(promoter::adapters::backoff_delay(policy, 10, 1.0) == 1s);
  CHECK(promoter::adapters::backoff_delay(policy, 60, 0.0) == 500ms);
  CHECK(promoter::adapters::parse_retry_after("7") == std::chrono::seconds{7});
  CHECK(promoter::adapters::parse_retry_after(" 0 ") == std::chrono::seconds{0});
  CHECK_FALSE(promoter::adapters::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  CHECK_FALSE(promoter::adapters::parse_retry_after("-3").has_value());
  CHECK_FALSE(promoter::adapters::parse_retry_after("").has_value());
}

TEST_CASE("TLS: the server is trusted through the given CA file, by name and by IP address") {
  const auto& files = tls_files();
  asio::io_context ioc;
  TestServer server(ioc, ok, server_tls(files.good_cert, files.good_key));
  auto options = fast_options(std::make_shared<std::vector<std::chrono::milliseconds>>());
  options.ca_file = files.ca.string();
  HttpClient client(ioc.get_executor(), options);
  auto by_name = fetch(ioc, client, get(server.url("localhost")));
  REQUIRE_MESSAGE(by_name.has_value(), by_name.error().message);
  CHECK(by_name->status == 200);
  CHECK(by_name->body == "ok");
  auto by_ip = fetch(ioc, client, get(server.url("127.0.0.1")));
  REQUIRE_MESSAGE(by_ip.has_value(), by_ip.error().message);
  CHECK(by_ip->status == 200);
}

TEST_CASE("TLS: without the CA the certificate is rejected, and not retried") {
  const auto& files = tls_files();
  asio::io_context ioc;
  TestServer server(ioc, ok, server_tls(files.good_cert, files.good_key));
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  HttpClient client(ioc.get_executor(), fast_options(slept));  // system trust store only
  auto result = fetch(ioc, client, get(server.url("localhost")));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().kind == AdapterError::Kind::transport);
  CHECK(result.error().message.find("verification failed") != std::string::npos);
  CHECK(slept->empty());
  CHECK(server.requests() == 0);
}

TEST_CASE("TLS: a certificate for another name fails host-name verification") {
  const auto& files = tls_files();
  asio::io_context ioc;
  TestServer server(ioc, ok, server_tls(files.other_cert, files.other_key));
  auto options = fast_options(std::make_shared<std::vector<std::chrono::milliseconds>>());
  options.ca_file = files.ca.string();
  HttpClient client(ioc.get_executor(), options);
  auto by_name = fetch(ioc, client, get(server.url("localhost")));
  REQUIRE_FALSE(by_name.has_value());
  CHECK(by_name.error().kind == AdapterError::Kind::transport);
  CHECK(by_name.error().message.find("mismatch") != std::string::npos);
  auto by_ip = fetch(ioc, client, get(server.url("127.0.0.1")));
  REQUIRE_FALSE(by_ip.has_value());
  CHECK(by_ip.error().message.find("mismatch") != std::string::npos);
  CHECK(server.requests() == 0);
}

TEST_CASE("TLS: an unreadable CA file fails every https request with a message naming it") {
  asio::io_context ioc;
  auto options = fast_options(std::make_shared<std::vector<std::chrono::milliseconds>>());
  options.ca_file = "/nonexistent/promoter-ca.pem";
  HttpClient client(ioc.get_executor(), options);
  auto result = fetch(ioc, client, get("https://127.0.0.1:1/"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message.find("/nonexistent/promoter-ca.pem") != std::string::npos);
}

TEST_CASE("the observer hears every attempt with its operation, status and attempt number") {
  asio::io_context ioc;
  TestServer server(ioc, [](const auto&, int i) { return i < 1 ? reply(502, "boom") : reply(200, "fine"); });
  auto slept = std::make_shared<std::vector<std::chrono::milliseconds>>();
  auto options = fast_options(slept);
  struct Heard {
    std::string operation;
    int status;
    int attempt;
    double seconds;
  };
  auto heard = std::make_shared<std::vector<Heard>>();
  options.observer = [heard](const promoter::adapters::HttpAttempt& a) {
    heard->push_back({std::string(a.operation), a.status, a.attempt, a.seconds});
  };
  HttpClient client(ioc.get_executor(), options);
  auto spec = get(server.url());
  spec.operation = "machines.list";
  auto result = fetch(ioc, client, spec);
  REQUIRE(result.has_value());
  REQUIRE(heard->size() == static_cast<std::size_t>(result->attempts));
  CHECK((*heard)[0].operation == "machines.list");
  CHECK((*heard)[0].status == 502);
  CHECK((*heard)[0].attempt == 1);
  CHECK((*heard)[1].status == 200);
  CHECK((*heard)[1].attempt == 2);
  for (const auto& h : *heard) CHECK(h.seconds >= 0);

  // A request without an operation is "other"; a refused connection reports status 0.
  heard->clear();
  HttpRequestSpec refused;
  refused.url = "http://127.0.0.1:" + std::to_string(unused_port(ioc)) + "/";
  auto failed = fetch(ioc, client, refused);
  REQUIRE_FALSE(failed.has_value());
  REQUIRE(heard->size() == static_cast<std::size_t>(client.options().retry.max_attempts));
  for (const auto& h : *heard) {
    CHECK(h.operation == "other");
    CHECK(h.status == 0);
  }
  CHECK(heard->back().attempt == client.options().retry.max_attempts);
}
